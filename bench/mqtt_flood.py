"""A fast MQTT 3.1.1 QoS 1 publisher for benchmarks: a raw socket, no client library.

paho's Python publish path costs tens of microseconds per message, which on a shared
2-core machine would make the publisher, not the system under test, the bottleneck. Here
the PUBLISH packets of one tick are encoded together and sent with one ``sendall``; a
thread reads the PUBACKs and checks each against the packet ids in flight.

- **Pacing**: every ``TICK`` (10 ms) the sender tops up to ``rate * elapsed`` messages
  (``rate`` 0: as fast as the window allows), and never past ``allowed`` when given: a
  count the caller raises as its consumer keeps up (a closed loop).
- **Window**: at most ``window`` (< 65535) messages without a PUBACK; packet ids are the
  message's sequence number modulo 65535, plus 1, so an id is never reused while in flight.
- **Payloads**: ``{"value": V, "ts": T}`` with ``T`` the epoch time the chunk is sent, in
  milliseconds precision. Message ``i`` goes to ``topics[i % len(topics)]``; a chunk holds
  at most ``len(topics)`` consecutive messages (so no topic twice) and every chunk's ``T``
  is at least 1 ms after the previous one: on each topic, later messages carry strictly
  later times, and the last one published is the one that must end up stored.
- **Verification**: the run waits for every PUBACK; a duplicate or unknown PUBACK id and
  a missing one are reported in :class:`FloodResult`.

Run it in a child process so that publishing does not compete for the benchmark's GIL:
:class:`Flood` spawns ``python -c "from bench.mqtt_flood import main; main()"`` (only the
standard library and ``devkit.broker.probe``'s packet encoding are imported there),
writes it the pickled :class:`FloodJob` and then, for a gated job, each new ``allowed``
count as 8 bytes on its stdin;
:meth:`Flood.result` reads the pickled :class:`FloodResult` from its stdout.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kgtwin.devkit.broker.probe import connect_packet, mqtt_string, remaining_length

TICK = 0.01  # seconds between pacing decisions
MAX_WINDOW = 65_000  # packet ids are 1..65535: fewer than that may be in flight
PING_AFTER = 20.0  # seconds without sending before a PINGREQ (keepalive is 60 s)
KEEPALIVE = 60
ACK_TIMEOUT = 60.0  # seconds to wait for the last PUBACKs

_PUBLISH_QOS1 = 0x32
_PUBACK = 0x40
_PINGREQ = b"\xc0\x00"
_DISCONNECT = b"\xe0\x00"


class FloodError(Exception):
    """The broker refused the connection or closed it."""


@dataclass(frozen=True, slots=True)
class FloodJob:
    """What to publish: message ``i`` is ``values[i]`` on ``topics[i % len(topics)]``."""

    host: str
    port: int
    client_id: str
    topics: list[str]
    values: list[bytes]  # each a JSON number, e.g. b"12.5"
    rate: float = 0.0  # messages per second; 0 = as fast as the window (and gate) allow
    gated: bool = False  # whether the parent sends ``allowed`` counts (closed loop)
    window: int = 10_000  # messages without PUBACK, at most
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.topics:
            raise ValueError("no topics to publish to")
        if not 1 <= self.window <= MAX_WINDOW:
            raise ValueError(f"window must be 1..{MAX_WINDOW}, got {self.window}")
        if self.rate < 0:
            raise ValueError(f"rate must be 0 (unpaced) or more, got {self.rate}")


@dataclass(slots=True)
class FloodResult:
    sent: int = 0
    acked: int = 0
    bad_acks: int = 0  # PUBACKs for an id not in flight (duplicate or unknown)
    first_sent: float = 0.0  # epoch seconds
    last_sent: float = 0.0
    chunk_starts: list[int] = field(default_factory=list)  # first message index of each chunk
    chunk_times: list[float] = field(default_factory=list)  # its "ts"
    cpu_seconds: float | None = None  # of the publishing process
    error: str | None = None

    def sent_at(self, index: int) -> float:
        """The ``ts`` that message ``index`` carried."""
        return self.chunk_times[bisect.bisect_right(self.chunk_starts, index) - 1]

    @property
    def complete(self) -> bool:
        return self.error is None and self.bad_acks == 0 and self.acked == self.sent


def open_connection(
    host: str, port: int, client_id: str, username: str | None, password: str | None
) -> socket.socket:
    """A socket past CONNACK "accepted" (clean session); ``FloodError`` otherwise."""
    sock = socket.create_connection((host, port), timeout=10.0)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(connect_packet(username, password, client_id=client_id, keepalive=KEEPALIVE))
        answer = _read_exactly(sock, 4)
        if answer[:2] != b"\x20\x02" or answer[3] != 0:
            raise FloodError(f"the broker answered the CONNECT with {answer!r}")
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def clear_session(
    host: str,
    port: int,
    client_id: str,
    username: str | None = None,
    password: str | None = None,
) -> None:
    """Discard the broker's session of ``client_id`` (a clean-session CONNECT, then
    DISCONNECT): a persistent session left behind keeps queueing every message that
    matches its subscriptions."""
    sock = open_connection(host, port, client_id, username, password)
    try:
        sock.sendall(_DISCONNECT)
    finally:
        sock.close()


class _Acks:
    """Reads PUBACKs (and anything else the broker sends) on its own thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.in_flight = bytearray(65_536)  # 1 where that packet id awaits its PUBACK
        self.acked = 0
        self.bad = 0
        self.closed: str | None = None
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="flood-acks", daemon=True)

    def _run(self) -> None:
        buffer = b""
        in_flight = self.in_flight
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    self.closed = "the broker closed the connection"
                    break
                buffer += data
                pos, end, acked, bad = 0, len(buffer), 0, 0
                while end - pos >= 2:
                    kind, length, header = buffer[pos], buffer[pos + 1], 2
                    if length & 0x80:  # a remaining length over 127: decode it fully
                        length, header = _decode_length(buffer, pos + 1)
                        if header == 0:
                            break
                    if end - pos < header + length:
                        break
                    if kind == _PUBACK and length == 2:
                        packet_id = (buffer[pos + 2] << 8) | buffer[pos + 3]
                        if in_flight[packet_id]:
                            in_flight[packet_id] = 0
                            acked += 1
                        else:
                            bad += 1
                    pos += header + length
                buffer = buffer[pos:]
                if acked or bad:
                    with self.changed:
                        self.acked += acked
                        self.bad += bad
                        self.changed.notify_all()
        except OSError as exc:
            self.closed = f"reading PUBACKs failed: {exc}"
        with self.changed:
            self.changed.notify_all()


