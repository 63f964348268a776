"""The telemetry simulator's publishing loop: ``kgtwin simulate-telemetry``, and the demo's
simulator thread (:class:`TelemetrySimulator`, or :func:`run_simulator`).

It reads the loaded site from Neo4j once, at start (the points with their topics, the
dependency snapshot as the server builds it, the assets' locations), computes every
point's value with :class:`devkit.telemetry.SiteTelemetry` (pure), encodes it with
:func:`ingest.encoding.encode` and publishes it over MQTT at QoS 1. It is development
tooling, so it lives in ``devkit``, which may import every core package (the values follow
``simulation``'s dependency snapshot, the payloads ``ingest``'s formats); the core never
imports it.

Pace: each point reports every ``expected_interval / speed`` seconds (its first report
within its first period, and at most a second after the start in ``speed`` mode, so the
live state fills at once); ``rate`` instead sets the speed that makes the messages per
second of all the points together equal to it. The simulated clock runs ``speed`` times
as fast as the wall clock (the daily IT load cycle too); payloads carry wall-clock times.
Formats go round (bare, JSON, SenML) or are fixed; a share of the JSON and SenML numbers
is sent in another unit of the same kind (watts for a kW point, °F or K for a °C one) to
exercise ingestion's conversion, chosen by a generator seeded with ``seed``. At most
``window`` messages await the broker's acknowledgement: while the broker is away the loop
waits, and paho sends what it holds once it is back.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kgtwin.devkit.telemetry import Sample, SiteTelemetry
from kgtwin.graph.dependencies import read_edges
from kgtwin.graph.live import PointRow, read_points
from kgtwin.graph.reader import Reader
from kgtwin.ingest.address import BrokerAddress, configure
from kgtwin.ingest.encoding import Encoding, Spelling, alternate, encode
from kgtwin.ingest.raw import Quality
from kgtwin.ontology.namespaces import KGT
from kgtwin.ontology.vocabulary import local_name, relationship_type
from kgtwin.server.graph_cache import GraphCache
from kgtwin.simulation.snapshot import Snapshot

logger = logging.getLogger(__name__)

SIMULATOR_CLIENT_ID = "kgtwin-simulator"
DEFAULT_INTERVAL = 10.0  # seconds between reports of a point without kgt:expectedInterval
LOCATED_IN = relationship_type(local_name(str(KGT.locatedIn)))
ROUND = (Encoding.BARE, Encoding.JSON, Encoding.SENML)

Say = Callable[[str], None]


class Format(StrEnum):
    """Which payload formats to publish."""

    MIXED = "mixed"  # bare, JSON and SenML in turn
    BARE = "bare"
    JSON = "json"
    SENML = "senml"


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """How to publish. ``rate`` (messages/s over all points), when given, sets the speed."""

    speed: float = 1.0
    rate: float | None = None
    faults: tuple[str, ...] = ()  # assets (ids or IRIs) reported failed
    fault_after: float = 0.0  # seconds after the start the faults begin (0: from the start)
    format: Format = Format.MIXED
    duration: float | None = None  # seconds; None: until stopped
    seed: int = 0
    client_id: str = SIMULATOR_CLIENT_ID
    other_units: float = 0.2  # share of JSON and SenML numbers sent in another unit
    progress_every: float = 10.0  # seconds between progress lines
    window: int = 1000  # messages published and not yet acknowledged, at most

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be above 0, got {self.speed}")
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate must be above 0 messages/s, got {self.rate}")
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration must be above 0 s, got {self.duration}")
        if not 0.0 <= self.other_units <= 1.0:
            raise ValueError(f"other_units must be between 0 and 1, got {self.other_units}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        if not self.fault_after >= 0:
            raise ValueError(f"fault_after must be 0 s or more, got {self.fault_after}")


@dataclass(frozen=True, slots=True)
class Site:
    """What the simulator reads from Neo4j."""

    points: list[PointRow]
    snapshot: Snapshot
    locations: dict[str, str]  # asset IRI -> location IRI (kgt:locatedIn, or what means it)


def read_site(reader: Reader) -> Site:
    """The points, the dependency snapshot (as :class:`server.graph_cache.GraphCache`
    builds it) and the locations. Raises ``GraphError``."""
    points = read_points(reader)
    cache = GraphCache()
    cache.refresh(reader)
    assert cache.current is not None  # refresh always builds the first time
    locations: dict[str, str] = {}
    located_in = cache.current.terms.types_meaning(LOCATED_IN)  # brick:hasLocation too
    if located_in:
        edges = read_edges(reader, located_in)
        locations = {source: target for source, target, _type in edges.named()}
    return Site(points, cache.current.snapshot, locations)


class TelemetrySimulator:
    """:meth:`start` reads the site and starts publishing in a thread; :meth:`stop` ends it.
    ``say`` receives the start, progress and stop lines (default: logged)."""

    def __init__(
        self,
        address: BrokerAddress,
        reader: Reader,
        options: SimulatorOptions | None = None,
        *,
        say: Say = logger.info,
    ) -> None:
        self.address = address
        self.reader = reader
        self.options = options or SimulatorOptions()
        self.say = say
        self.telemetry: SiteTelemetry | None = None
        self.speed = self.options.speed
        self._periods: list[float] = []
        self._started_wall = 0.0  # when start() was called (epoch s): the plant's clock starts
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._acked = threading.Condition()
        self._published = 0
        self._acknowledged = 0
        self._thread = threading.Thread(target=self._run, name="kgtwin-simulator")
        self.client = self._make_client()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Read the site, check the faults (``UnknownAsset``), connect and publish.
        Raises ``GraphError``, ``UnknownAsset`` and ``NothingToSimulate`` before anything is
        published."""
        site = read_site(self.reader)
        options = self.options
        intervals = [p.expected_interval or DEFAULT_INTERVAL for p in site.points]
        if options.rate is not None and intervals:
            self.speed = options.rate / sum(1.0 / i for i in intervals)
        # the plant's clock runs `speed` times the wall clock's from here: the faults begin
        # fault_after seconds of the wall clock later
        self._started_wall = time.time()
        self.telemetry = SiteTelemetry(
            site.points,
            site.snapshot,
            site.locations,
            options.faults,
            options.seed,
            faults_from=(
                self._started_wall + options.fault_after * self.speed
                if options.fault_after
                else None
            ),
        )
        self._periods = [
            (p.expected_interval or DEFAULT_INTERVAL) / self.speed for p in self.telemetry.points
        ]
        self.say(self._start_line())
        address = self.address
        self.client.connect_async(address.host, address.port, keepalive=30, clean_start=True)
        self.client.loop_start()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop publishing, give the broker a moment to acknowledge what is in flight,
        and disconnect."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._acked:
            self._acked.wait_for(lambda: self.pending == 0, timeout=min(timeout, 2.0))
        self.client.disconnect()
        self.client.loop_stop()
        if self.telemetry is not None:
            self.say(
                f"stopped: {self._published:,} messages published, "
                f"{self._acknowledged:,} acknowledged by the broker"
            )

    def __enter__(self) -> TelemetrySimulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the duration is over (or the loop ended); True if it is."""
        return self._finished.wait(timeout)

    @property
    def published(self) -> int:
        return self._published

    @property
    def pending(self) -> int:
        """Messages published that the broker has not acknowledged yet."""
        return self._published - self._acknowledged

    @property
    def rate(self) -> float:
        """Messages per second over all points at the chosen speed."""
        return sum(1.0 / p for p in self._periods)

    def _start_line(self) -> str:
        assert self.telemetry is not None
        telemetry, options = self.telemetry, self.options
        topics = len({p.topic for p in telemetry.points})
        line = (
            f"simulating {len(telemetry.points):,} points ({topics:,} topics) to "
            f"{self.address.safe_url} as {options.client_id!r}: {self.rate:,.1f} messages/s "
            f"(speed {self.speed:.3g}); formats {options.format}, "
            f"{options.other_units:.0%} of JSON and SenML numbers in another unit; "
            f"seed {options.seed}"
        )
        if not telemetry.faults:
            return line + "; no faults"
        down = telemetry.impacted
        shown = ", ".join(down[:8]) + (f" and {len(down) - 8} more" if len(down) > 8 else "")
        return (
            line + f"; failed: {', '.join(telemetry.faults)}"
            f" (down with them: {shown or 'nothing else'})"
            + (f", from {options.fault_after:g} s after the start" if options.fault_after else "")
        )

    # ------------------------------------------------------------ network thread

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.options.client_id,
            protocol=mqtt.MQTTv5,
        )
        configure(client, self.address)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("the MQTT broker refused the simulator's connection: %s", reason)
        else:
            logger.info("simulator connected to %s", self.address.safe_url)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not self._stopping.is_set():
            logger.warning("simulator disconnected from the MQTT broker (%s); reconnecting", reason)

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        _reason: ReasonCode,
        _properties: Properties,
    ) -> None:
        with self._acked:
            self._acknowledged += 1
            self._acked.notify_all()

    # ------------------------------------------------------------ publishing thread

    def _run(self) -> None:
        assert self.telemetry is not None
        telemetry, options = self.telemetry, self.options
        started = time.monotonic()
        started_wall = self._started_wall
        end = None if options.duration is None else started + options.duration
        # the first report of each point within its first period (a second at most unless
        # the pace is a fixed rate, which a burst would break)
        spread = [p if options.rate is not None else min(p, 1.0) for p in self._periods]
        rng = random.Random(options.seed)
        queue = [(started + rng.random() * s, i) for i, s in enumerate(spread)]
        heapq.heapify(queue)
        progress = _Progress(started, options.progress_every)
        sent = 0
        while not self._stopping.is_set():
            now = time.monotonic()
            if end is not None and now >= end:
                break
            if queue[0][0] > now:
                wake = min(queue[0][0], now + 0.25, end if end is not None else now + 0.25)
                self._stopping.wait(wake - now)
                self._report(progress, now)
                continue
            due: list[tuple[float, int]] = []
            while queue and queue[0][0] <= now and len(due) < 500:
                due.append(heapq.heappop(queue))
            wall = time.time()
            simulated = started_wall + (wall - started_wall) * self.speed
            samples = telemetry.sample([i for _, i in due], simulated)
            for (at, index), sample in zip(due, samples, strict=True):
                if not self._publish(sample, wall, ROUND[sent % 3], rng):
                    break
                sent += 1
                period = self._periods[index]
                # a report missed (behind by more than a period: a slow broker) is skipped,
                # never made up in a burst
                following = at + period if at + period > now else now + period
                heapq.heappush(queue, (following, index))
            self._report(progress, time.monotonic())
        self._finished.set()

    def _publish(self, sample: Sample, wall: float, turn: Encoding, rng: random.Random) -> bool:
        """Publish one sample (False if stopping while waiting for the window)."""
        with self._acked:
            while self.pending >= self.options.window:
                if self._stopping.is_set():
                    return False
                self._acked.wait(0.1)
        chosen = self.options.format
        encoding = turn if chosen is Format.MIXED else Encoding(chosen.value)
        point = sample.point
        spelling = self._spelling(sample, encoding, rng)
        payload = encode(
            point.topic,
            sample.value,
            unit=point.unit,
            time=wall,
            encoding=encoding,
            quality=Quality(sample.quality),
            spelling=spelling,
        )
        info = self.client.publish(point.topic, payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            logger.warning("cannot publish to %s: %s", point.topic, mqtt.error_string(info.rc))
            return True
        with self._acked:
            self._published += 1
        return True

    def _spelling(self, sample: Sample, encoding: Encoding, rng: random.Random) -> Spelling | None:
        """Another unit for this number, now and then: only well inside the point's range,
        so that the conversion's rounding cannot take it outside."""
        draw = rng.random()  # drawn for every message: the sequence depends on the seed only
        point, value = sample.point, sample.value
        if (
            draw >= self.options.other_units
            or point.datatype != "double"
            or not isinstance(value, float)
            or point.unit is None
        ):
            return None
        low, high = point.min_value, point.max_value
        if low is not None and high is not None:
            margin = 0.01 * (high - low)
            if not low + margin <= value <= high - margin:
                return None
        return alternate(point.unit, encoding)

    def _report(self, progress: _Progress, now: float) -> None:
        line = progress.line(now, self._published, self.pending)
        if line is not None:
            self.say(line)


class _Progress:
    """A progress line every ``every`` seconds: messages published per second."""

    def __init__(self, started: float, every: float) -> None:
        self.every = every
        self.last_time = started
        self.last_count = 0

    def line(self, now: float, published: int, pending: int) -> str | None:
        elapsed = now - self.last_time
        if elapsed < self.every:
            return None
        count = published - self.last_count
        self.last_time, self.last_count = now, published
        return (
            f"published {count:,} messages in {elapsed:.0f} s ({count / elapsed:,.1f}/s); "
            f"{published:,} in all, {pending:,} awaiting the broker's acknowledgement"
        )


def run_simulator(
    address: BrokerAddress,
    reader: Reader,
    options: SimulatorOptions,
    stop: threading.Event,
    *,
    say: Say = logger.info,
) -> int:
    """Publish until ``stop`` is set or the duration is over; the messages published.
    Raises what :meth:`TelemetrySimulator.start` raises."""
    simulator = TelemetrySimulator(address, reader, options, say=say)
    simulator.start()
    try:
        while not stop.is_set() and not simulator.wait(0.2):
            pass
    finally:
        simulator.stop()
    return simulator.published
