"""The ingestion worker: MQTT messages in, live values on point nodes out, nothing lost.

Three threads. The network thread of the paho client (:class:`ingest.client.IngestClient`,
paho with a cheaper receive path) runs :meth:`IngestWorker._on_message`, which only
decodes and checks the message (:func:`ingest.messages.observations`, pure) and puts it on
a bounded queue. The writer thread takes what arrived within ``flush_interval`` of the
first queued message (up to ``max_batch`` messages), keeps the newest observation per
point and writes them in one ``UNWIND`` transaction. The finisher thread then publishes
the batch's dead letters (QoS 1, waiting for the broker's acknowledgement), acknowledges
every message of the batch to the broker, in arrival order and in one write (paho's manual
acknowledgement, batched by :meth:`ingest.client.IngestClient.ack_many`), and reports it
(metrics, listeners), while the writer already collects and writes the next batch: Neo4j
is not left idle meanwhile. Batches are finished in the order they were written.

So a message is acknowledged only once it is applied or dead-lettered. The session is
persistent (MQTT 5, ``clean_start`` false, a long session expiry) under a fixed client id:
if Neo4j goes away the batch is retried with backoff and nothing is acknowledged; if the
broker restarts paho reconnects and the worker subscribes again; if the worker is killed,
the broker redelivers what was not acknowledged. A redelivered message that was already
written changes nothing (an observation lands only if newer than the stored one). The
broker's in-flight window (MQTT 5 receive maximum) bounds what is unacknowledged, and the
queue is bounded too: when it is full the network thread waits, and the broker holds the
rest.

The finisher thread also marks points stale (no message for ``stale_after`` of their
expected intervals; points that never reported are not tracked), and re-reads the points
when a model load changes the graph (:func:`graph.versions.graph_version`), subscribing to
new topic filters and dropping old ones.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter as TallyCounter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from graph.errors import GraphError
from graph.live import Applied, LiveValue, mark_stale, read_points, write_live_values
from graph.reader import Reader
from graph.versions import graph_version
from ingest.address import BrokerAddress, configure
from ingest.client import IngestClient
from ingest.errors import Rejected
from ingest.events import LiveListener, PointUpdate, StalenessChange
from ingest.messages import dead_letter, dead_letter_topic, observations
from ingest.metrics import IngestMetrics
from ingest.readings import Observation
from ingest.topics import PointTable, is_dead_letter
from ingest.units import Units

logger = logging.getLogger(__name__)

SESSION_EXPIRY = 7 * 24 * 3600  # seconds the broker keeps our session while we are away
MAX_BACKOFF = 5.0


@dataclass(frozen=True, slots=True)
class IngestConfig:
    address: BrokerAddress
    client_id: str = "kgtwin-ingest"
    flush_interval: float = 0.05  # seconds a batch collects messages
    max_batch: int = 20_000  # messages per write, at most
    queue_size: int = 100_000  # messages decoded and not yet written, at most
    max_future: float = 300.0  # seconds a timestamp may be ahead of the receipt
    stale_after: float = 3.0  # expected intervals without data before a point is stale
    refresh_interval: float = 2.0  # seconds between checks for a changed graph
    keepalive: int = 30
    database: str | None = None


@dataclass(slots=True)
class _Message:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: float
    observations: list[Observation] = field(default_factory=list)
    rejected: Rejected | None = None
    ignored: bool = False


@dataclass(frozen=True, slots=True)
class _Written:
    """A batch's write: the newest observation per point, the points it updated, and of
    those the ones that were stale."""

    newest: dict[str, Observation]
    applied: set[str]
    fresh: tuple[str, ...]


class IngestWorker:
    """Call :meth:`start`, then :meth:`stop`; or use it as a context manager."""

    def __init__(
        self,
        config: IngestConfig,
        driver: Driver,
        metrics: IngestMetrics,
        listener: LiveListener | None = None,
    ) -> None:
        self.config = config
        self.driver = driver
        self.reader = Reader(driver, config.database)
        self.metrics = metrics
        self.listener = listener
        self.units = Units()
        self.table = PointTable({}, {}, {}, ())
        self.version: str | None = None
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=config.queue_size)
        metrics.queue_depth.set_function(self._queue.qsize)  # read when scraped
        self._stopping = threading.Event()
        self._ready = threading.Event()  # points read at least once
        self._subscribed: frozenset[str] = frozenset()
        self._lock = threading.Lock()  # guards _subscribed: the network thread reads it
        self._last_received: dict[str, float] = {}  # point IRI -> epoch seconds
        self._stale: set[str] = set()
        self._writer = threading.Thread(target=self._run_writer, name="kgtwin-ingest-writer")
        self.client = self._make_client()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the writer thread: it reads the points (retrying while Neo4j is away), then
        connects and subscribes. Not before: a resumed session's messages would otherwise
        arrive before their points are known."""
        self._writer.start()

    def _connect(self) -> None:
        addr = self.config.address
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY
        self.client.connect_async(
            addr.host,
            addr.port,
            keepalive=self.config.keepalive,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write one last batch of what is queued (if Neo4j lets us), then disconnect. What
        is not written by then is not acknowledged: the broker keeps it for the next start."""
        self._stopping.set()
        if self._writer.is_alive():
            self._writer.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        self.metrics.connected.set(0)

    def __enter__(self) -> IngestWorker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float) -> bool:
        """True once the points were read and the broker confirmed the subscriptions."""
        return self._ready.wait(timeout)

    # ------------------------------------------------------------ network thread

    def _make_client(self) -> IngestClient:
        client = IngestClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        configure(client, self.config.address)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("the MQTT broker refused the connection: %s", reason)
            return
        self.metrics.connected.set(1)
        logger.info(
            "connected to %s as %r (session %s)",
            self.config.address.safe_url,
            self.config.client_id,
            "resumed" if flags.session_present else "new",
        )
        with self._lock:
            filters = self._subscribed
        if filters:
            client.subscribe([(f, 1) for f in sorted(filters)])
        else:
            self._ready.set()  # no points yet: nothing to subscribe to

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            logger.error("the MQTT broker refused a subscription: %s", ", ".join(failed))
        else:
            logger.info("subscribed to %d topic filter(s)", len(reasons))
        self._ready.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.metrics.connected.set(0)
        if not self._stopping.is_set():
            logger.warning("disconnected from the MQTT broker (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        received_at = time.time()
        self.metrics.received.inc()
        topic = msg.topic  # paho decodes it on every read
        message = _Message(msg.mid, msg.qos, topic, bytes(msg.payload), received_at)
        if is_dead_letter(topic):
            message.ignored = True
        else:
            try:
                message.observations = observations(
                    topic,
                    message.payload,
                    received_at=received_at,
                    table=self.table,
                    units=self.units,
                    max_future=self.config.max_future,
                )
            except Rejected as exc:
                message.rejected = exc
        self._queue.put(message)  # blocks when full: backpressure onto the broker

    # ------------------------------------------------------------- writer thread

    def _run_writer(self) -> None:
        if not self._load_points():
            return
        self._connect()
        next_housekeeping = time.monotonic() + 1.0
        next_refresh = time.monotonic() + self.config.refresh_interval
        # Acknowledging and reporting a batch runs on its own thread, in order, while this
        # one collects and writes the next: Neo4j is not left idle meanwhile. The points'
        # bookkeeping (staleness, refreshes) runs there too, so one thread owns it.
        with ThreadPoolExecutor(1, thread_name_prefix="kgtwin-ingest-finisher") as finisher:
            while True:
                # once stopping, one last batch of what is queued; the rest stays
                # unacknowledged for the broker to redeliver (a busy stream would otherwise
                # never run dry)
                stopping = self._stopping.is_set()
                batch = self._collect()
                if batch:
                    _logged(finisher.submit(self._finish, batch, self._write(batch)))
                if stopping or (not batch and self._stopping.is_set()):
                    return  # leaving the block waits for the finisher
                now = time.monotonic()
                if now >= next_housekeeping:
                    next_housekeeping = now + 1.0
                    _logged(finisher.submit(self._mark_stale))
                if now >= next_refresh:
                    next_refresh = now + self.config.refresh_interval
                    _logged(finisher.submit(self._refresh_points))

    def _collect(self) -> list[_Message]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        # Wait out the interval from the first message's arrival (one that arrived during the
        # last write has waited enough), then take what came: waiting on the queue instead
        # would wake this thread (and hand it the GIL) once per message.
        interval = self.config.flush_interval
        self._stopping.wait(min(max(interval - (time.time() - first.received_at), 0.0), interval))
        batch = [first]
        while len(batch) < self.config.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[_Message]) -> _Written | None:
        """The newest observation per point, written (None if the worker stopped before
        Neo4j took it)."""
        newest: dict[str, Observation] = {}
        for message in batch:
            for obs in message.observations:
                kept = newest.get(obs.point_iri)
                if kept is None or obs.observed_at >= kept.observed_at:
                    newest[obs.point_iri] = obs
        if not newest:
            return _Written(newest, set(), ())
        result = self._retrying("writing live values", [_live_value(o) for o in newest.values()])
        if result is None:
            return None
        return _Written(newest, set(result.applied), result.fresh)

    def _finish(self, batch: list[_Message], written: _Written | None) -> None:
        """After the batch's write committed: dead letters out, every message acknowledged,
        counted and reported. Nothing is acknowledged if the write was abandoned (the broker
        keeps the messages)."""
        if written is None or not self._send_dead_letters(batch):
            return
        self.client.ack_many((message.mid, message.qos) for message in batch)
        self._count(batch, written.newest, written.applied)
        self._after_write(written.newest, written.applied, written.fresh)

    def _retrying(self, action: str, values: list[LiveValue]) -> Applied | None:
        """Write ``values`` until it succeeds (None if the worker stops first)."""
        delay = 0.1
        while True:
            started = time.perf_counter()
            try:
                result = write_live_values(self.driver, values, self.config.database)
            except GraphError as exc:
                self.metrics.write_failures.inc()
                if self._stopping.is_set():
                    logger.warning("%s failed while stopping; left to the broker: %s", action, exc)
                    return None
                logger.warning("%s failed, retrying in %.1f s: %s", action, delay, exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            self.metrics.write_seconds.observe(time.perf_counter() - started)
            return result

    def _send_dead_letters(self, batch: Sequence[_Message]) -> bool:
        """Publish the batch's dead letters and wait for the broker to take them; False
        if it did not (the originals stay unacknowledged, to be redelivered)."""
        sent = []
        for message in batch:
            if message.rejected is not None:
                body = dead_letter(
                    message.topic, message.payload, message.rejected, message.received_at
                )
                sent.append(self.client.publish(dead_letter_topic(message.topic), body, qos=1))
        for info in sent:
            try:
                info.wait_for_publish(timeout=10.0)
            except (RuntimeError, ValueError) as exc:
                logger.warning("dead letter not published (%s); the batch is left unacked", exc)
                return False
            if not info.is_published():
                logger.warning("dead letter not acknowledged by the broker in 10 s")
                return False
        return True

    def _count(
        self, batch: Sequence[_Message], newest: dict[str, Observation], applied: set[str]
    ) -> None:
        """Each message's outcome, tallied per batch (a metric call per message would cost
        the finisher thread more than the rest of its bookkeeping)."""
        written = {id(obs) for iri, obs in newest.items() if iri in applied}
        outcomes: TallyCounter[str] = TallyCounter()
        reasons: TallyCounter[str] = TallyCounter()
        for message in batch:
            if message.ignored:
                outcomes["ignored"] += 1
            elif message.rejected is not None:
                outcomes["deadlettered"] += 1
                reasons[str(message.rejected.reason)] += 1
            elif any(id(obs) in written for obs in message.observations):
                outcomes["applied"] += 1
            else:
                outcomes["outdated"] += 1
        self.metrics.batch_size.observe(len(batch))
        for outcome, count in outcomes.items():
            self.metrics.outcomes.labels(outcome).inc(count)
        for reason, count in reasons.items():
            self.metrics.dead_letters.labels(reason).inc(count)

    def _after_write(
        self, newest: dict[str, Observation], applied: set[str], fresh: Sequence[str]
    ) -> None:
        updates: list[PointUpdate] = []
        lags: list[float] = []
        listening = self.listener is not None
        for iri in applied:
            obs = newest[iri]
            self._last_received[iri] = obs.received_at
            lags.append(max(obs.received_at - obs.observed_at, 0.0))
            if not listening:
                continue
            point_id, asset_id, asset_labels = self._about(iri)
            updates.append(
                PointUpdate(
                    point_iri=iri,
                    point_id=point_id,
                    asset_id=asset_id,
                    asset_labels=asset_labels,
                    value=obs.value,
                    unit=obs.unit,
                    observed_at=obs.observed_at,
                    received_at=obs.received_at,
                    quality=str(obs.quality),
                )
            )
        self.metrics.lag.observe_many(lags)
        self._stale.difference_update(applied)
        self.metrics.stale_points.set(len(self._stale))
        if self.listener is not None:
            if updates:
                self.listener.points_updated(updates)
            if fresh:
                self.listener.staleness_changed(self._changes(fresh, stale=False))

    def _mark_stale(self) -> None:
        now = time.time()
        silent: list[tuple[str, int]] = []
        for iri, last in self._last_received.items():
            row = self.table.rows.get(iri)
            if iri in self._stale or row is None or row.expected_interval is None:
                continue
            if now - last > self.config.stale_after * row.expected_interval:
                silent.append((iri, round(last * 1000)))  # as written: _live_value
        if not silent:
            return
        try:
            marked = mark_stale(self.driver, silent, self.config.database)
        except GraphError as exc:
            logger.warning("cannot mark stale points now: %s", exc)
            return
        self._stale.update(marked)
        for iri, _since in silent:
            if iri not in self._stale:  # another worker wrote it meanwhile: check again later
                self._last_received[iri] = now
        self.metrics.stale_points.set(len(self._stale))
        if marked:
            logger.info("%d point(s) went stale", len(marked))
            if self.listener is not None:
                self.listener.staleness_changed(self._changes(marked, stale=True))

    def _changes(self, iris: Sequence[str], *, stale: bool) -> list[StalenessChange]:
        now = time.time()
        return [StalenessChange(iri, *self._about(iri), stale=stale, at=now) for iri in iris]

    def _about(self, iri: str) -> tuple[str, str | None, tuple[str, ...]]:
        """A point's id, and its asset's id and labels (the IRI alone if it is unknown now)."""
        row = self.table.rows.get(iri)
        if row is None:
            return iri, None, ()
        return row.id, row.asset_id, row.asset_labels

    # ---------------------------------------------------------------- the points

    def _load_points(self) -> bool:
        """Read the points until Neo4j answers; False if the worker stops first."""
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self._read_points(graph_version(self.reader))
            except GraphError as exc:
                logger.warning("cannot read the points yet, retrying in %.1f s: %s", delay, exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            return True
        return False

    def _refresh_points(self) -> None:
        try:
            version = graph_version(self.reader)
            if version != self.version:
                self._read_points(version)
        except GraphError as exc:
            logger.warning("cannot check the graph for new points: %s", exc)

    def _read_points(self, version: str) -> None:
        rows = read_points(self.reader)
        table = PointTable.of(rows)
        for row in rows:
            if row.received_at_ms is not None and row.iri not in self._last_received:
                self._last_received[row.iri] = row.received_at_ms / 1000
            if row.stale:
                self._stale.add(row.iri)
        self.table, self.version = table, version
        self._resubscribe(table.filters())
        logger.info(
            "ingesting %d point(s) on %d topic filter(s) (graph version %s)",
            len(table.by_topic),
            len(table.filters()),
            version,
        )

    def _resubscribe(self, filters: frozenset[str]) -> None:
        with self._lock:
            added, removed = filters - self._subscribed, self._subscribed - filters
            self._subscribed = filters
        if added:
            self.client.subscribe([(f, 1) for f in sorted(added)])
        if removed:
            self.client.unsubscribe(sorted(removed))


def _live_value(obs: Observation) -> LiveValue:
    return LiveValue(
        iri=obs.point_iri,
        value=obs.value,
        observed_at_ms=round(obs.observed_at * 1000),
        received_at_ms=round(obs.received_at * 1000),
        quality=str(obs.quality),
    )


def _logged(future: Future[None]) -> None:
    """Log the exception a task on the finisher thread ends with (a future keeps it)."""
    future.add_done_callback(_log_failure)


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        logger.error("ingestion bookkeeping failed", exc_info=exc)
