"""Benchmark: the events per second one server sustains to 100 GraphQL subscribers.

A local Mosquitto (``devkit.broker.LocalBroker``), the example site (``dc1``) in Neo4j, a
``kgtwin ingest`` worker and a ``kgtwin serve`` that does not ingest (anonymous read, no
rate limit), each a process of its own so that the server's CPU (``/proc``) is what its
event stream and its subscriptions cost. The subscribers are a child process (this file
run with ``--subscribers N``: asyncio and ``websockets``, graphql-transport-ws), each
connection one ``subscription { pointUpdated { pointId value missed } }`` with no filter,
so each gets every point update the stream carries.

For each rate (``--rates``, messages/s), for 1 subscriber (the baseline) and then for 100:
a fresh subscriber process, a warm-up until every subscriber has had an event, then the
flood publisher (``bench/mqtt_flood.py``) sends ``rate x --seconds`` messages round robin
over dc1's double points; the bench's own MQTT client counts the point updates the stream
carried (``kgtwin/events/dc1/pointsUpdated``). Once the stream and the subscribers are
quiet: per subscriber the events received and the ``missed`` counts. A rate is *kept up
with* when every subscriber received every event the stream carried (missed 0) and the
slowest one had the last of them within ``LAG_LIMIT`` of the bench's MQTT client (an
undelivered backlog shows up there before it is dropped: a feed holds 10,000 events). A
count of subscribers is not tried at higher rates once it failed one.

    .venv/bin/python bench/scale_out_events.py [--rates 100,200,400,800,1600] [--seconds 8]
        [--subscribers-count 100]

``run(...)`` is what ``bench/scale_out.py`` calls; the helpers that start ``kgtwin``
processes are shared with ``bench/scale_out_risk.py``. Neo4j: NEO4J_URI if set, else a
local server started for the run (``bench/neo4j_server.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench.cpu import machine_busy, process_cpu  # noqa: E402
from bench.ingest import Bench, Site, load_sites, log, read_site  # noqa: E402
from kgtwin.devkit.broker import LocalBroker, install_mosquitto  # noqa: E402
from kgtwin.devkit.launcher import free_ports  # noqa: E402
from kgtwin.ingest.address import BrokerAddress, configure  # noqa: E402
from kgtwin.ingest.messages import dead_letter_topic  # noqa: E402
from kgtwin.server.live import FEED_SIZE  # noqa: E402

KGTWIN = Path(sys.executable).with_name("kgtwin")
NEO4J_NAME = "neo4j-bench-scale-out-events"
UPDATES = "subscription { pointUpdated { pointId value missed } }"
LAG_LIMIT = 1.0  # seconds the slowest subscriber may trail the stream and still keep up
QUIET = 1.0  # seconds without a new event on the stream before a step is over
STUCK = 10.0  # seconds without any event anywhere: the subscribers stopped short
DRAIN = 60.0  # seconds a step may take to drain after the last message published
GIVE_UP_LAG = 5.0  # seconds behind: higher rates are not tried for that count
WARM_UP_RATE = 20.0  # messages/s while the subscribers wait for their first event
WAIT = 60.0  # seconds a process has to get ready


# ------------------------------------------------------------------ kgtwin processes


@dataclass
class Kgtwin:
    """A ``kgtwin serve`` or ``kgtwin ingest`` process."""

    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None  # serve's HTTP port

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        seconds = process_cpu(self.pid)
        if seconds is None:
            raise SystemExit(f"{self.log.name}: the process is gone:\n{self.tail()}")
        return seconds

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


def kgtwin_env(neo4j: tuple[str, str, str | None], address: BrokerAddress) -> dict[str, str]:
    uri, user, password = neo4j
    return {
        **os.environ,
        "NEO4J_URI": uri,
        "NEO4J_USER": user,
        "NEO4J_PASSWORD": password or "",
        "KGTWIN_MQTT_URL": address.url,
        "KGTWIN_HISTORY": "false",
        "KGTWIN_ANONYMOUS_READ": "true",
        "KGTWIN_RATE_LIMIT": "0",
    }


@contextmanager
def kgtwin(
    command: Sequence[str], env: Mapping[str, str], folder: Path, name: str
) -> Iterator[Kgtwin]:
    """``kgtwin COMMAND`` (its log in ``folder``), stopped on exit."""
    log_file = folder / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log_file.open("w") as out:
        process = subprocess.Popen(
            [str(KGTWIN), "--log-level", "INFO", *command],
            env=dict(env),
            stdout=out,
            stderr=out,
        )
    port = int(command[command.index("--port") + 1]) if "--port" in command else None
    try:
        yield Kgtwin(process, log_file, port)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def kgtwin_serve(
    neo4j: tuple[str, str, str | None],
    address: BrokerAddress,
    folder: Path,
    *,
    ingest: bool,
    model: str,
    ready_timeout: float = 180.0,
) -> Iterator[Kgtwin]:
    """``kgtwin serve`` (with its ingestion worker when ``ingest``), once its dependency
    snapshot is built, its event stream follows the broker and, with ingestion, the worker
    is subscribed (it dead-letters a probe on ``model/``)."""
    (port,) = free_ports(1)
    command = ["serve", "--port", str(port)]
    if ingest:
        command += ["--ingest", "--client-id", f"bench-serve-{uuid.uuid4().hex[:8]}"]
    with kgtwin(command, kgtwin_env(neo4j, address), folder, "serve") as server:
        started = time.perf_counter()
        wait_ready(server, ready_timeout)
        if ingest:
            probe_worker(address, model, server)
        log(f"kgtwin serve ready in {time.perf_counter() - started:.1f} s")
        yield server


@contextmanager
def kgtwin_ingest(
    neo4j: tuple[str, str, str | None], address: BrokerAddress, folder: Path, model: str
) -> Iterator[Kgtwin]:
    """``kgtwin ingest`` (a client id of its own), once it is subscribed."""
    command = ["ingest", "--client-id", f"bench-ingest-{uuid.uuid4().hex[:8]}"]
    with kgtwin(command, kgtwin_env(neo4j, address), folder, "ingest") as worker:
        probe_worker(address, model, worker)
        yield worker


def wait_ready(server: Kgtwin, timeout: float) -> None:
    """Until /healthz shows the graph cache built and /metrics the event stream connected."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.url, timeout=10) as client:
        while True:
            if server.process.poll() is not None:
                raise SystemExit(f"kgtwin serve exited:\n{server.tail()}")
            try:
                graph = client.get("/healthz").json().get("graph")
                metrics = client.get("/metrics").text
                if graph and "kgtwin_event_stream_connected 1.0" in metrics:
                    return
            except (httpx.TransportError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"kgtwin serve was not ready in {timeout:.0f} s:\n{server.tail()}")
            time.sleep(0.2)


