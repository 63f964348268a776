"""Publishing twin events without ever holding up the caller.

:class:`EventPublisher` has an MQTT connection of its own (client id ``<owner>-events``, a
clean session) and a thread that encodes and publishes what :meth:`EventPublisher.publish`
queued: each event at QoS 1 on its topic in ``kgtwin/events/``, and the present of a state
kind retained in ``kgtwin/state/``. At most :data:`MAX_INFLIGHT` publications wait for
their PUBACK; past :data:`MAX_QUEUED` events waiting to be sent (the broker away, or slower
than the twin changes), new events are dropped and counted (``dropped``) rather than held
without bound or made to slow ingestion down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from kgtwin.ingest.address import BrokerAddress, configure
from kgtwin.ingest.outbound.envelope import CONTENT_TYPE, TwinEvent, encode
from kgtwin.ingest.outbound.topics import event_topic, state_topic

logger = logging.getLogger(__name__)

MAX_INFLIGHT = 1_000  # publications sent before their PUBACKs, at most
MAX_QUEUED = 100_000  # events waiting to be sent, at most; more are dropped
WARN_EVERY = 60.0  # seconds between two warnings about dropped events


class EventPublisher:
    """Call :meth:`start`, :meth:`publish` from any thread, :meth:`stop`."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        registry: CollectorRegistry | None = None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.address = address
        self.max_queued = max_queued
        self.client_id = f"{client_id}-events"
        self.published = 0  # events the broker acknowledged
        self.dropped = 0  # events dropped: the queue was full
        self.refused = 0  # publications the broker refused (a PUBACK reason code)
        self._queue: deque[tuple[int, TwinEvent]] = deque()  # (its number, the event)
        self._changed = threading.Condition()
        self._numbered = 0  # events numbered (queued) so far
        # mid -> the number of its event, and whether it is the event itself (not the state)
        self._outstanding: dict[int, tuple[int, bool]] = {}
        self._early: dict[int, ReasonCode] = {}  # PUBACKs that came before _send noted the mid
        self._stopping = False
        self._sending: int | None = None  # the number of the event being published
        self._warned = 0.0  # when dropped events were last said
        self._thread = threading.Thread(target=self._run, name="kgtwin-events", daemon=True)
        self._properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        self._properties.ContentType = CONTENT_TYPE
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        configure(self._client, address)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_inflight_messages_set(MAX_INFLIGHT)
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        if registry is not None:
            registry.register(_Metrics(self))

    def start(self) -> None:
        addr = self.address
        self._client.connect_async(addr.host, addr.port, keepalive=30, clean_start=True)
        self._client.loop_start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (waiting at most ``timeout`` s for the broker), then close."""
        self.flush(timeout)
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, events: Iterable[TwinEvent]) -> None:
        """Queue ``events`` to be published in this order; never blocks."""
        dropped = 0
        with self._changed:
            for event in events:
                if len(self._queue) >= self.max_queued:
                    dropped += 1
                    continue
                self._numbered += 1
                self._queue.append((self._numbered, event))
            self.dropped += dropped
            self._changed.notify_all()
        now = time.monotonic()
        if dropped and now - self._warned >= WARN_EVERY:
            self._warned = now
            logger.warning(
                "%d twin event(s) dropped so far: %d wait for the broker at %s",
                self.dropped,
                self.max_queued,
                self.address.safe_url,
            )

    def flush(self, timeout: float) -> bool:
        """Wait until every event queued before this call was handed to the broker and
        acknowledged (or refused); False on timeout. Events queued meanwhile (a busy worker
        keeps queueing) are not waited for."""
        deadline = time.monotonic() + timeout
        with self._changed:
            upto = self._numbered
            while self._busy(upto):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def _busy(self, upto: int) -> bool:
        """Whether an event numbered ``upto`` or lower is still queued, being published or
        waiting for a PUBACK (under the lock)."""
        return (
            (bool(self._queue) and self._queue[0][0] <= upto)
            or (self._sending is not None and self._sending <= upto)
            or any(number <= upto for number, _own in self._outstanding.values())
        )

    @property
    def waiting(self) -> int:
        """Events queued or waiting for their PUBACK."""
        with self._changed:
            return len(self._queue) + sum(own for _n, own in self._outstanding.values())

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and (
                    not self._queue or len(self._outstanding) >= MAX_INFLIGHT
                ):
                    self._changed.wait()
                if self._stopping:
                    return
                number, event = self._queue.popleft()
                self._sending = number
            try:
                self._send(number, event)
            except Exception as exc:  # a bug: lose this event, not the publisher
                logger.error("cannot publish a %s event", event.kind.value, exc_info=exc)
            finally:
                with self._changed:
                    self._sending = None
                    self._changed.notify_all()

    def _send(self, number: int, event: TwinEvent) -> None:
        body = encode(event)
        subject = _levels(event)
        sends = [(event_topic(event.model, event.kind, subject), body, False, True)]
        if event.kind.state is not None:
            retained = body if event.kind.sets_state else b""
            sends.append((state_topic(event.model, event.kind, subject), retained, True, False))
        for topic, payload, retain, own in sends:
            # not under our lock: paho calls on_publish holding its own
            info = self._client.publish(
                topic, payload, qos=1, retain=retain, properties=self._properties
            )
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                logger.warning("cannot publish to %s: %s", topic[:120], mqtt.error_string(info.rc))
                continue
            with self._changed:  # NO_CONN: paho sends it once connected again
                early = self._early.pop(info.mid, None)
                if early is None:
                    self._outstanding[info.mid] = (number, own)
                else:
                    self._count(early, own)

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        with self._changed:
            if mid in self._outstanding:
                self._count(reason, self._outstanding.pop(mid)[1])
            else:  # acknowledged before _send noted it
                self._early[mid] = reason
            self._changed.notify_all()

    def _count(self, reason: ReasonCode, own: bool) -> None:
        if reason.is_failure:
            self.refused += 1
        elif own:
            self.published += 1

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("the MQTT broker refused the events connection: %s", reason)


def _levels(event: TwinEvent) -> tuple[str, ...]:
    """The topic levels after the kind: the asset's id, then the point's for a point."""
    data = event.data
    if "pointId" in data and "points" not in data:
        return (str(data.get("assetId") or ""), str(data["pointId"]))
    if "assetId" in data:
        return (str(data["assetId"]),)
    if "scenarioId" in data:
        return (str(data["scenarioId"]),)
    return ()


class _Metrics(Collector):
    """The publisher's counts, read when scraped."""

    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        p = self.publisher
        yield CounterMetricFamily(
            "kgtwin_events_published", "Twin events the broker acknowledged.", p.published
        )
        yield CounterMetricFamily(
            "kgtwin_events_dropped",
            "Twin events dropped because too many waited to be sent (the broker away or slow).",
            p.dropped,
        )
        yield CounterMetricFamily(
            "kgtwin_events_refused", "Event publications the broker refused.", p.refused
        )
        yield GaugeMetricFamily(
            "kgtwin_events_waiting", "Twin events queued or waiting for the broker.", p.waiting
        )
