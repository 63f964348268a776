"""The ingestion worker: MQTT messages in, live values on point nodes out, nothing lost,
and no message able to stop it. How it works, and why: docs/ingestion.md.

Three threads. The network thread of the paho client (:class:`ingest.client.IngestClient`)
runs :meth:`IngestWorker._on_message`, which only decodes and checks the message
(:func:`ingest.receiving.receive`, which never raises for what a message holds) and queues
it, once the bytes it holds fit the queued-bytes limit (:class:`ingest.budget.ByteBudget`).
The writer thread takes what arrived within ``flush_interval`` and writes the newest
observation per point in one transaction; a large batch in slices, written at once by
two more threads (:func:`ingest.writes.write_sliced`). A value the write refuses is split
out and dead-lettered, the rest applied (:func:`ingest.writes.write_isolating`). The
finisher thread reports each write (listeners, staleness), then, batch after batch in
order, publishes the batch's dead letters on a connection of their own
(:class:`ingest.deadletters.DeadLetterPublisher`, which checks each PUBACK's reason code),
spools the batch's history rows when history is on
(:class:`ingest.history.writer.HistoryWriter`: on disk, never waiting for QuestDB) and
acknowledges the batch.

**Connections.** Each MQTT connection gets a number; a message is acknowledged only on the
connection it arrived on, in the order received. When a batch cannot be finished (its dead
letters were refused or not acknowledged in time, or an unexpected error), the worker
*gives up the connection*: nothing more is acknowledged on it, what is queued from it is
dropped, and it reconnects (at once, then with a growing delay): the persistent session
makes the broker deliver again everything not acknowledged, in order. A reconnect paho
makes by itself (the broker restarted) drops what is pending in the same way.

**Failures.** Unexpected errors (bugs) are logged with a traceback and counted
(``kgtwin_ingest_pipeline_errors_total``) on every thread; a listener's error is only
that, anything else gives up the connection. After :data:`MAX_FRUITLESS` of those in a row
with nothing acknowledged in between, the worker stops for good (:attr:`failure`), so that
the process can exit non-zero and a supervisor restart it. Neo4j going away is no error:
the write is retried with backoff, the broker holds what is not acknowledged.
:meth:`health` says whether messages are waiting with none finished (stalled).

The finisher thread also marks points stale (:class:`ingest.reporting.Reporter`) and
re-reads the points when a load changes the graph.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kgtwin.graph.errors import GraphError, ValueRefused
from kgtwin.graph.live import Applied, LiveValue, read_points, write_live_values
from kgtwin.graph.ontology_read import read_terms
from kgtwin.graph.reader import Reader
from kgtwin.graph.versions import graph_version
from kgtwin.ingest.address import BrokerAddress, configure
from kgtwin.ingest.batch import Message, Pick, newest, tally
from kgtwin.ingest.budget import ByteBudget
from kgtwin.ingest.client import IngestClient
from kgtwin.ingest.deadletters import DeadLetterPublisher
from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.events import LiveListener
from kgtwin.ingest.health import IngestHealth, Progress
from kgtwin.ingest.history.writer import HistoryWriter
from kgtwin.ingest.messages import dead_letter, dead_letter_topic
from kgtwin.ingest.metrics import IngestMetrics
from kgtwin.ingest.receiving import PER_MESSAGE_BYTES, Limits, receive
from kgtwin.ingest.reporting import Reporter
from kgtwin.ingest.topics import PointTable
from kgtwin.ingest.writes import LEAST_SLICE, SLICES, write_sliced
from kgtwin.ontology.units import Units

logger = logging.getLogger(__name__)

SESSION_EXPIRY = 7 * 24 * 3600  # seconds the broker keeps our session while we are away
MAX_BACKOFF = 5.0  # seconds between write attempts while Neo4j is away, at most
MAX_RESTART_DELAY = 60.0  # seconds before reconnecting after giving up a connection, at most
MAX_FRUITLESS = 5  # restarts after unexpected errors, in a row, before the worker gives up
STALE_AFTER = 3.0  # expected intervals without data before a point is stale (the default)
DEFAULT_CLIENT_ID = "kgtwin-ingest"
MAX_SHARE_GROUP = 64  # characters of a share group's name, at most


@dataclass(frozen=True, slots=True)
class IngestConfig:
    address: BrokerAddress
    client_id: str = DEFAULT_CLIENT_ID
    flush_interval: float = 0.05  # seconds a batch collects messages
    max_batch: int = 20_000  # messages per write, at most
    write_slice: int = LEAST_SLICE  # values per slice of a write, at least (ingest.writes)
    receive_maximum: int = 10_000  # MQTT 5 Receive Maximum: unacknowledged messages, at most
    max_queued_bytes: int = 64 * 2**20  # bytes held for messages not yet acknowledged
    max_payload_bytes: int = 256 * 2**10  # a larger payload is dead-lettered (too_large)
    max_future: float = 300.0  # seconds a timestamp may be ahead of the receipt
    stale_after: float = STALE_AFTER  # expected intervals without data before a point is stale
    refresh_interval: float = 2.0  # seconds between checks for a changed graph
    stall_after: float = 60.0  # seconds messages may wait with none finished (health)
    dead_letter_timeout: float = 10.0  # seconds to wait for the broker to take dead letters
    keepalive: int = 30
    database: str | None = None
    # subscribe as $share/<share_group>/<filter>: the broker spreads the messages over the
    # workers of the group (docs/ingestion.md, Several workers)
    share_group: str | None = None

    def __post_init__(self) -> None:
        if self.share_group is not None:
            check_share_group(self.share_group)
            if self.client_id == DEFAULT_CLIENT_ID:
                raise ValueError(
                    f"in share group {self.share_group!r} every worker needs a client id of its "
                    f"own, not the default {DEFAULT_CLIENT_ID!r}: give each one a distinct id "
                    "that stays the same across its restarts (--client-id, "
                    "KGTWIN_MQTT_CLIENT_ID), like kgtwin-ingest-1; the broker keeps the "
                    "worker's session and its share of the messages under that id"
                )
        if self.write_slice < 1:
            raise ValueError(f"write_slice must be 1 or more, not {self.write_slice}")
        if not 1 <= self.receive_maximum <= 65_535:
            raise ValueError(f"receive_maximum must be 1 to 65535, not {self.receive_maximum}")
        if self.max_payload_bytes < 1 or self.max_payload_bytes > 256 * 2**20:
            raise ValueError("max_payload_bytes must be 1 byte to 256 MiB (MQTT's limit)")
        largest = self.max_payload_bytes + 65_535 + PER_MESSAGE_BYTES  # payload, topic, rest
        if self.max_queued_bytes < largest:
            raise ValueError(
                f"max_queued_bytes ({self.max_queued_bytes:,}) must hold the largest message "
                f"taken: max_payload_bytes + 65,535 bytes of topic + {PER_MESSAGE_BYTES:,} = "
                f"{largest:,}"
            )


def check_share_group(name: str) -> None:
    """Raise ValueError unless ``name`` can be an MQTT shared subscription's share name."""
    if not 1 <= len(name) <= MAX_SHARE_GROUP:
        raise ValueError(
            f"share group {name!r} must be 1 to {MAX_SHARE_GROUP} characters long, not {len(name)}"
        )
    bad = sorted({c for c in name if c in "/+#" or not c.isprintable() or c.isspace()})
    if bad:
        raise ValueError(
            f"share group {name!r} must not contain {', '.join(map(repr, bad))}: MQTT "
            "forbids '/', '+' and '#' in a share name, and kgtwin spaces and control "
            "characters; use letters, digits, '-', '_' or '.', like kgtwin-dc1"
        )


