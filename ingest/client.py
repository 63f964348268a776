"""paho's MQTT client with a receive path that keeps up with 10,000 messages a second.

:class:`IngestClient` is a :class:`paho.mqtt.client.Client`: connect, subscribe, the
persistent MQTT 5 session, keepalive, reconnect, TLS, publishing and every packet but a
plain QoS 0/1 PUBLISH are paho's own. Only the hot path of a subscriber changes, where
paho 2.2 spends 130-155 µs of CPU a message:

- **Reading** (``_create_socket``, ``loop_read``). paho reads each packet with one
  ``select`` and three ``recv`` calls (its fixed header byte by byte). Here its socket is
  wrapped in a :class:`_ReadAhead` that reads up to 64 KiB at a time and serves paho's
  reads from that buffer. Its ``pending()`` counts the buffered bytes, and paho's loop
  does not wait in ``select`` while a socket has some (as for TLS); and after paho's own
  read, ``loop_read`` hands every complete packet still buffered to paho's dispatch
  (``_packet_handle``). So one ``select`` and one ``recv`` serve hundreds of packets.
- **Decoding a PUBLISH** (``_handle_publish``). For MQTT 5 paho builds and parses a
  ``Properties`` object per message (~30 µs). A QoS 0/1 PUBLISH with no properties (a
  zero property length: the common case) is decoded here with a few slices and gets an
  empty ``Properties`` sharing a template's lookup tables; its ``on_message`` is called
  directly, without paho's per-message topic matching (only needed once
  ``message_callback_add`` was used). QoS 2, properties present, a malformed packet, a
  paho ``logger`` or ``on_log``, filtered callbacks or ``suppress_exceptions`` take
  paho's own path, so what a callback sees and what fails stay paho's.
- **Acknowledging** (:meth:`IngestClient.ack_many`). The PUBACKs of a whole batch are
  queued as one write, in the order given, instead of one queued packet and one ``send``
  each.

The overrides rely on paho internals, read for one release (:data:`PAHO_RELEASES`). On any
other, or with ``paho_receive=True``, they step aside: paho's own receive path and one
``ack`` per message (correct, and slower), after one warning per process for another
release.
"""

from __future__ import annotations

import functools
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_MALFORMED: tuple[type[Exception], ...]  # what paho's decoding raises for a malformed packet
try:
    from paho.mqtt.exception import MalformedPacket

    _MALFORMED = (MalformedPacket,)
except ImportError:  # not in this paho: it takes its own path, which never needs it
    _MALFORMED = ()

logger = logging.getLogger(__name__)

PAHO_RELEASES = ("2.2.0",)
"""The paho-mqtt releases whose internals the receive path here was checked against. A
patch release may change them too (the PUBLISH handling copied here, say), so a release
joins only once its code was read and the tests passed on it."""

_MISSING = object()  # an internal this paho does not have
READ_SIZE = 65536  # bytes asked of the socket per read
PUBACK = 0x40
PUBCOMP = 0x70
_ACK = struct.Struct("!BBH")  # PUBACK or PUBCOMP: type, remaining length 2, packet id


