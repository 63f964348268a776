"""Benchmark: MQTT telemetry -> live values in Neo4j, against one statement per message.

A local Mosquitto (``devkit.broker.LocalBroker``, its own temporary folder and free port),
the ingestion worker (``ingest.worker.IngestWorker``) in this process, and a publisher in a
child process (``bench/mqtt_flood.py``: raw-socket MQTT 3.1.1, QoS 1, PUBLISH packets
encoded a tick at a time, every PUBACK checked) so that publishing neither costs the
worker its GIL nor becomes the bottleneck. Values are in range, on the double points of
the example site (``dc1``) and of the synthetic 100k-asset site (one power point per
rack), round robin; each payload's ``ts`` is its send time. Per site, each phase with a
fresh worker (its own client id, its session discarded after) and the points' live
values cleared first (so no worker starts by marking thousands of old points stale):

- **sustained**: ``--messages`` messages, the publisher kept at most ``--max-ahead``
  messages ahead of the worker's outcomes (as fast as it keeps up; or ``--rate``).
  Throughput = messages with an outcome / (last outcome - first publish). Zero loss =
  every PUBACK arrived, applied + outdated = published (outdated: superseded within a
  batch, by design), nothing dead-lettered, and every point holds the value and time of
  the last message published to it. ``--repeat`` runs (3), each with its own worker: the
  machine's noise moves one run by 10-20%, so the goal takes their median.
- **freshness**: ``--fresh-rate`` messages/s for ``--fresh-seconds``; freshness = the
  worker's listener call right after the commit - the message's ``ts``, per point
  written (P50/P95/P99).
- **baseline**: a paho subscriber (QoS 1, manual ack) that decodes and checks each
  message exactly as the worker does, then runs one auto-commit Cypher statement per
  message (same newer-than guard) and acknowledges after it; ``--baseline-messages`` of
  them (as many as a sustained run by default: its rate grows as Neo4j compiles its
  statement, 507 msgs/s over 2,000 messages, 675 over 20,000 and 780 over 100,000 here),
  published at once. Same broker, same Neo4j, same run.

Each phase starts with a small unmeasured warm-up, and each site with a warm-up of both
kinds of writes (a freshly started Neo4j needs its JIT). CPU seconds of the benchmark
process (worker), the publisher, Mosquitto and Neo4j are printed per phase, with the
machine's busy time: other work on a shared machine shows up there.

Mosquitto's limits matter (``devkit/broker/config.py`` raises them on purpose). With its
defaults a subscriber may have 20 QoS 1 messages in flight and 1,000 more queued; past
that the broker drops what it should deliver, silently (the publisher already has its
PUBACK), and QoS 0 messages to a slow subscriber are dropped the same way. A worker that
acknowledges only after its write commits would then write batches of at most 20 and lose
any burst queued beyond 1,000: the zero-loss check here would fail. The local broker
allows 10,000 in flight and 1,000,000 queued per client (hence the bound on
``--messages``); the publisher's own window is 10,000 unacknowledged messages.

    .venv/bin/python bench/ingest.py [--messages 100000] [--repeat 3] [--fresh-rate 5000]
        [--fresh-seconds 10] [--baseline-messages N] [--sites dc1,synthetic]

Neo4j: NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server started for
the run on free ports (and stopped after). The sites are loaded with the sync, a no-op
when they are there already. Live values of the points are overwritten.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import LiteralString

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402
from neo4j import Driver, Session  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from prometheus_client import CollectorRegistry, Counter, Histogram  # noqa: E402

from bench.cpu import CpuMeter  # noqa: E402
from bench.mqtt_flood import Flood, FloodError, FloodJob, FloodResult, clear_session  # noqa: E402
from bench.neo4j_server import neo4j_pid, neo4j_server  # noqa: E402
from bench.synthetic import write_site  # noqa: E402
from kgtwin.devkit.broker import LocalBroker, install_mosquitto  # noqa: E402
from kgtwin.devkit.launcher import free_ports  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402
from kgtwin.graph.live import LiveValue, read_points, write_live_values  # noqa: E402
from kgtwin.graph.reader import Reader  # noqa: E402
from kgtwin.ingest.address import BrokerAddress, configure  # noqa: E402
from kgtwin.ingest.errors import Rejected  # noqa: E402
from kgtwin.ingest.events import FailureChange, PointUpdate, StalenessChange  # noqa: E402
from kgtwin.ingest.messages import observations  # noqa: E402
from kgtwin.ingest.metrics import IngestMetrics  # noqa: E402
from kgtwin.ingest.topics import PointTable  # noqa: E402
from kgtwin.ingest.worker import IngestConfig, IngestWorker  # noqa: E402
from kgtwin.ontology.files import default_ontology_files  # noqa: E402
from kgtwin.ontology.units import Units  # noqa: E402
from kgtwin.ontology.validate import Ontology  # noqa: E402
from kgtwin.server.loading import load_model  # noqa: E402

NEO4J_NAME = "neo4j-bench-ingest"
DC1 = REPO / "ontology" / "sites" / "dc1.ttl"
GOAL_RATE = 10_000.0
GOAL_P95_MS = 250.0
GOAL_RATIO = 20.0
WARM_UP = 1_000  # messages before each measured worker phase
BASELINE_WARM_UP = 200  # messages before the measured baseline
NEO4J_WARM_UP = 30  # rounds of both kinds of writes, before the first phase (JIT)
WARM_UP_BATCH = 10_000  # values per warm-up write, taking the site's points in turn
POLL = 0.01  # seconds between looks at the worker's counters
MAX_MESSAGES = 1_000_000  # the local broker queues at most this many per client
OUTCOMES = ("applied", "outdated", "deadlettered", "ignored")

POINTS: LiteralString = """
MATCH (p:Point:Twin)
WHERE p.mqttTopic STARTS WITH $prefix AND p.datatype = 'double' AND p.unit IS NOT NULL
  AND p.expectedInterval IS NOT NULL