def publish(job: FloodJob, allowed: Callable[[], int] | None = None) -> FloodResult:
    """Publish ``job`` (paced, windowed, gated by ``allowed``) and wait for every PUBACK."""
    result = FloodResult()
    sock = open_connection(job.host, job.port, job.client_id, job.username, job.password)
    acks = _Acks(sock)
    acks.thread.start()
    try:
        _send_all(job, sock, acks, allowed, result)
        deadline = time.monotonic() + ACK_TIMEOUT
        with acks.changed:
            while acks.acked + acks.bad < result.sent and acks.closed is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                acks.changed.wait(left)
        with contextlib.suppress(OSError):
            sock.sendall(_DISCONNECT)
    except (OSError, FloodError) as exc:
        result.error = str(exc)
    finally:
        sock.close()
    result.acked, result.bad_acks = acks.acked, acks.bad
    if result.error is None and acks.closed is not None and result.acked < result.sent:
        result.error = acks.closed
    return result


def _send_all(
    job: FloodJob,
    sock: socket.socket,
    acks: _Acks,
    allowed: Callable[[], int] | None,
    result: FloodResult,
) -> None:
    prefixes = [_topic_prefix(topic) for topic in job.topics]
    n_topics, total, values = len(job.topics), len(job.values), job.values
    in_flight = acks.in_flight
    started = time.monotonic()
    last_ts = 0.0
    last_send = started
    sent = 0
    while sent < total:
        if acks.closed is not None:
            raise FloodError(acks.closed)
        now = time.monotonic()
        due = total if job.rate == 0 else min(total, int((now - started) * job.rate) + 1)
        if allowed is not None:
            due = min(due, allowed())
        due = min(due, acks.acked + acks.bad + job.window)
        if due <= sent:
            if now - last_send > PING_AFTER:
                sock.sendall(_PINGREQ)
                last_send = now
            if job.rate == 0 and allowed is None:
                with acks.changed:  # only the window holds us back: wait for PUBACKs
                    acks.changed.wait(TICK)
            else:
                time.sleep(TICK - (now - started) % TICK)
            continue
        while sent < due:
            count = min(due - sent, n_topics)
            ts_text = f"{max(time.time(), last_ts + 0.001):.3f}"
            last_ts = float(ts_text)
            tail = b',"ts":' + ts_text.encode() + b"}"
            packets = []
            for i in range(sent, sent + count):
                packet_id = i % 65_535 + 1
                in_flight[packet_id] = 1
                payload = b'{"value":' + values[i] + tail
                prefix = prefixes[i % n_topics]
                packets.append(
                    _publish_header(len(prefix) + 2 + len(payload))
                    + prefix
                    + packet_id.to_bytes(2, "big")
                    + payload
                )
            sock.sendall(b"".join(packets))
            if sent == 0:
                result.first_sent = last_ts
            result.chunk_starts.append(sent)
            result.chunk_times.append(last_ts)
            sent += count
            result.sent = sent
        result.last_sent = time.time()
        last_send = time.monotonic()