class _ReadAhead:
    """A socket whose reads are served from a buffer filled by one large ``recv``.

    paho's ``SocketLike``, as its own WebSocket wrapper is: ``recv``, ``send``,
    ``fileno``, ``setblocking``, ``close`` and ``pending`` (the bytes buffered here plus,
    for TLS, those the SSL object holds). The wrapped socket's exceptions
    (``BlockingIOError``, ``ssl.SSLWantReadError``, ...) pass through unchanged for paho's
    ``_sock_recv`` to handle.
    """

    __slots__ = ("_buffer", "_pos", "sock")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self._buffer = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        buffer, pos = self._buffer, self._pos
        if pos < len(buffer):
            end = min(pos + bufsize, len(buffer))
            self._pos = end
            return buffer[pos:end]
        data: bytes = self.sock.recv(max(bufsize, READ_SIZE))
        if len(data) <= bufsize:
            return data
        self._buffer, self._pos = data, bufsize
        return data[:bufsize]

    def next_packet(self) -> tuple[int, bytes] | None:
        """The first byte and the body (what follows the remaining length) of the next
        packet if all of it is buffered, consumed; else None, and nothing is consumed."""
        buffer, pos = self._buffer, self._pos
        size = len(buffer)
        length = shift = 0
        at = pos + 1
        while True:
            if at >= size or shift > 21:  # incomplete; or malformed, for paho to find
                return None
            byte = buffer[at]
            at += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
        end = at + length
        if end > size:
            return None
        self._pos = end
        return buffer[pos], buffer[at:end]

    def pending(self) -> int:
        inner: Callable[[], int] | None = getattr(self.sock, "pending", None)
        return len(self._buffer) - self._pos + (inner() if inner is not None else 0)

    def send(self, data: bytes | bytearray) -> int:
        sent: int = self.sock.send(data)
        return sent

    def fileno(self) -> int:
        fileno: int = self.sock.fileno()
        return fileno

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def close(self) -> None:
        self._buffer, self._pos = b"", 0
        self.sock.close()


@functools.cache
def _other_paho(found: str) -> None:
    """Say that paho's own receive path is taken because of the release ``found``: once
    per process (and release)."""
    logger.warning(
        "paho-mqtt %s is installed, and ingest/client.py's faster receive path is only for "
        "paho-mqtt %s: ingestion takes paho's own receive path (correct, and slower). "
        "Install paho-mqtt==%s for the faster path.",
        found,
        " or ".join(PAHO_RELEASES),
        PAHO_RELEASES[-1],
    )