RETURN p.iri AS iri, p.mqttTopic AS topic, p.minValue AS low, p.maxValue AS high
ORDER BY p.mqttTopic
"""

CLEAR_LIVE: LiteralString = """
MATCH (p:Point:Twin) WHERE p.observedAt IS NOT NULL OR p.stale IS NOT NULL
CALL (p) { REMOVE p.value, p.observedAt, p.receivedAt, p.quality, p.stale }
IN TRANSACTIONS OF 10000 ROWS
"""

STORED: LiteralString = """
UNWIND $iris AS iri
MATCH (p:Twin {iri: iri})
RETURN p.iri AS iri, p.value AS value, p.observedAt.epochMillis AS ms
"""

# The baseline: the worker's statement (graph/live.py APPLY) for one message, auto-commit.
BASELINE: LiteralString = """
MATCH (p:Twin {iri: $iri})
WITH p, datetime.fromepochmillis($observedAt) AS observed
WHERE p.observedAt IS NULL OR p.observedAt < observed
SET p.value = $value, p.observedAt = observed,
    p.receivedAt = datetime.fromepochmillis($receivedAt), p.quality = $quality,
    p.stale = false
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the sites


@dataclass(frozen=True, slots=True)
class Point:
    iri: str
    topic: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    points: tuple[Point, ...]

    def values(self, count: int) -> list[bytes]:
        """``count`` in-range values; message ``i`` goes to ``points[i % len(points)]``.
        Successive values of one point differ (unless there are 10007k points)."""
        points, n = self.points, len(self.points)
        out = []
        for i in range(count):
            p = points[i % n]
            fraction = ((i * 7919) % 10007 + 0.5) / 10008
            out.append(f"{p.low + (p.high - p.low) * fraction:.3f}".encode())
        return out