class MqttWatch:
    """A paho client of the bench's own (MQTT 5, clean session): each message on the
    filters handed to :attr:`on_message` with the time it arrived."""

    def __init__(self, address: BrokerAddress, *filters: str) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-watch-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        configure(self.client, address)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        if filters:
            self.client.subscribe([(f, 1) for f in filters])
            if not subscribed.wait(WAIT):
                raise SystemExit("the broker did not confirm the bench's subscription")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.received(msg.topic, bytes(msg.payload), time.time())

    def received(self, topic: str, body: bytes, at: float) -> None:
        """Called on paho's thread for each message; override."""

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(WAIT)
        if not info.is_published():
            raise SystemExit(f"the broker did not take the message on {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def probe_worker(address: BrokerAddress, model: str, process: Kgtwin) -> None:
    """Publish on an unknown ``model/`` topic until its dead letter comes back: the worker
    is then subscribed."""
    probe = f"{model}/bench-probe-{uuid.uuid4().hex[:8]}"
    came = threading.Event()

    class Probe(MqttWatch):
        def received(self, topic: str, body: bytes, at: float) -> None:
            came.set()

    watch = Probe(address, dead_letter_topic(probe))
    try:
        deadline = time.monotonic() + WAIT
        while not came.is_set():
            if process.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the ingestion worker did not subscribe:\n{process.tail()}")
            watch.publish(probe, b"1")
            came.wait(0.3)
    finally:
        watch.close()


# ---------------------------------------------------------------------- subscribers


class Stream(MqttWatch):
    """Counts the point updates the event stream carries, and when the last came."""

    def __init__(self, address: BrokerAddress, model: str) -> None:
        self.carried = 0
        self.last = 0.0
        super().__init__(address, f"kgtwin/events/{model}/pointsUpdated")

    def received(self, topic: str, body: bytes, at: float) -> None:
        self.carried += body.count(b'"pointId"')
        self.last = at


@dataclass(frozen=True, slots=True)
class Counts:
    """Per subscriber, so far: events received, missed, and the time of the last one."""

    got: tuple[int, ...]
    missed: tuple[int, ...]
    last: tuple[float, ...]

    def minus(self, before: Counts) -> Counts:
        return Counts(
            tuple(a - b for a, b in zip(self.got, before.got, strict=True)),
            tuple(a - b for a, b in zip(self.missed, before.missed, strict=True)),
            self.last,
        )


class Subscribers:
    """The child process holding ``count`` subscriptions; ask it for :meth:`counts`."""

    def __init__(self, url: str, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--subscribers", str(count), "--url", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._read()
        if line.get("ready") != count:
            raise SystemExit(f"the subscribers did not start: {line}")

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the subscriber process ended")
        loaded: dict[str, Any] = json.loads(line)
        return loaded

    def counts(self) -> Counts:
        assert self.process.stdin is not None
        self.process.stdin.write("counts\n")
        self.process.stdin.flush()
        d = self._read()
        return Counts(tuple(d["got"]), tuple(d["missed"]), tuple(d["last"]))

    def cpu(self) -> float:
        return process_cpu(self.process.pid) or 0.0

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def subscribers_main(url: str, count: int) -> None:
    """The child: ``count`` connections, one subscription each; answers ``counts`` on
    stdin with a JSON line on stdout; ends when stdin closes."""
    asyncio.run(_subscribers(url, count))


async def _subscribers(url: str, count: int) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    got, missed, last = [0] * count, [0] * count, [0.0] * count

    async def one(k: int, ready: asyncio.Event) -> None:
        protocols = [Subprotocol("graphql-transport-ws")]
        async with connect(url, subprotocols=protocols, max_size=None, max_queue=None) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"not acknowledged: {ack}")
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}
            await ws.send(json.dumps(subscribe))
            ready.set()
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                at = text.find('"missed":')
                if at < 0:  # not an event: an error or complete
                    if '"next"' not in text:
                        print(f"subscriber {k}: {text[:300]}", file=sys.stderr)
                    continue
                got[k] += 1
                end = at + 9
                while text[end].isdigit():
                    end += 1
                missed[k] += int(text[at + 9 : end])
                last[k] = time.time()

    readies = [asyncio.Event() for _ in range(count)]
    tasks = []
    for k in range(count):  # one at a time: the server's accept queue stays short
        tasks.append(asyncio.create_task(one(k, readies[k])))
        await asyncio.wait_for(readies[k].wait(), WAIT)
    print(json.dumps({"ready": count}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        failed = [str(t.exception()) for t in tasks if t.done() and t.exception()]
        print(
            json.dumps({"got": got, "missed": missed, "last": last, "failed": failed}), flush=True
        )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# ---------------------------------------------------------------------------- a step


@dataclass(slots=True)
class Step:
    subscribers: int
    rate: float  # asked for, messages/s
    published: int = 0
    seconds: float = 0.0  # first publish to the last event received by a subscriber
    carried: int = 0  # point updates the stream carried
    got: tuple[int, ...] = ()
    missed: tuple[int, ...] = ()
    lag: float = 0.0  # the slowest subscriber's last event - the stream's last
    cpu: dict[str, float] = field(default_factory=dict)  # server, worker, subscribers, ...
    machine: tuple[float, float] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def every_event(self) -> bool:
        """Every subscriber received every event the stream carried (none missed)."""
        return not self.problems and all(g == self.carried for g in self.got)

    @property
    def complete(self) -> bool:
        """Every event, and the slowest subscriber no more than ``LAG_LIMIT`` behind."""
        return self.every_event and self.lag <= LAG_LIMIT

    @property
    def delivered(self) -> int:
        return sum(self.got)

    @property
    def per_subscriber_rate(self) -> float:
        """Median events/s a subscriber received."""
        return statistics.median(self.got) / self.seconds if self.seconds and self.got else 0.0

    @property
    def total_rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def server_us_per_event(self) -> float:
        return self.cpu.get("server", float("nan")) / self.delivered * 1e6 if self.delivered else 0


def step(
    bench: Bench,
    site: Site,
    server: Kgtwin,
    worker: Kgtwin,
    stream: Stream,
    subscribers: int,
    rate: float,
    seconds: float,
) -> Step:
    result = Step(subscribers, rate)
    subs = Subscribers(server.ws_url, subscribers)
    try:
        _warm_up(bench, site, subs)
        quiet(stream, subs, stream.carried, None, DRAIN)
        before, carried0 = subs.counts(), stream.carried
        pids = {"server": server, "worker": worker}
        cpu0 = {name: p.cpu() for name, p in pids.items()}
        cpu0["subscribers"] = subs.cpu()
        cpu0["mosquitto"] = process_cpu(bench.pids["mosquitto"]) or 0.0
        cpu0["neo4j"] = process_cpu(bench.pids["neo4j"]) or 0.0
        machine0 = machine_busy()
        flood = bench.flood(site, site.values(round(rate * seconds)), rate=rate)
        result.published = flood.sent
        if not flood.complete:
            result.problems.append(f"{flood.acked:,} PUBACKs for {flood.sent:,} messages")
        after = quiet(stream, subs, carried0, before, DRAIN).minus(before)
        cpu1 = {name: p.cpu() for name, p in pids.items()}
        cpu1["subscribers"] = subs.cpu()
        cpu1["mosquitto"] = process_cpu(bench.pids["mosquitto"]) or 0.0
        cpu1["neo4j"] = process_cpu(bench.pids["neo4j"]) or 0.0
        machine1 = machine_busy()
        result.cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
        if flood.cpu_seconds is not None:
            result.cpu["publisher"] = flood.cpu_seconds
        if machine0 is not None and machine1 is not None:
            result.machine = (machine1[0] - machine0[0], machine1[1] - machine0[1])
        result.carried = stream.carried - carried0
        result.got, result.missed = after.got, after.missed
        slowest = max(after.last) if after.last else 0.0  # the last event to arrive
        result.lag = max(0.0, slowest - stream.last)
        result.seconds = max(after.last) - flood.first_sent if after.last else 0.0
        if result.carried < flood.sent * 0.5:
            result.problems.append(
                f"the stream carried {result.carried:,} point updates for {flood.sent:,} messages"
            )
    finally:
        subs.close()
    return result


def _warm_up(bench: Bench, site: Site, subs: Subscribers) -> None:
    """Publish a little until every subscriber has had an event (its feed is open)."""
    deadline = time.monotonic() + WAIT
    while min(subs.counts().got) == 0:
        if time.monotonic() > deadline:
            raise SystemExit("the subscribers had no event in time")
        bench.flood(site, site.values(round(WARM_UP_RATE)), rate=WARM_UP_RATE)


def quiet(
    stream: Stream, subs: Subscribers, carried0: int, before: Counts | None, timeout: float
) -> Counts:
    """Wait until the stream has had nothing for ``QUIET`` seconds and every subscriber
    has had (or been told it missed) each event it carried since ``carried0``, or until
    nothing at all moved for ``STUCK`` seconds; the counts then."""
    deadline = time.monotonic() + timeout
    seen: tuple[int, int] | None = None
    changed = time.monotonic()
    while True:
        time.sleep(0.1)
        counts = subs.counts()
        now = (stream.carried, sum(counts.got) + sum(counts.missed))
        if now != seen:
            seen, changed = now, time.monotonic()
        still = time.monotonic() - changed
        delta = counts if before is None else counts.minus(before)
        carried = stream.carried - carried0
        if still >= QUIET and all(
            g + m >= carried for g, m in zip(delta.got, delta.missed, strict=True)
        ):
            return counts
        if still >= STUCK:
            log(f"the subscribers stopped short ({STUCK:.0f} s without an event)")
            return counts
        if time.monotonic() > deadline:
            log(f"the subscribers did not drain in {timeout:.0f} s")
            return counts


# ---------------------------------------------------------------------- the whole run


def run(
    driver: Any,
    neo4j: tuple[str, str, str | None],
    rates: Sequence[float],
    seconds: float,
    subscribers: int = 100,
    baseline: int = 1,
    neo4j_pid: int | None = None,
) -> list[Step]:
    """The ramp for ``baseline`` and ``subscribers`` subscribers on dc1 (loaded by the
    caller), on a broker and server of its own. The steps, in order."""
    install_mosquitto()
    site = read_site(driver, "dc1")
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-events-") as tmp:
        folder = Path(tmp)
        (port,) = free_ports(1)
        with LocalBroker(folder / "broker", port) as broker:
            bench = Bench(broker, driver, argparse.Namespace(), neo4j_pid)
            address = broker.address
            with (
                kgtwin_ingest(neo4j, address, folder, "dc1") as worker,
                kgtwin_serve(neo4j, address, folder, ingest=False, model="dc1") as server,
            ):
                stream = Stream(address, "dc1")
                try:
                    failed: set[int] = set()
                    for rate in rates:
                        for count in (baseline, subscribers):
                            if count in failed:
                                continue
                            log(f"{count} subscriber(s) at {rate:,.0f} msgs/s ...")
                            s = step(bench, site, server, worker, stream, count, rate, seconds)
                            log(f"  {describe(s)}")
                            steps.append(s)
                            if not s.every_event or s.lag > GIVE_UP_LAG:
                                failed.add(count)
                        if {baseline, subscribers} <= failed:
                            break
                finally:
                    stream.close()
    return steps


def describe(s: Step) -> str:
    missed = sum(s.missed)
    short = sum(1 for g in s.got if g < s.carried)
    return (
        f"published {s.published:,}, carried {s.carried:,}, per subscriber median "
        f"{statistics.median(s.got) if s.got else 0:,.0f} ({short} short, {missed:,} missed), "
        f"lag {s.lag:.2f} s, {s.total_rate:,.0f} events/s delivered, server CPU "
        f"{s.cpu.get('server', 0):.1f} s, subscribers' {s.cpu.get('subscribers', 0):.1f} s"
        + (f"; PROBLEMS: {'; '.join(s.problems)}" if s.problems else "")
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """The highest rate kept up with, per count of subscribers, and its delivery."""

    subscribers: int
    rate: float | None  # messages/s asked for
    step: Step | None


def best(steps: Sequence[Step], subscribers: int, *, lag: bool = True) -> Summary:
    """The highest rate at which ``subscribers`` got every event (within ``LAG_LIMIT``
    when ``lag``)."""
    kept = [
        s for s in steps if s.subscribers == subscribers and (s.complete if lag else s.every_event)
    ]
    top = max(kept, key=lambda s: s.rate, default=None)
    return Summary(subscribers, None if top is None else top.rate, top)


def report(steps: Sequence[Step], subscribers: int = 100, baseline: int = 1) -> list[str]:
    """Print the steps side by side; the summary lines (for the driver's summary)."""
    print()
    print(
        f"{'rate':>6} {'subs':>5} {'published':>9} {'carried':>8} {'ev/s/sub':>9} "
        f"{'delivered/s':>11} {'missed':>7} {'short':>5} {'lag s':>6} {'server CPU s':>12} "
        f"{'µs/event':>8} {'subs CPU s':>10} {'worker CPU s':>12}  kept up"
    )
    for s in steps:
        busy = f" (machine {s.machine[0]:.1f}/{s.machine[1]:.1f})" if s.machine else ""
        print(
            f"{s.rate:>6,.0f} {s.subscribers:>5} {s.published:>9,} {s.carried:>8,} "
            f"{s.per_subscriber_rate:>9,.0f} {s.total_rate:>11,.0f} {sum(s.missed):>7,} "
            f"{sum(1 for g in s.got if g < s.carried):>5} {s.lag:>6.2f} "
            f"{s.cpu.get('server', 0):>12.1f} {s.server_us_per_event():>8.0f} "
            f"{s.cpu.get('subscribers', 0):>10.1f} {s.cpu.get('worker', 0):>12.1f}  "
            f"{'yes' if s.complete else 'NO'}{busy}"
            + (f" {'; '.join(s.problems)}" if s.problems else "")
        )
    lines = []
    tried = max((s.rate for s in steps), default=0.0)
    kept: dict[int, Summary] = {}
    for count in (baseline, subscribers):
        b, any_lag = best(steps, count), best(steps, count, lag=False)
        kept[count] = b
        if b.step is None:
            lines.append(f"events: {count} subscriber(s): no rate tried was kept up with")
        else:
            s = b.step
            top = ">= " if b.rate == tried else ""
            lines.append(
                f"events: {count} subscriber(s) kept up with {top}{s.carried / s.seconds:,.0f} "
                f"events/s (flood {b.rate:,.0f} msgs/s: every event to every subscriber, the "
                f"slowest <= {LAG_LIMIT:.0f} s behind): {s.total_rate:,.0f} events/s delivered "
                f"in total, server {s.server_us_per_event():.0f} µs CPU per delivered event"
            )
        if any_lag.step is not None and any_lag.rate != b.rate:
            s = any_lag.step
            lines.append(
                f"events: {count} subscriber(s), every event but further behind: up to "
                f"{any_lag.rate:,.0f} msgs/s in {s.published / s.rate:.0f} s bursts ({s.lag:.1f} "
                f"s behind; a feed holds {FEED_SIZE:,} events before it drops the oldest)"
            )
    one, many = kept[baseline].step, kept[subscribers].step
    if one is not None and many is not None:
        lines.append(
            f"events: {subscribers} subscribers against {baseline} (the baseline): "
            f"{many.per_subscriber_rate:,.0f} vs {one.per_subscriber_rate:,.0f} events/s per "
            f"subscriber at their best kept-up rate "
            f"({many.per_subscriber_rate / one.per_subscriber_rate:.2f}x), "
            f"{many.total_rate / one.total_rate:.1f}x the events delivered per second, "
            f"{many.server_us_per_event() / one.server_us_per_event():.2f}x the server's CPU per "
            f"delivered event"
        )
    for line in lines:
        print(line)
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25,50,100,200,400,800", help="messages/s, ascending")
    parser.add_argument("--seconds", type=float, default=8.0, help="per step")
    parser.add_argument("--subscribers-count", type=int, default=100)
    parser.add_argument("--subscribers", type=int, help=argparse.SUPPRESS)  # the child
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rates = rates_of(parser, args.rates)
    if not 1 <= args.seconds <= 120 or not 2 <= args.subscribers_count <= 500:
        parser.error("--seconds: 1 to 120; --subscribers-count: 2 to 500")
    return args


def rates_of(parser: argparse.ArgumentParser, text: str) -> list[float]:
    try:
        rates = [float(r) for r in text.split(",")]
    except ValueError:
        parser.error("--rates: comma-separated messages/s")
    if not rates or any(not 1 <= r <= 20_000 for r in rates) or rates != sorted(rates):
        parser.error("--rates: ascending, each 1 to 20,000")
    return rates


def main() -> None:
    args = parse_args()
    if args.subscribers is not None:
        subscribers_main(args.url, args.subscribers)
        return
    from bench.neo4j_server import neo4j_pid, neo4j_server
    from kgtwin.graph.connection import open_driver

    log(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with neo4j_server(NEO4J_NAME, heap="1g", pagecache="512m") as neo4j:
        driver = open_driver(*neo4j)
        try:
            load_sites(driver, ["dc1"], 0, 0)
            steps = run(
                driver,
                neo4j,
                args.rates,
                args.seconds,
                args.subscribers_count,
                neo4j_pid=neo4j_pid(NEO4J_NAME),
            )
        finally:
            driver.close()
    log(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(steps, args.subscribers_count)


if __name__ == "__main__":
    main()