class IngestClient(mqtt.Client):
    """A paho client with a cheap receive path for plain QoS 0/1 PUBLISH packets and
    batched acknowledgements; takes paho's constructor arguments (module docstring)."""

    fast_receive = False
    """Whether the receive path here is in use; else paho's own (set by ``__init__``)."""

    def __init__(self, *args: Any, paho_receive: bool = False, **kwargs: Any) -> None:
        """paho's arguments; ``paho_receive`` takes paho's own receive path, as on a paho
        release other than :data:`PAHO_RELEASES` (where it is taken anyway)."""
        super().__init__(*args, **kwargs)
        found = paho.mqtt.__version__
        if found not in PAHO_RELEASES:
            _other_paho(found)
        self.fast_receive = found in PAHO_RELEASES and not paho_receive
        if self.fast_receive:
            self._empty_properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        self._filtered = False  # whether message_callback_add was ever used

    def loop_start(self) -> MQTTErrorCode:
        """paho's; first closing the socket pair an earlier :meth:`loop_stop` left open
        (paho would overwrite it, and leak two sockets per restart of the loop). Both
        paths; skipped on a paho without these internals."""
        reset = getattr(self, "_reset_sockets", None)
        if getattr(self, "_thread", _MISSING) is None and callable(reset):
            reset(sockpair_only=True)
        return super().loop_start()

    def loop_running(self) -> bool:
        """Whether the network thread of :meth:`loop_start` is alive; True on a paho that
        does not say (no ``_thread``)."""
        thread = getattr(self, "_thread", _MISSING)
        if thread is _MISSING:
            return True
        return isinstance(thread, threading.Thread) and thread.is_alive()

    def message_callback_add(self, sub: str, callback: Any) -> None:
        """paho's; from then on, messages go through paho's topic matching."""
        self._filtered = True
        super().message_callback_add(sub, callback)

    # ------------------------------------------------------------------- reading

    def _create_socket(self, *args: Any, **kwargs: Any) -> Any:
        """paho's socket (plain, TLS or WebSocket) behind a :class:`_ReadAhead`; a new
        one per connection, so a reconnect never sees the old connection's bytes."""
        sock = super()._create_socket(*args, **kwargs)
        return _ReadAhead(sock) if self.fast_receive else sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's read (it fills the buffer), then each complete packet left buffered,
        through paho's ``_packet_handle`` as paho's read would."""
        rc = super().loop_read(max_packets)
        if rc or not self.fast_receive:
            return rc
        if not isinstance(self._sock, _ReadAhead) or self._in_packet["command"] != 0:
            return rc  # no connection, or paho is in the middle of a packet
        reader: _ReadAhead = self._sock
        handled = False
        while (packet := reader.next_packet()) is not None:
            handled = True
            in_packet = self._in_packet
            in_packet["command"] = packet[0]
            in_packet["packet"] = packet[1]  # type: ignore[typeddict-item]  # bytes: read alike
            try:
                rc = self._packet_handle()
            except _MALFORMED:
                rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
            in_packet["command"], in_packet["packet"] = 0, bytearray()
            if rc:
                return self._loop_rc_handle(rc)
            if self._sock is not reader:  # the connection was closed meanwhile
                break
        if handled:
            with self._msgtime_mutex:
                self._last_bytes_received = time.monotonic()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self, *args: Any, **kwargs: Any) -> MQTTErrorCode:
        """A plain QoS 0/1 PUBLISH decoded and delivered here; anything else by paho."""
        if not self.fast_receive:
            return super()._handle_publish(*args, **kwargs)
        header = self._in_packet["command"]
        body = self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        v5 = self._protocol == mqtt.MQTTv5
        if (
            qos > 1
            or len(body) < 2
            or self._filtered
            or self.suppress_exceptions
            or self._logger is not None
            or self._on_log is not None
        ):
            return super()._handle_publish()
        start = 2 + ((body[0] << 8) | body[1])  # after the topic
        pos = start + 2 if qos else start  # after the packet id
        if v5:
            if len(body) <= pos or body[pos] != 0:
                return super()._handle_publish()  # too short, or properties: paho decodes
            pos += 1
        elif len(body) < pos or start == 2:
            return super()._handle_publish()  # too short, or an MQTT 3 empty topic: paho says
        mid = (body[start] << 8) | body[start + 1] if qos else 0
        message = mqtt.MQTTMessage(mid, bytes(body[2:start]))
        message.dup = bool(header & 0x08)
        message.qos = qos
        message.retain = bool(header & 0x01)
        message.properties = self._empty_publish_properties() if v5 else None
        message.payload = bytes(body[pos:])
        message.timestamp = time.monotonic()
        on_message = self._on_message
        if on_message is not None:
            with self._in_callback_mutex:
                on_message(self, self._userdata, message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(message.mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _empty_publish_properties(self) -> Properties:
        """An empty PUBLISH ``Properties`` as paho would build, for a fraction of the cost:
        its lookup tables are the template's (paho only reads them)."""
        properties = object.__new__(Properties)
        properties.__dict__.update(self._empty_properties.__dict__)
        return properties

    # ------------------------------------------------------------ acknowledging

    def ack_many(self, messages: Iterable[tuple[int, int]]) -> MQTTErrorCode:
        """Acknowledge ``(mid, qos)`` pairs in the order given, as one queued write: what
        :meth:`ack` does for each (PUBACK for QoS 1, PUBCOMP for QoS 2, nothing for QoS 0),
        without a queued packet and a ``send`` apiece. Only with ``manual_ack``, as ``ack``.
        On paho's own path, paho's ``ack`` for each, up to the first that fails."""
        if not self.fast_receive:
            for mid, qos in messages:
                rc = self.ack(mid, qos)
                if rc:
                    return rc
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if not self._manual_ack:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        packet = bytearray()
        pack = _ACK.pack
        for mid, qos in messages:
            if qos == 1:
                packet += pack(PUBACK, 2, mid)
            elif qos == 2:
                packet += pack(PUBCOMP, 2, mid)
        if not packet:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        # queued as paho queues one PUBACK (command, mid, qos 1): a plain write to paho
        return self._packet_queue(PUBACK, packet, 0, 1)