def load_sites(
    driver: Driver,
    names: Sequence[str],
    assets: int,
    relationships: int,
    *,
    ups_status: bool = False,
) -> None:
    """Sync each site of ``names`` (dc1, or the synthetic site of that size, with a fault
    point per UPS when ``ups_status``); a no-op for a site there already."""
    ontology = Ontology.load(default_ontology_files())
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name == "dc1":
                files = [DC1]
            else:
                path = Path(tmp) / "synthetic.ttl"
                size = write_site(path, assets, relationships, ups_status=ups_status)
                log(f"generated the synthetic site: {size.assets:,} assets, {size.nodes:,} nodes")
                files = [path]
            log(f"validating and loading {name} (a no-op when it is there already) ...")
            started = time.perf_counter()
            result = load_model(driver, files, name, ontology)
            if not result.report.ok:
                for problem in result.report.problems[:10]:
                    log(problem.render())
                raise SystemExit(f"the {name} site does not validate")
            log(
                f"  validated in {result.validate_seconds:.1f} s, synced in "
                f"{time.perf_counter() - started - result.validate_seconds:.1f} s"
            )


def read_site(driver: Driver, name: str) -> Site:
    records, _, _ = driver.execute_query(POINTS, prefix=f"{name}/")
    points = tuple(Point(r["iri"], r["topic"], *_range(r["low"], r["high"])) for r in records)
    if not points:
        raise SystemExit(f"site {name} has no double points with an MQTT topic")
    return Site(name, points)


def _range(low: float | None, high: float | None) -> tuple[float, float]:
    """Where to draw values: the point's range, 100 wide on an open side."""
    if low is not None and high is not None:
        return float(low), float(high)
    if low is not None:
        return float(low), float(low) + 100.0
    if high is not None:
        return float(high) - 100.0, float(high)
    return 0.0, 100.0


def warm_up_neo4j(driver: Driver, site: Site) -> None:
    """Run both kinds of writes a while, over every point in turn: a freshly started
    Neo4j's first statements cost several times what they cost once its JIT has compiled
    them and its page cache holds the points."""
    iris = [p.iri for p in site.points]
    size = min(WARM_UP_BATCH, len(iris))
    with driver.session() as session:
        for i in range(NEO4J_WARM_UP):
            now = round(time.time() * 1000)
            chunk = [iris[(i * size + k) % len(iris)] for k in range(size)]
            write_live_values(driver, [LiveValue(iri, 0.0, now, now, "good") for iri in chunk])
            for iri in chunk[:10]:
                session.run(
                    BASELINE,
                    iri=iri,
                    value=1.0,
                    observedAt=now + i + 1,
                    receivedAt=now,
                    quality="good",
                ).consume()


def clear_live_values(driver: Driver) -> None:
    with driver.session() as session:
        session.run(CLEAR_LIVE).consume()


# ------------------------------------------------------------------------ the parties


class Bench:
    """What every phase shares: the broker, the driver and the options."""

    def __init__(
        self,
        broker: LocalBroker,
        driver: Driver,
        args: argparse.Namespace,
        neo4j_pid: int | None,
    ) -> None:
        self.broker = broker
        self.address: BrokerAddress = broker.address
        self.driver = driver
        self.args = args
        self.pids = {"mosquitto": broker.pid, "neo4j": neo4j_pid}
        self.units = Units.read(default_ontology_files())  # as `kgtwin ingest` reads them

    def flood(
        self,
        site: Site,
        values: list[bytes],
        *,
        rate: float,
        gate: Callable[[], int] | None = None,
    ) -> FloodResult:
        """Publish ``values`` round robin over ``site``'s points from a child process;
        ``gate`` (asked every POLL s) bounds how many may be published so far."""
        job = FloodJob(
            host=self.address.host,
            port=self.address.port,
            client_id=f"bench-flood-{uuid.uuid4().hex[:8]}",
            topics=[p.topic for p in site.points],
            values=values,
            rate=rate,
            gated=gate is not None,
            username=self.address.username,
            password=self.address.password,
        )
        with Flood(job, REPO) as flood:
            while flood.running():
                if gate is not None:
                    with contextlib.suppress(OSError):  # it may have just finished
                        flood.allow(gate())
                time.sleep(POLL)
            try:
                result = flood.result()
            except FloodError as exc:
                raise SystemExit(f"publishing failed: {exc}") from exc
        if result.error is not None:
            raise SystemExit(f"publishing failed: {result.error}")
        return result


