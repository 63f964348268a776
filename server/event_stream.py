"""Every server follows the twin's event stream: an MQTT connection of its own (a clean
session, client id ``kgtwin-serve-<host>-<pid>-<random>-stream``) subscribed to ``kgtwin/events/#``,
whose events feed the GraphQL subscriptions (:class:`server.live.LiveHub`) and whoever else
wants to know (the risk watch). So servers are interchangeable behind a load balancer: each
streams what every ingestion worker and every server published, whether or not it ingests.

A message that is not a twin event (a client publishing where it should not, a truncated
body) is counted (``malformed``), logged at most once a minute, and skipped.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from kgtwin.ingest.address import BrokerAddress, configure
from kgtwin.ingest.events import PointUpdate, StalenessChange
from kgtwin.ingest.outbound.envelope import MAX_EVENT_BYTES, EventError, TwinEvent, decode
from kgtwin.ingest.outbound.kinds import RISK_KINDS, Kind
from kgtwin.ingest.outbound.topics import EVENTS
from kgtwin.server.live import LiveHub, RiskEvent

logger = logging.getLogger(__name__)

Watcher = Callable[[TwinEvent], None]
MAX_PACKET_OVERHEAD = 70_000  # a PUBLISH's header, topic and properties, at most
LOG_EVERY = 60.0  # seconds between two warnings about malformed events


class EventStream:
    """Call :meth:`start`, then :meth:`stop`."""

    def __init__(
        self,
        address: BrokerAddress,
        hub: LiveHub,
        watchers: tuple[Watcher, ...] = (),
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.address = address
        self.hub = hub
        self.watchers = watchers
        self.received = 0
        self.malformed = 0
        self.connected = False
        self.following = False  # the broker confirmed the subscription
        self._warned = 0.0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{server_id()}-stream", protocol=mqtt.MQTTv5
        )
        configure(self._client, address)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        if registry is not None:
            registry.register(_Metrics(self))

    def start(self) -> None:
        addr = self.address
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        # the broker sends nothing larger (MQTT 5): a huge message on the events topics is
        # dropped for this client by the broker, never read into memory here
        properties.MaximumPacketSize = MAX_EVENT_BYTES + MAX_PACKET_OVERHEAD
        self._client.connect_async(
            addr.host, addr.port, keepalive=30, clean_start=True, properties=properties
        )
        self._client.loop_start()

    def stop(self) -> None:
        self.connected = False  # a disconnection asked for: nothing to warn about
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("the MQTT broker refused the event stream's connection: %s", reason)
            return
        self.connected = True
        client.subscribe(f"{EVENTS}/#", qos=1)
        logger.info("following the twin's events on %s", self.address.safe_url)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            logger.error("the MQTT broker refused the event stream's subscription: %s", refused)
        self.following = not refused

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if self.connected:
            logger.warning("the event stream lost the MQTT broker (%s); reconnecting", reason)
        self.connected = self.following = False

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        try:
            event = decode(bytes(msg.payload))
            self._dispatch(event)
        except (EventError, ValueError, TypeError, KeyError, AttributeError) as exc:
            self.malformed += 1
            now = time.monotonic()
            if now - self._warned >= LOG_EVERY:
                self._warned = now
                logger.warning(
                    "skipped a message on %s that is not a readable twin event (%d so far): %s",
                    msg.topic[:120],
                    self.malformed,
                    exc,
                )

    def _dispatch(self, event: TwinEvent) -> None:
        kind = event.kind
        if kind is Kind.POINTS_UPDATED:
            self.hub.points_updated([point_update(event.model, p) for p in event.data["points"]])
        elif kind in (Kind.POINT_STALE, Kind.POINT_FRESH):
            self.hub.staleness_changed([staleness_change(event)])
        elif kind in RISK_KINDS:
            self.hub.risks_changed([risk_event(event)])
        for watcher in self.watchers:
            watcher(event)


def point_update(model: str, p: dict[str, object]) -> PointUpdate:
    value = p["value"]
    if not isinstance(value, bool | int | float | str):
        raise TypeError(f"a point's value must be a JSON scalar, not {type(value).__name__}")
    return PointUpdate(
        point_iri=str(p["pointIri"]),
        point_id=str(p["pointId"]),
        asset_id=_optional(p.get("assetId")),
        asset_labels=_labels(p.get("assetClasses")),
        value=value,
        unit=str(p["unit"]),
        observed_at=epoch(p["observedAt"]),
        received_at=epoch(p["receivedAt"]),
        quality=str(p["quality"]),
        model=model,
    )


def staleness_change(event: TwinEvent) -> StalenessChange:
    d = event.data
    return StalenessChange(
        point_iri=str(d["pointIri"]),
        point_id=str(d["pointId"]),
        asset_id=_optional(d.get("assetId")),
        asset_labels=_labels(d.get("assetClasses")),
        stale=event.kind is Kind.POINT_STALE,
        at=epoch(d["at"]),
        model=event.model,
    )


def risk_event(event: TwinEvent) -> RiskEvent:
    d = event.data
    return RiskEvent(
        kind=event.kind.value,
        model=event.model,
        asset_id=str(d["assetId"]),
        asset_labels=_labels(d.get("assetClasses")),
        data=dict(d),
        at=event.time,
    )


def epoch(moment: object) -> float:
    """Epoch seconds of an RFC 3339 time."""
    if not isinstance(moment, str):
        raise TypeError(f"a time must be an RFC 3339 string, not {type(moment).__name__}")
    return datetime.fromisoformat(moment).timestamp()


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _labels(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError("assetClasses must be a list")
    return tuple(str(v) for v in value)


def server_id() -> str:
    """A client id of its own for a server's connection: ``kgtwin-serve-<host>-<pid>-<random>``
    (several apps may run in one process, as in tests)."""
    return f"kgtwin-serve-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class _Metrics(Collector):
    def __init__(self, stream: EventStream) -> None:
        self.stream = stream

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self.stream
        yield CounterMetricFamily(
            "kgtwin_event_stream_received", "Messages the event stream received.", s.received
        )
        yield CounterMetricFamily(
            "kgtwin_event_stream_malformed",
            "Messages on kgtwin/events/ that were not readable twin events (skipped).",
            s.malformed,
        )
        yield GaugeMetricFamily(
            "kgtwin_event_stream_connected",
            "1 while the event stream is connected to the broker.",
            float(s.connected),
        )