def subscription(share_group: str | None, topic_filter: str) -> str:
    """What to subscribe to for ``topic_filter``: itself, or its shared subscription."""
    return topic_filter if share_group is None else f"$share/{share_group}/{topic_filter}"


@dataclass(slots=True)
class _Written:
    """A batch's write: per point the observation chosen, the ids of the observations
    written, the points that were stale; None instead when the worker stopped first."""

    picks: dict[str, Pick] = field(default_factory=dict)
    applied: set[int] = field(default_factory=set)
    fresh: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # status points whose report changed


class _Stopped(Exception):
    """The worker stopped while a write was being retried."""


class IngestWorker:
    """Call :meth:`start`, then :meth:`stop`; or use it as a context manager."""

    def __init__(
        self,
        config: IngestConfig,
        driver: Driver,
        metrics: IngestMetrics,
        units: Units,
        listener: LiveListener | None = None,
        history: HistoryWriter | None = None,
    ) -> None:
        self.config = config
        self.history = history  # keeps every accepted value, when history is on
        self.driver = driver
        self.reader = Reader(driver, config.database)
        self.metrics = metrics
        self.listener = listener
        self.units = units  # the ontology's, built at start (ontology.units)
        self.table = PointTable({}, {}, {}, ())
        self.version: str | None = None
        self.failure: str | None = None  # why the worker gave up, if it did
        self._limits = Limits(config.max_payload_bytes, config.max_future)
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._budget = ByteBudget(config.max_queued_bytes)
        self._progress = Progress(config.stall_after)
        metrics.queue_depth.set_function(self._queue.qsize)  # read when scraped
        metrics.queued_bytes.set_function(lambda: self._budget.used)
        metrics.pending.set_function(lambda: self._progress.pending)
        metrics.stalled.set_function(lambda: float(self.health().stalled))
        self._stopping = threading.Event()
        self._ready = threading.Event()  # points read at least once
        self._failed = threading.Event()
        self._subscribed: frozenset[str] = frozenset()
        self._lock = threading.Lock()  # guards _subscribed and the restart request
        self._connection = 0  # numbers the MQTT connections; set on the network thread
        # held while a batch is acknowledged and while the network thread marks its
        # connection lost or numbers a new one: no acknowledgement goes out on another
        self._acking = threading.Lock()
        self._lost = True  # the connection numbered _connection is gone (or not made yet)
        self._given_up = 0  # connections up to this number acknowledge nothing more
        self._restart = threading.Event()
        self._restart_reason = ("", "")  # (kind, why)
        self._fruitless = 0  # restarts in a row with nothing acknowledged in between
        self.reporter = Reporter(
            driver, config.database, metrics, listener, stale_after=config.stale_after
        )
        self._writer = threading.Thread(target=self._run, name="kgtwin-ingest-writer")
        self.client = self._make_client()
        self.dead_letters = DeadLetterPublisher(
            config.address, config.client_id, config.dead_letter_timeout
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the writer thread: it reads the points (retrying while Neo4j is away), then
        connects and subscribes. Not before: a resumed session's messages would otherwise
        arrive before their points are known."""
        if self.history is not None:
            self.history.start()
        self._writer.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write one last batch of what is queued (if Neo4j lets us), then disconnect. What
        is not written by then is not acknowledged: the broker keeps it for the next start."""
        self._stopping.set()
        if self._writer.is_alive():
            self._writer.join(timeout)
        self._disconnect()
        if self.history is not None:
            self.history.stop(timeout)

    def __enter__(self) -> IngestWorker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float) -> bool:
        """True once the points were read and the broker confirmed the subscriptions."""
        return self._ready.wait(timeout)

    def wait_failed(self, timeout: float | None = None) -> bool:
        """True once the worker has given up (:attr:`failure` says why)."""
        return self._failed.wait(timeout)

    def health(self) -> IngestHealth:
        """Stalled (messages waiting, none finished for ``stall_after`` s), failed, or ok."""
        return self._progress.health(connected=self.client.is_connected(), failure=self.failure)

    def _connect(self) -> None:
        addr = self.config.address
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY
        properties.ReceiveMaximum = self.config.receive_maximum
        self.client.connect_async(
            addr.host,
            addr.port,
            keepalive=self.config.keepalive,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()

    def _disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.dead_letters.stop()
        self.metrics.connected.set(0)

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
        with self._acking:  # what came on the previous connection is acknowledged on none
            self._connection += 1
            self._lost = False
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
            client.subscribe([(self._subscription(f), 1) for f in sorted(filters)])
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
        elif self.config.share_group is not None:
            group = self.config.share_group
            logger.info("subscribed to %d topic filter(s) in share group %r", len(reasons), group)
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
        with self._acking:  # paho reconnects after this: no acknowledgement until numbered
            self._lost = True
        self.metrics.connected.set(0)
        if not self._stopping.is_set() and not self._restart.is_set():
            logger.warning("disconnected from the MQTT broker (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        received_at = time.time()
        self.metrics.received.inc()
        connection = self._connection
        if connection <= self._given_up:
            self.metrics.outcomes.labels("dropped").inc()  # delivered again after reconnecting
            return
        try:
            message = receive(
                msg,
                connection=connection,
                received_at=received_at,
                table=self.table,
                units=self.units,
                limits=self._limits,
                on_bug=lambda exc: self._bug("network", exc),
            )
            if not self._budget.acquire(
                message.cost, lambda: self._stopping.is_set() or connection <= self._given_up
            ):
                self.metrics.outcomes.labels("dropped").inc()
                return
            self._progress.received()
            self._queue.put(message)
        except Exception as exc:  # a bug outside decoding: the broker must deliver it again
            self.metrics.outcomes.labels("dropped").inc()
            self._unexpected("network", exc, connection)

    # ------------------------------------------------------------- writer thread

    def _run(self) -> None:
        try:
            if not self._load_points():
                return
            self.dead_letters.start()
            self._connect()
            # Reporting, dead-lettering and acknowledging a batch run on their own thread, in
            # order, while this one collects and writes the next: Neo4j is not left idle. The
            # points' bookkeeping (staleness, refreshes) runs there too: one thread owns it.
            with (
                ThreadPoolExecutor(1, thread_name_prefix="kgtwin-ingest-finisher") as finisher,
                ThreadPoolExecutor(SLICES, thread_name_prefix="kgtwin-ingest-writer-") as slices,
            ):
                self._loop(finisher, slices)
        except Exception as exc:  # _loop recovers from what it can: this is the end
            self._bug("writer", exc)
            self._give_up(f"the writer thread stopped: {type(exc).__name__}: {exc}", exc)

    def _loop(self, finisher: ThreadPoolExecutor, slices: Executor) -> None:
        """Batches collected and written (a large write's slices on ``slices``, at once),
        each finished on ``finisher``."""
        next_housekeeping = time.monotonic() + 1.0
        next_refresh = time.monotonic() + self.config.refresh_interval
        while True:
            restart = self._restart.is_set() and not self._stopping.is_set()
            if restart and not self._reconnect(finisher):
                return
            # once stopping, one last batch of what is queued; the rest stays
            # unacknowledged for the broker to redeliver
            stopping = self._stopping.is_set()
            batch: list[Message] = []
            try:
                batch = self._collect()
                if batch:
                    finisher.submit(self._finish, batch, self._write(batch, slices))
            except Exception as exc:
                self._drop(batch)
                self._unexpected("writer", exc)
            if stopping or (not batch and self._stopping.is_set()):
                return  # leaving the block waits for the finisher
            now = time.monotonic()
            if now >= next_housekeeping:
                next_housekeeping = now + 1.0
                finisher.submit(self._guarded, self.reporter.mark_stale)
                if not self._restart.is_set() and not self.client.loop_running():
                    self._unexpected("network", RuntimeError("the MQTT thread ended"))
            if now >= next_refresh:
                next_refresh = now + self.config.refresh_interval
                finisher.submit(self._guarded, self._refresh_points)

    def _collect(self) -> list[Message]:
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
        current = self._connection if self._connection > self._given_up else -1
        if all(m.connection == current for m in batch):
            return batch
        self._drop([m for m in batch if m.connection != current])  # sent again by the broker
        return [m for m in batch if m.connection == current]

    def _write(self, batch: list[Message], slices: Executor) -> _Written | None:
        """The newest observation per point, written (None if the worker stopped before
        Neo4j took it). A value the write refuses gets its message rejected (dead-lettered)
        and the point the next newest observation of the batch, written in turn."""
        written = _Written()
        points: frozenset[str] | None = None
        while picks := newest(batch, points):
            values = [pick.live_value() for pick in picks.values()]
            try:
                applied, refused = write_sliced(
                    self._retrying, values, slices, least=self.config.write_slice
                )
            except _Stopped:
                return None
            for iri in applied.applied:
                written.picks[iri] = picks[iri]
                written.applied.add(id(picks[iri].observation))
            written.fresh.extend(applied.fresh)
            written.failures.extend(applied.failures)
            if not refused:
                break
            for refusal in refused:
                pick = picks[refusal.value.iri]
                logger.warning("a value was refused by the write: %s", refusal.error)
                pick.message.rejected = Rejected(
                    Reason.UNSTORABLE,
                    f"the value for point {pick.observation.point_iri} passed every check and "
                    f"was still refused: {refusal.error}",
                )
            points = frozenset(r.value.iri for r in refused)
        return written

    def _retrying(self, values: Sequence[LiveValue]) -> Applied:
        """Write ``values`` until Neo4j takes them (``ValueRefused`` goes up at once)."""
        delay = 0.1
        while True:
            started = time.perf_counter()
            try:
                result = write_live_values(self.driver, values, self.config.database)
            except ValueRefused:
                raise
            except GraphError as exc:
                self.metrics.write_failures.inc()
                self._progress.problem(f"writing live values failed: {exc}")
                if self._stopping.is_set():
                    logger.warning("writing failed while stopping; left to the broker: %s", exc)
                    raise _Stopped from exc
                logger.warning("writing live values failed, retrying in %.1f s: %s", delay, exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            self.metrics.write_seconds.observe(time.perf_counter() - started)
            return result

    # ----------------------------------------------------------- finisher thread

    def _finish(self, batch: list[Message], written: _Written | None) -> None:
        """After the batch's write: report it, then dead letters out and the batch
        acknowledged, in order; nothing is acknowledged on a connection given up, or if
        the write was abandoned (the broker keeps those messages)."""
        try:
            if written is None:
                self._drop(batch)
                return
            self.reporter.written(written.picks, written.fresh, written.failures)
            current = self._connection
            if current <= self._given_up:
                self._drop(batch)
                return
            self._drop([m for m in batch if m.connection != current])
            batch = [m for m in batch if m.connection == current]
            problem = self.dead_letters.send(
                (  # built as they are sent
                    dead_letter_topic(m.topic),
                    dead_letter(
                        key=m.key,
                        topic=m.topic,
                        payload=m.payload,
                        rejected=m.rejected,
                        received_at=m.received_at,
                        redelivered=m.redelivered,
                        size=m.size,
                        sha256=m.sha256,
                    ),
                )
                for m in batch
                if m.rejected is not None
            )
            if problem is not None:
                self._drop(batch)
                self._give_up_connection(current, "dead_letters", problem)
                return
            if self.history is not None:  # on disk before the broker may forget them
                self.history.append(batch)
            with self._acking:
                acked = not self._lost and self._connection == current
                if acked:
                    self.client.ack_many((m.mid, m.qos) for m in batch)
            if not acked:  # the connection went while the dead letters were sent
                self._drop(batch)
                return
            self._settle(batch, written)
        except Exception as exc:
            self._drop(batch)
            self._unexpected("finisher", exc)

    def _settle(self, batch: Sequence[Message], written: _Written) -> None:
        """The batch is acknowledged: its bytes free, its outcomes counted."""
        for message in batch:
            message.settled = True
        self._budget.release(sum(m.cost for m in batch))
        self._progress.finished(len(batch))
        self._fruitless = 0
        counts = tally(batch, written.applied)
        self.metrics.batch_size.observe(len(batch))
        for outcome, count in counts.outcomes.items():
            self.metrics.outcomes.labels(outcome).inc(count)
        for reason, count in counts.reasons.items():
            self.metrics.dead_letters.labels(reason).inc(count)

    def _drop(self, messages: Sequence[Message]) -> None:
        """Messages not to be acknowledged here: the broker delivers them again."""
        dropped = [m for m in messages if not m.settled]
        if not dropped:
            return
        for message in dropped:
            message.settled = True
        self._budget.release(sum(m.cost for m in dropped))
        self._progress.finished(len(dropped), progress=False)
        self.metrics.outcomes.labels("dropped").inc(len(dropped))

    def _guarded(self, task: Callable[[], None]) -> None:
        """Run a bookkeeping task; an unexpected error is logged and counted."""
        try:
            task()
        except Exception as exc:
            logger.error("ingestion bookkeeping failed", exc_info=exc)
            self.metrics.pipeline_errors.labels("finisher").inc()

    # ------------------------------------------------- giving up a connection

    def _bug(self, thread: str, exc: BaseException) -> None:
        logger.error("unexpected error on the %s thread", thread, exc_info=exc)
        self.metrics.pipeline_errors.labels(thread).inc()

    def _unexpected(self, thread: str, exc: BaseException, connection: int | None = None) -> None:
        """A bug outside decoding: logged, counted, and the connection (the current one by
        default) given up, so that the broker delivers again what it did not acknowledge."""
        self._bug(thread, exc)
        self._give_up_connection(
            self._connection if connection is None else connection,
            "pipeline_error",
            f"unexpected error on the {thread} thread: {type(exc).__name__}: {exc}",
        )

    def _give_up_connection(self, connection: int, kind: str, why: str) -> None:
        with self._lock:
            if connection != self._connection or connection <= self._given_up:
                return  # an older connection, or given up already
            self._given_up = connection
            self._restart_reason = (kind, why)
            self._restart.set()
        self.metrics.restarts.labels(kind).inc()
        self._progress.problem(why)
        logger.warning(
            "giving up this MQTT connection (%s); the broker will deliver again what it did not "
            "get acknowledged",
            why,
        )

    def _reconnect(self, finisher: ThreadPoolExecutor) -> bool:
        """Drop the given-up connection and open a new one; False if the worker gave up."""
        finisher.submit(lambda: None).result()  # what is before it is finished (or dropped)
        kind, why = self._restart_reason
        self._fruitless += 1
        if kind == "pipeline_error" and self._fruitless > MAX_FRUITLESS:
            self._give_up(
                f"{self._fruitless} unexpected errors in a row with nothing acknowledged in "
                f"between, the last: {why}",
                None,
            )
            return False
        delay = min(2.0 ** (self._fruitless - 2), MAX_RESTART_DELAY) if self._fruitless > 1 else 0
        self.client.disconnect()
        self.client.loop_stop()  # the network thread is not waiting: it drops what comes
        queued: list[Message] = []
        while True:
            try:
                queued.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._drop(queued)
        if kind == "dead_letters":
            self.dead_letters.restart()
        logger.info("reconnecting to the MQTT broker in %.0f s", delay)
        self._restart.clear()
        if not self._stopping.wait(delay):
            self._connect()
        return True

    def _give_up(self, why: str, exc: BaseException | None) -> None:
        if self.failure is not None:
            return
        self.failure = why
        logger.critical("ingestion stopped: %s", why, exc_info=exc)
        self._failed.set()
        self._disconnect()

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
        if self.history is not None:
            self.history.points_read(rows, read_terms(self.reader))
        table = PointTable.of(rows, self.units)
        self.reporter.points_read(rows, table.rows)
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
            self.client.subscribe([(self._subscription(f), 1) for f in sorted(added)])
        if removed:
            self.client.unsubscribe([self._subscription(f) for f in sorted(removed)])

    def _subscription(self, topic_filter: str) -> str:
        return subscription(self.config.share_group, topic_filter)