class Freshness:
    """A :class:`ingest.events.LiveListener`: per point written, (observed time, commit
    time - observed time); the worker calls it right after each commit."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []

    def points_updated(self, updates: Sequence[PointUpdate]) -> None:
        now = time.time()
        self.samples.extend((u.observed_at, now - u.observed_at) for u in updates)

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None:
        pass

    def failures_changed(self, changes: Sequence[FailureChange]) -> None:
        pass

    def since(self, first_ts: float) -> list[float]:
        """The freshness of the values observed at ``first_ts`` or later (one phase's:
        its warm-up was published before)."""
        return [fresh for observed, fresh in self.samples if observed >= first_ts]


class Running:
    """A worker and its counters."""

    def __init__(self, worker: IngestWorker, metrics: IngestMetrics) -> None:
        self.worker = worker
        self.metrics = metrics

    def outcomes(self) -> dict[str, float]:
        return _by_label(self.metrics.outcomes, "outcome")

    def done(self) -> float:
        return sum(self.outcomes().values())

    def batches(self) -> tuple[float, float]:
        """(batches, messages) written so far."""
        return _histogram(self.metrics.batch_size)

    def writes(self) -> tuple[float, float]:
        """(writes, seconds) so far."""
        return _histogram(self.metrics.write_seconds)


def _by_label(counter: Counter, label: str) -> dict[str, float]:
    out = dict.fromkeys(OUTCOMES, 0.0)
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                out[sample.labels[label]] = sample.value
    return out


def _histogram(histogram: Histogram) -> tuple[float, float]:
    count = total = 0.0
    for family in histogram.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
    return count, total


@contextmanager
def running_worker(bench: Bench, listener: Freshness) -> Iterator[Running]:
    client_id = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    config = IngestConfig(
        bench.address,
        client_id=client_id,
        flush_interval=bench.args.flush_interval,
        max_batch=bench.args.max_batch,
    )
    metrics = IngestMetrics(CollectorRegistry())
    worker = IngestWorker(config, bench.driver, metrics, bench.units, listener)
    worker.start()
    try:
        if not worker.wait_ready(60):
            raise SystemExit("the worker did not subscribe within 60 s")
        yield Running(worker, metrics)
    finally:
        worker.stop()
        # its persistent session would go on queueing every later phase's messages
        try:
            clear_session(
                bench.address.host,
                bench.address.port,
                client_id,
                bench.address.username,
                bench.address.password,
            )
        except (OSError, FloodError) as exc:
            log(f"could not discard the session of {client_id}: {exc}")


# ----------------------------------------------------------------------------- phases


@dataclass(slots=True)
class Phase:
    site: str
    name: str
    messages: int = 0
    rate: float = 0.0  # messages with an outcome per second
    freshness: list[float] = field(default_factory=list)  # seconds
    problems: list[str] = field(default_factory=list)  # zero-loss violations
    notes: list[str] = field(default_factory=list)
    runs: list[float] = field(default_factory=list)  # a median's runs, msgs/s

    def percentile(self, q: int) -> float | None:
        if len(self.freshness) < 100:
            return None
        return statistics.quantiles(self.freshness, n=100)[q - 1] * 1000


def settle(running: Running, base: float, expected: int, timeout: float) -> float:
    """Wait until ``expected`` messages past ``base`` have an outcome; the time the last
    one did (epoch), or raises if they do not within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    seen, last_change = running.done() - base, time.time()
    while seen < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expected - seen:,.0f} of {expected:,} messages have no outcome")
        time.sleep(POLL)
        now = running.done() - base
        if now != seen:
            seen, last_change = now, time.time()
    return last_change