class _Allowed:
    """The latest ``allowed`` count the parent wrote on stdin (read by a thread)."""

    def __init__(self) -> None:
        self.value = 0
        threading.Thread(target=self._run, name="flood-gate", daemon=True).start()

    def _run(self) -> None:
        while len(data := _read_stdin(8)) == 8:
            self.value = int.from_bytes(data, "big", signed=True)

    def __call__(self) -> int:
        return self.value


def _read_stdin(count: int) -> bytes:
    """``count`` bytes from file descriptor 0, fewer at its end. Unbuffered on purpose: a
    buffered reader would read ahead, and a daemon thread blocked in one aborts the
    interpreter's shutdown."""
    data = b""
    while len(data) < count:
        chunk = os.read(0, count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def main() -> None:
    """Child process entry point: the job (length, then pickle) on stdin, then ``allowed``
    counts; the pickled result on stdout."""
    size = int.from_bytes(_read_stdin(8), "big")
    job: FloodJob = pickle.loads(_read_stdin(size))
    try:
        result = publish(job, _Allowed() if job.gated else None)
    except (OSError, FloodError) as exc:
        result = FloodResult(error=str(exc))
    result.cpu_seconds = time.process_time()
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


class Flood:
    """A publisher child process; use it as a context manager (killed on exit if it runs)."""

    def __init__(self, job: FloodJob, repo: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from bench.mqtt_flood import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=repo,
        )
        self.stdin: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        encoded = pickle.dumps(job)
        self.stdin.write(len(encoded).to_bytes(8, "big") + encoded)
        self.stdin.flush()
        if not job.gated:
            self.stdin.close()
        self._allowed: int | None = None
        self._out = b""
        self._reader = threading.Thread(target=self._read, name="flood-result", daemon=True)
        self._reader.start()  # a result larger than the pipe must not block the child

    def _read(self) -> None:
        stdout: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        self._out = stdout.read()

    def allow(self, count: int) -> None:
        """Let the publisher have published up to ``count`` messages (a gated job)."""
        if count != self._allowed:
            self._allowed = count
            self.stdin.write(count.to_bytes(8, "big", signed=True))
            self.stdin.flush()

    def running(self) -> bool:
        return self.process.poll() is None

    def result(self) -> FloodResult:
        """The result, once the process has exited (``FloodError`` if it gave none)."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        self.process.wait()
        self._reader.join()
        try:
            result: FloodResult = pickle.loads(self._out)
        except (pickle.UnpicklingError, EOFError) as exc:
            raise FloodError(
                f"the publisher exited with code {self.process.returncode} and no result"
            ) from exc
        return result

    def __enter__(self) -> Flood:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(OSError):
            self.stdin.close()
        self.process.wait()
        self._reader.join()


def _topic_prefix(topic: str) -> bytes:
    return mqtt_string(topic.encode())


def _publish_header(remaining: int) -> bytes:
    return bytes((_PUBLISH_QOS1,)) + remaining_length(remaining)


def _decode_length(buffer: bytes, start: int) -> tuple[int, int]:
    """(remaining length, fixed header size) at ``start``; (0, 0) if it is incomplete."""
    length, shift = 0, 0
    for offset in range(4):
        if start + offset >= len(buffer):
            return 0, 0
        byte = buffer[start + offset]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return length, offset + 2
    raise FloodError("malformed remaining length from the broker")


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise FloodError("the broker closed the connection before its CONNACK")
        data += chunk
    return data