def warm_up(bench: Bench, running: Running, site: Site) -> None:
    result = bench.flood(site, site.values(WARM_UP), rate=0)
    settle(running, 0, result.sent, 60)


def check_outcomes(
    phase: Phase, result: FloodResult, outcomes: dict[str, float], before: dict[str, float]
) -> None:
    delta = {k: outcomes[k] - before[k] for k in OUTCOMES}
    if not result.complete:
        phase.problems.append(
            f"{result.acked:,} PUBACKs for {result.sent:,} messages ({result.bad_acks} bad)"
        )
    if delta["applied"] + delta["outdated"] != result.sent:
        phase.problems.append(
            f"applied {delta['applied']:,.0f} + outdated {delta['outdated']:,.0f} != "
            f"published {result.sent:,}"
        )
    if delta["deadlettered"] or delta["ignored"]:
        phase.problems.append(
            f"{delta['deadlettered']:,.0f} dead-lettered, {delta['ignored']:,.0f} ignored"
        )
    phase.notes.append(
        f"published {result.sent:,}, PUBACKs {result.acked:,}; applied "
        f"{delta['applied']:,.0f} + outdated {delta['outdated']:,.0f}, dead-lettered "
        f"{delta['deadlettered']:,.0f}"
    )


def check_final_state(
    bench: Bench, phase: Phase, site: Site, values: list[bytes], result: FloodResult
) -> None:
    """Every point published to holds its last published value and time."""
    expected: dict[str, tuple[float, int]] = {}
    n = len(site.points)
    for k, point in enumerate(site.points):
        last = ((len(values) - 1 - k) // n) * n + k
        if last < 0 or last >= len(values):
            continue
        expected[point.iri] = (
            float(values[last]),
            round(result.sent_at(last) * 1000),
        )
    records, _, _ = bench.driver.execute_query(STORED, iris=list(expected))
    wrong = 0
    example = ""
    for record in records:
        value, ms = expected[record["iri"]]
        if record["value"] != value or record["ms"] != ms:
            wrong += 1
            example = example or (
                f" (e.g. {record['iri']}: {record['value']} at {record['ms']}, "
                f"expected {value} at {ms})"
            )
    missing = len(expected) - len(records)
    if wrong or missing:
        phase.problems.append(
            f"{wrong + missing:,} of {len(expected):,} points do not hold their last "
            f"published value{example}"
        )
    phase.notes.append(
        f"{len(expected) - wrong - missing:,}/{len(expected):,} points hold their last "
        "published value and time"
    )


def describe_worker(
    running: Running, batches0: tuple[float, float], writes0: tuple[float, float]
) -> str:
    batches, messages = running.batches()
    writes, seconds = running.writes()
    batches -= batches0[0]
    messages -= batches0[1]
    writes -= writes0[0]
    seconds -= writes0[1]
    if batches <= 0:
        return "no batches"
    return (
        f"{batches:,.0f} batches of {messages / batches:,.0f} messages on average; "
        f"{writes:,.0f} writes, {seconds / max(writes, 1) * 1000:.1f} ms each on average"
    )


def sustained(bench: Bench, site: Site, run: int) -> Phase:
    args = bench.args
    name = "sustained" if args.rate == 0 else f"sustained @ {args.rate:,.0f}/s"
    phase = Phase(site.name, f"{name} {run}/{args.repeat}")
    clear_live_values(bench.driver)
    listener = Freshness()
    values = site.values(args.messages)
    with running_worker(bench, listener) as running:
        warm_up(bench, running, site)
        base = running.done()
        before = running.outcomes()
        batches0, writes0 = running.batches(), running.writes()
        log(f"{site.name}: sustained {run}/{args.repeat}, {args.messages:,} messages ...")
        meter = CpuMeter(dict(bench.pids))
        meter.start()
        gate = (lambda: int(running.done() - base) + args.max_ahead) if args.rate == 0 else None
        result = bench.flood(site, values, rate=args.rate, gate=gate)
        try:
            finished = settle(running, base, result.sent, max(60.0, result.sent / 500))
        except TimeoutError as exc:
            phase.problems.append(str(exc))
            finished = time.time()
        meter.stop(result.cpu_seconds)
        phase.messages = result.sent
        phase.rate = (running.done() - base) / (finished - result.first_sent)
        check_outcomes(phase, result, running.outcomes(), before)
        phase.notes.append(describe_worker(running, batches0, writes0))
        phase.notes.append(meter.describe())
    check_final_state(bench, phase, site, values, result)
    return phase


def median_of(runs: Sequence[Phase]) -> Phase:
    """The sustained runs of a site as one phase: the median rate, every run's problems."""
    rates = [run.rate for run in runs]
    name = runs[0].name.rsplit(" ", 1)[0]
    return Phase(
        runs[0].site,
        f"{name}, median",
        messages=sum(run.messages for run in runs),
        rate=statistics.median(rates),
        problems=[problem for run in runs for problem in run.problems],
        notes=[f"runs: {', '.join(f'{rate:,.0f}' for rate in rates)} msgs/s"],
        runs=rates,
    )


def freshness(bench: Bench, site: Site) -> Phase:
    args = bench.args
    phase = Phase(site.name, f"freshness @ {args.fresh_rate:,.0f}/s")
    clear_live_values(bench.driver)
    listener = Freshness()
    count = round(args.fresh_rate * args.fresh_seconds)
    values = site.values(count)
    with running_worker(bench, listener) as running:
        warm_up(bench, running, site)
        base = running.done()
        before = running.outcomes()
        batches0, writes0 = running.batches(), running.writes()
        log(f"{site.name}: freshness, {count:,} messages at {args.fresh_rate:,.0f}/s ...")
        meter = CpuMeter(dict(bench.pids))
        meter.start()
        result = bench.flood(site, values, rate=args.fresh_rate)
        try:
            finished = settle(running, base, result.sent, 60)
        except TimeoutError as exc:
            phase.problems.append(str(exc))
            finished = time.time()
        meter.stop(result.cpu_seconds)
        phase.messages = result.sent
        phase.rate = (running.done() - base) / (finished - result.first_sent)
        # outcomes are counted just before the listener is called: wait for the last call
        applied = running.outcomes()["applied"] - before["applied"]
        deadline = time.monotonic() + 5.0
        while len(listener.since(result.chunk_times[0])) < applied:
            if time.monotonic() > deadline:
                break
            time.sleep(POLL)
        phase.freshness = listener.since(result.chunk_times[0])
        check_outcomes(phase, result, running.outcomes(), before)
        phase.notes.append(
            f"{len(phase.freshness):,} freshness samples, one per value written "
            f"({applied:,.0f} applied)"
        )
        phase.notes.append(describe_worker(running, batches0, writes0))
        phase.notes.append(meter.describe())
    return phase


class BaselineSubscriber:
    """One auto-commit statement per message in paho's callback, then the ack."""

    def __init__(self, bench: Bench, site: Site) -> None:
        self.bench = bench
        self.units = bench.units
        self.table = PointTable.of(read_points(Reader(bench.driver)), self.units)
        self.session: Session = bench.driver.session()
        self.done = 0
        self.rejected = 0
        self.last_done = 0.0
        self.subscribed = threading.Event()
        self.filter = f"{site.name}/#"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-baseline-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
            manual_ack=True,
        )
        configure(self.client, bench.address)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self.subscribed.set()

    def __enter__(self) -> BaselineSubscriber:
        address = self.bench.address
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        self.client.subscribe(self.filter, qos=1)
        if not self.subscribed.wait(30):
            raise SystemExit("the baseline subscriber got no SUBACK in 30 s")
        return self

    def __exit__(self, *_: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.session.close()

    def _on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        received_at = time.time()
        try:
            found = observations(
                msg.topic,
                bytes(msg.payload),
                received_at=received_at,
                table=self.table,
                units=self.units,
                max_future=300.0,
            )
        except Rejected:
            self.rejected += 1
            found = []
        for obs in found:
            self.session.run(
                BASELINE,
                iri=obs.point_iri,
                value=obs.value,
                observedAt=round(obs.observed_at * 1000),
                receivedAt=round(obs.received_at * 1000),
                quality=str(obs.quality),
            ).consume()
        client.ack(msg.mid, msg.qos)
        self.last_done = time.time()
        self.done += 1


def baseline(bench: Bench, site: Site) -> Phase:
    phase = Phase(site.name, "baseline (1 stmt/msg)")
    clear_live_values(bench.driver)
    count = bench.args.baseline_messages
    values = site.values(count)
    with BaselineSubscriber(bench, site) as subscriber:
        warm = bench.flood(site, site.values(BASELINE_WARM_UP), rate=0)
        deadline = time.monotonic() + 60
        while subscriber.done < warm.sent and time.monotonic() < deadline:
            time.sleep(POLL)
        subscriber.done = 0
        log(f"{site.name}: baseline, {count:,} messages ...")
        meter = CpuMeter(dict(bench.pids))
        meter.start()
        result = bench.flood(site, values, rate=0)
        deadline = time.monotonic() + max(120.0, count / 20)
        while subscriber.done < result.sent and time.monotonic() < deadline:
            time.sleep(POLL)
        meter.stop(result.cpu_seconds)
    phase.messages = result.sent
    phase.rate = subscriber.done / (subscriber.last_done - result.first_sent)
    if subscriber.done < result.sent or subscriber.rejected:
        phase.problems.append(
            f"{subscriber.done:,} of {result.sent:,} processed, {subscriber.rejected} rejected"
        )
    phase.notes.append(meter.describe())
    return phase


# ----------------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(phases: list[Phase], args: argparse.Namespace) -> None:
    base = {p.site: p.rate for p in phases if p.name.startswith("baseline")}
    print()
    print(
        f"{'site':<11}{'phase':<24}{'messages':>10}{'msgs/s':>9}{'P50 ms':>8}{'P95 ms':>8}"
        f"{'P99 ms':>8}{'baseline/s':>12}{'ratio':>8}"
    )
    for p in phases:
        baseline_rate = base.get(p.site) if p.name.startswith("sustained") else None
        print(
            f"{p.site:<11}{p.name:<24}{p.messages:>10,}{p.rate:>9,.0f}"
            f"{_ms(p.percentile(50)):>8}{_ms(p.percentile(95)):>8}{_ms(p.percentile(99)):>8}"
            f"{'-' if baseline_rate is None else f'{baseline_rate:,.0f}':>12}"
            f"{'-' if baseline_rate is None else f'{p.rate / baseline_rate:.1f}x':>8}"
        )
    print(
        f"(msgs/s: messages with an outcome / (last outcome - first publish); freshness: "
        f"listener call after the commit - the message's ts; worker flush interval "
        f"{args.flush_interval * 1000:.0f} ms, max batch {args.max_batch:,})"
    )
    for p in phases:
        print(f"{p.site} {p.name}:")
        for line in p.notes + [f"PROBLEM: {problem}" for problem in p.problems]:
            print(f"  {line}")
    for site in dict.fromkeys(p.site for p in phases):
        mine = {p.name.split(" ")[0]: p for p in phases if p.site == site}
        fresh, base_phase = mine.get("freshness"), mine.get("baseline")
        run = next((p for p in phases if p.site == site and p.runs), None)
        if run is not None:
            met = run.rate >= GOAL_RATE and not run.problems
            print(
                f"goal: {site} >= {GOAL_RATE:,.0f} msgs/s sustained with zero loss "
                f"({run.rate:,.0f}/s, {len(run.problems)} problem(s)): "
                f"{'met' if met else 'MISSED'}"
            )
        if fresh is not None:
            p95 = fresh.percentile(95)
            met = p95 is not None and p95 < GOAL_P95_MS and not fresh.problems
            print(
                f"goal: {site} P95 freshness < {GOAL_P95_MS:.0f} ms at {args.fresh_rate:,.0f} "
                f"msgs/s ({_ms(p95)} ms): {'met' if met else 'MISSED'}"
            )
        if run is not None and base_phase is not None:
            speed_up = run.rate / base_phase.rate
            print(
                f"goal: {site} >= {GOAL_RATIO:.0f}x the baseline's throughput "
                f"({speed_up:.1f}x): {'met' if speed_up >= GOAL_RATIO else 'MISSED'}"
            )


# ------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options (``argv``, default the command line's)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", default="dc1,synthetic", help="comma-separated: dc1, synthetic")
    parser.add_argument("--messages", type=int, default=100_000, help="sustained phase, per site")
    parser.add_argument("--rate", type=float, default=0.0, help="sustained rate; 0 = keep up")
    parser.add_argument(
        "--repeat", type=int, default=3, help="sustained runs per site; the goal takes the median"
    )
    parser.add_argument("--max-ahead", type=int, default=20_000, help="publisher's lead")
    parser.add_argument("--fresh-rate", type=float, default=5_000.0)
    parser.add_argument("--fresh-seconds", type=float, default=10.0)
    parser.add_argument(
        "--baseline-messages",
        type=int,
        help="messages the one-statement-per-message baseline applies (default: --messages)",
    )
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    defaults = IngestConfig(BrokerAddress("localhost", 1883))
    parser.add_argument("--flush-interval", type=float, default=defaults.flush_interval)
    parser.add_argument("--max-batch", type=int, default=defaults.max_batch)
    args = parser.parse_args(argv)
    sites = args.sites.split(",")
    if not sites or any(s not in ("dc1", "synthetic") for s in sites):
        parser.error("--sites: dc1 and/or synthetic")
    args.sites = sites
    if not 1_000 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--messages: 1,000 to {MAX_MESSAGES:,}")
    if not 0 <= args.rate <= 200_000 or not 100 <= args.fresh_rate <= 50_000:
        parser.error("--rate: 0 to 200,000; --fresh-rate: 100 to 50,000")
    if not 1 <= args.fresh_seconds <= 120 or args.fresh_rate * args.fresh_seconds > MAX_MESSAGES:
        parser.error("--fresh-seconds: 1 to 120")
    if args.baseline_messages is None:
        args.baseline_messages = args.messages
    if not 100 <= args.baseline_messages <= MAX_MESSAGES:
        parser.error(f"--baseline-messages: 100 to {MAX_MESSAGES:,}")
    if not 1_000 <= args.max_ahead <= 200_000:
        parser.error("--max-ahead: 1,000 to 200,000")
    if not 1 <= args.repeat <= 9:
        parser.error("--repeat: 1 to 9")
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    log(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    install_mosquitto()
    phases: list[Phase] = []
    with (
        tempfile.TemporaryDirectory(prefix="kgtwin-bench-mqtt-") as broker_dir,
        neo4j_server(NEO4J_NAME, heap="2g", pagecache="1g") as (uri, user, password),
    ):
        driver = open_driver(uri, user, password)
        try:
            load_sites(driver, args.sites, args.assets, args.relationships)
            (port,) = free_ports(1)
            with LocalBroker(Path(broker_dir), port) as broker:
                bench = Bench(broker, driver, args, neo4j_pid(NEO4J_NAME))
                for name in args.sites:
                    site = read_site(driver, name)
                    log(f"{name}: {len(site.points):,} double points; warming Neo4j up ...")
                    warm_up_neo4j(driver, site)
                    runs = [sustained(bench, site, k) for k in range(1, args.repeat + 1)]
                    phases += [*runs, median_of(runs)]
                    phases.append(freshness(bench, site))
                    phases.append(baseline(bench, site))
        finally:
            driver.close()
    log(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(phases, args)


if __name__ == "__main__":
    main()
