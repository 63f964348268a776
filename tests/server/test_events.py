"""The twin's events end to end, through the real path: MQTT telemetry -> an ingestion
worker (as ``kgtwin ingest`` runs it) -> Neo4j -> CloudEvents on ``kgtwin/events/`` (and the
present retained on ``kgtwin/state/``) -> the event stream of servers A and B (neither
ingests) -> GraphQL subscriptions on both; and the live risk watch: a UPS that reports a
fault -> risk events, the ``risks`` query, ``riskChanged``.

Every event a test's own MQTT client receives is checked against its kind's JSON Schema.
Other modules' servers share the session's broker, so each test looks only at its own
assets' events. Every wait is bounded by ``WAIT``.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from kgtwin.graph.sync import BATCH_SIZE, TRANSACTION_ROWS, WRITERS
from kgtwin.graph.tokens import create_token
from kgtwin.ingest.address import configure
from kgtwin.ingest.metrics import IngestMetrics
from kgtwin.ingest.outbound.envelope import MAX_EVENT_BYTES
from kgtwin.ingest.outbound.listener import EventListener
from kgtwin.ingest.outbound.publisher import EventPublisher
from kgtwin.ingest.worker import IngestWorker
from kgtwin.ontology.units import Units
from kgtwin.ontology.validate import Ontology
from kgtwin.server.app import create_app
from kgtwin.server.loading import load_model
from kgtwin.server.model_commands import Output, cmd_load
from kgtwin.server.settings import Settings
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import Neo4jService
from tests.server.serving import serving, settings_for
from tests.server.test_subscriptions import (
    POINT_UPDATES,
    STALENESS,
    Live,
    Publisher,
    fast_model,
    open_socket,
    until,
    worker_ready,
)

WAIT = 20.0
SCHEMAS = resources.files("kgtwin.ingest") / "outbound" / "schemas"
RISKS = (
    "subscription Risks($assetId: String, $class: String) {"
    " riskChanged(assetId: $assetId, class: $class) { kind model assetId path detail missed } }"
)
RISKS_NOW = (
    "query Now($class: String) { risks(class: $class, first: 100) {"
    " reportedFailures total risks { kind assetId path detail } } }"
)
SMALL_MODEL = """
@prefix site: <https://w3id.org/kgtwin/site/eventsload#> .
@prefix dc:   <https://w3id.org/kgtwin/datacentre#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

site:room a dc:PlantRoom ; rdfs:label "A room loaded to see its event" .
"""
BACKLOG = 5  # events a subscription of these servers may lag by
UPDATES_MISSED = (
    "subscription Updates($assetId: String) {"
    " pointUpdated(assetId: $assetId) { pointId value missed } }"
)


def schema(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    return loaded


class Events:
    """A plain MQTT client following ``filters``: every message kept by topic, each event's
    data checked against its kind's schema as it arrives (a failure is kept, then raised)."""

    def __init__(self, broker: MqttService, *filters: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []  # topic, body, retained
        self.invalid: list[str] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=unique("kgtwin-test-events"),
            protocol=mqtt.MQTTv5,
        )
        configure(self.client, broker.address)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(broker.address.host, broker.address.port)
        self.client.loop_start()
        self.client.subscribe([(f, 1) for f in filters])
        assert subscribed.wait(WAIT), "the broker did not confirm the test's subscription"

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        body = bytes(msg.payload)
        if body:
            event = json.loads(body)
            kind = event["type"].removeprefix("org.w3id.kgtwin.")
            try:
                jsonschema.validate(
                    event["data"], schema(kind), format_checker=jsonschema.FormatChecker()
                )
            except jsonschema.ValidationError as exc:
                self.invalid.append(f"{msg.topic}: {exc.message}")
        with self._lock:
            self.messages.append((msg.topic, body, bool(msg.retain)))

    def on(self, topic: str) -> list[dict[str, Any]]:
        """The events (parsed) that arrived on ``topic``, in order (empty bodies: None)."""
        with self._lock:
            return [json.loads(b) if b else {} for t, b, _r in self.messages if t == topic]

    def topics(self, prefix: str) -> set[str]:
        with self._lock:
            return {t for t, b, _r in self.messages if t.startswith(prefix) and b}

    def wait_for(self, topic: str, count: int = 1) -> list[dict[str, Any]]:
        until(lambda: len(self.on(topic)) >= count, f"{count} event(s) on {topic}", WAIT)
        return self.on(topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        assert not self.invalid, self.invalid


@dataclass
class Twin:
    """One ingestion worker (as ``kgtwin ingest``) and two servers that do not ingest."""

    a: Live
    b: Live
    broker: MqttService
    settings: Settings
    operator: str


def live_of(app: Starlette, http: Any, viewer: str, publisher: Publisher, prefix: str) -> Live:
    url = str(http.base_url).replace("http://", "ws://", 1).rstrip("/") + "/graphql"
    return Live(app, http, url, viewer, publisher, prefix)


@contextmanager
def server(settings: Settings, viewer: str, publisher: Publisher, prefix: str) -> Iterator[Live]:
    app = create_app(settings)
    with serving(app) as http:
        until(lambda: app.state.services.cache.current is not None, "a built snapshot", WAIT)
        until(lambda: _stream_connected(app), "the event stream connected", WAIT)
        yield live_of(app, http, viewer, publisher, prefix)


def _stream_connected(app: Starlette) -> bool:
    stream = getattr(app.state, "event_stream", None)
    return stream is not None and stream.following


@pytest.fixture(scope="module")
def twin(
    dc1: Driver,
    ontology: Ontology,
    neo4j_server: Neo4jService,
    mqtt_broker: MqttService,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Twin]:
    prefix = unique("kgtwin-test-events-fast")
    model = tmp_path_factory.mktemp("events") / "fast.ttl"
    model.write_text(fast_model(prefix))
    assert load_model(dc1, [Path(model)], "livetest", ontology).report.ok
    viewer = create_token(dc1, "viewer", unique("events-viewer")).token
    operator = create_token(dc1, "operator", unique("events-operator")).token
    common = {
        "anonymous_read": False,
        "mqtt_url": mqtt_broker.url,
        "subscription_backlog": BACKLOG,
    }
    connection = (neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    settings = settings_for(*connection, **common)
    publisher = Publisher(mqtt_broker)
    try:
        with (
            worker(settings.override(mqtt_client_id=unique("kgtwin-test-events")), dc1),
            server(settings, viewer, publisher, prefix) as a,
            server(settings, viewer, publisher, prefix) as b,
        ):
            worker_ready(publisher)
            yield Twin(a, b, mqtt_broker, settings, operator)
    finally:
        publisher.close()


@contextmanager
def worker(settings: Settings, driver: Driver) -> Iterator[IngestWorker]:
    """An ingestion worker publishing its events, as ``kgtwin ingest`` runs it."""
    config = settings.ingest_config()
    events = EventPublisher(config.address, config.client_id)
    listener = EventListener(events, source=f"/kgtwin/ingest/{config.client_id}")
    units = Units.read(settings.ontology_files)
    running = IngestWorker(
        config, driver, IngestMetrics(CollectorRegistry()), units, listener=listener
    )
    events.start()
    running.start()
    try:
        assert running.wait_ready(WAIT), "the ingestion worker did not get ready"
        yield running
    finally:
        running.stop()
        events.stop()


# ------------------------------------------------------------------ both servers stream


def test_two_servers_stream_the_same_point_updates(twin: Twin) -> None:
    with twin.a.socket() as on_a, open_socket(twin.b) as on_b:
        on_a.subscribe("1", POINT_UPDATES, assetId="ups-b1")
        on_b.subscribe("1", POINT_UPDATES, assetId="ups-b1")
        twin.a.serving(1)
        twin.b.serving(1)
        twin.a.publisher.publish("dc1/ups-b1/output-power", {"value": 123.5})
        got_a = on_a.next("1")["pointUpdated"]
        got_b = on_b.next("1")["pointUpdated"]
    assert got_a == got_b
    assert (got_a["assetId"], got_a["value"]) == ("ups-b1", 123.5)


def test_two_servers_stream_the_same_staleness_changes(twin: Twin) -> None:
    point = "fast-a.flow-1"
    topic = f"{twin.a.prefix}/{point}"
    with twin.a.socket() as on_a, open_socket(twin.b) as on_b:
        on_a.subscribe("1", STALENESS, assetId="fast-a")
        on_b.subscribe("1", STALENESS, assetId="fast-a")
        twin.a.serving(1)
        twin.b.serving(1)
        twin.a.publisher.publish(topic, {"value": 10.0})
        seen: dict[str, list[tuple[str, bool]]] = {"a": [], "b": []}
        for name, socket in (("a", on_a), ("b", on_b)):
            while (point, True) not in seen[name]:
                change = socket.next("1")["stalenessChanged"]
                seen[name].append((change["pointId"], change["stale"]))
    assert seen["a"] == seen["b"]


def test_a_subscriber_that_falls_behind_is_told_and_ingestion_goes_on(twin: Twin) -> None:
    """The subscriber reads nothing while a burst is written: ingestion writes every value
    all the same, and what the subscriber then reads plus what it is told it missed is every
    event the stream carried for its asset."""
    sent = 60
    events = Events(twin.broker, "kgtwin/events/dc1/pointsUpdated")
    try:
        with twin.b.socket() as slow:
            slow.subscribe("1", UPDATES_MISSED, assetId="generator-b")
            twin.b.serving(1)
            start = time.time()
            for n in range(sent):
                value = {"value": float(n), "ts": start + n / 1000}
                twin.a.publisher.publish("dc1/generator-b/output-power", value)
            until(
                lambda: (
                    twin.a.point("generator-b", "generator-b.output-power")["value"] == sent - 1
                ),
                "the last value written",
            )
            until(lambda: (sent - 1) in _values(events), "the last value's event")
            carried = len(_values(events))
            got, missed, last = 0, 0, None
            while got + missed < carried:
                update = slow.next("1")["pointUpdated"]
                got, missed, last = got + 1, missed + update["missed"], update["value"]
        assert got + missed == carried
        assert last == sent - 1  # the newest is never the one dropped
    finally:
        events.close()


def _subjects(events: Events, prefix: str) -> set[str]:
    """The last topic level (the asset) of the events under ``prefix``."""
    return {t.rsplit("/", 1)[1] for t in events.topics(prefix)}


def _values(events: Events) -> list[float]:
    """The values of generator-b's output power that pointsUpdated events carried."""
    return [
        p["value"]
        for e in events.on("kgtwin/events/dc1/pointsUpdated")
        for p in e["data"]["points"]
        if p["pointId"] == "generator-b.output-power"
    ]


# --------------------------------------------------------------- failures and the risk watch


def test_a_reported_failure_is_published_retained_and_cleared_with_its_risk(twin: Twin) -> None:
    events = Events(twin.broker, "kgtwin/events/dc1/#")
    try:
        with twin.b.socket() as socket:
            socket.subscribe("1", RISKS, assetId=None)
            twin.b.serving(1)
            twin.a.publisher.publish("dc1/ups-a1/fault", {"value": True})
            (reported,) = events.wait_for("kgtwin/events/dc1/failureReported/ups-a1/ups-a1.fault")
            assert reported["data"]["failed"] is True
            assert reported["subject"] == "ups-a1"
            risk = socket.next("1", timeout=WAIT)["riskChanged"]
            assert risk["model"] == "dc1"
            assert "ups-a1" in risk["path"] or risk["kind"] == "newSinglePointOfFailure"
            now = twin.b.query(RISKS_NOW)["risks"]
            assert now["reportedFailures"] == ["ups-a1"]
            kinds = {r["kind"] for r in now["risks"]}
            assert "redundancyLost" in kinds, now
            lost = [r for r in now["risks"] if r["kind"] == "redundancyLost"]
            for r in lost:
                assert r["path"][0] == "ups-a1"
                assert r["detail"]["spare"] == r["detail"]["working"] - r["detail"]["required"]
            lost_ids = {r["assetId"] for r in lost}
            until(
                lambda: _subjects(events, "kgtwin/events/dc1/redundancyLost/") == lost_ids,
                "a redundancyLost event for each asset the risks query lists",
            )

            late = Events(twin.broker, "kgtwin/state/dc1/#")
            try:
                until(
                    lambda: bool(late.on("kgtwin/state/dc1/failureReported/ups-a1/ups-a1.fault")),
                    "the retained failure",
                )
                until(
                    lambda: _subjects(late, "kgtwin/state/dc1/redundancyLost/") == lost_ids,
                    "the retained redundancyLost of each",
                )
            finally:
                late.close()

            twin.a.publisher.publish("dc1/ups-a1/fault", {"value": False})
            events.wait_for("kgtwin/events/dc1/failureCleared/ups-a1/ups-a1.fault")
            until(
                lambda: len(events.topics("kgtwin/events/dc1/redundancyRestored/")) == len(lost),
                "redundancyRestored for each",
            )
            until(lambda: twin.b.query(RISKS_NOW)["risks"]["total"] == 0, "no risk left")
        after = Events(twin.broker, "kgtwin/state/dc1/#")
        try:
            time.sleep(1.0)  # retained messages arrive at once after the subscription
            assert not after.topics("kgtwin/state/dc1/failureReported/")
            assert not after.topics("kgtwin/state/dc1/redundancyLost/")
        finally:
            after.close()
    finally:
        events.close()


def test_each_risk_change_is_published_once_by_two_watching_servers(twin: Twin) -> None:
    events = Events(twin.broker, "kgtwin/events/dc1/#")
    try:
        twin.a.publisher.publish("dc1/ups-b2/fault", {"value": True})
        until(lambda: bool(events.topics("kgtwin/events/dc1/redundancyLost/")), "risk events")
        time.sleep(2.0)  # both watchers have had their turn
        for topic in events.topics("kgtwin/events/dc1/redundancyLost/"):
            assert len(events.on(topic)) == 1, topic
        twin.a.publisher.publish("dc1/ups-b2/fault", {"value": False})
        until(
            lambda: bool(events.topics("kgtwin/events/dc1/redundancyRestored/")),
            "restored events",
        )
    finally:
        events.close()


# ------------------------------------------------------------ restarts, garbage, the rest


def test_a_restarted_server_streams_again(twin: Twin) -> None:
    viewer = twin.a.viewer
    for _ in range(2):
        with server(twin.settings, viewer, twin.a.publisher, twin.a.prefix) as c, c.socket() as s:
            s.subscribe("1", POINT_UPDATES, assetId="ups-a2")
            c.serving(1)
            until(lambda: c.app.state.services.live.open_feeds() == 1, "the feed")
            time.sleep(0.5)  # the new server's stream has subscribed
            twin.a.publisher.publish("dc1/ups-a2/output-power", {"value": 77.0})
            assert s.next("1")["pointUpdated"]["value"] == 77.0


def test_garbage_on_the_event_topics_is_skipped_and_the_stream_goes_on(twin: Twin) -> None:
    before = twin.b.app.state.services.live.open_feeds()
    assert before == 0
    stream = twin.b.app.state.event_stream
    malformed = stream.malformed
    bodies = (b"not json", b"[1]", b'{"specversion": "1.0"}', b"{" * 100_000)
    for body in (*bodies, b"x" * (MAX_EVENT_BYTES + 2**20)):  # the last: larger than allowed
        info = twin.a.publisher.client.publish("kgtwin/events/dc1/pointsUpdated", body, qos=1)
        info.wait_for_publish(WAIT)
    until(lambda: stream.malformed == malformed + len(bodies), "the garbage counted")
    with twin.b.socket() as socket:
        socket.subscribe("1", POINT_UPDATES, assetId="ups-a2")
        twin.b.serving(1)
        twin.a.publisher.publish("dc1/ups-a2/output-power", {"value": 55.0})
        assert socket.next("1")["pointUpdated"]["value"] == 55.0
    assert stream.malformed == malformed + len(bodies)  # the huge one never reached it
    assert stream.connected


def test_a_load_and_a_saved_scenario_are_published(twin: Twin, tmp_path: Path) -> None:
    events = Events(twin.broker, "kgtwin/events/+/modelLoaded", "kgtwin/events/_twin/#")
    try:
        model = tmp_path / "fast.ttl"
        model.write_text(SMALL_MODEL)
        out, err = io.StringIO(), io.StringIO()
        sizes = (BATCH_SIZE, TRANSACTION_ROWS, WRITERS)
        code = cmd_load(twin.settings, [model], "eventsload", sizes, Output.QUIET, out, err)
        assert code == 0, err.getvalue()
        (loaded,) = events.wait_for("kgtwin/events/eventsload/modelLoaded")
        assert loaded["data"]["changed"] is True
        assert loaded["data"]["nodes"]["created"] > 0
        saved = twin.a.http.post(
            "/graphql",
            json={
                "query": 'mutation { saveScenario(name: "events test", fail: ["ups-a1"]) { id } }'
            },
            headers={"Authorization": f"Bearer {twin.operator}"},
        ).json()
        assert "errors" not in saved, saved
        scenario = saved["data"]["saveScenario"]["id"]
        (event,) = events.wait_for(f"kgtwin/events/_twin/scenarioSaved/{scenario}")
        assert event["data"]["failed"] == ["ups-a1"]
    finally:
        events.close()


def test_a_live_load_that_would_trip_a_peer_is_a_capacity_risk_until_it_falls(
    twin: Twin,
) -> None:
    """PDU A1 and B1 share hall 1's racks (2N), each rated 150 kW: at 100 kW each, A1's
    failure would put its load on B1 and trip it (and B1's on A1)."""
    events = Events(twin.broker, "kgtwin/events/dc1/#")
    try:
        for pdu in ("pdu-h1-a1", "pdu-h1-b1"):
            twin.a.publisher.publish(f"dc1/{pdu}/output-power", {"value": 100.0})
        (risk,) = events.wait_for("kgtwin/events/dc1/capacityAtRisk/pdu-h1-b1")
        assert "pdu-h1-a1" in risk["data"]["peers"]
        assert risk["data"]["load"] > risk["data"]["capacity"] == 150.0
        assert risk["data"]["path"][0] == "pdu-h1-b1"
        now = twin.b.query(RISKS_NOW)["risks"]["risks"]
        assert any(r["kind"] == "capacityAtRisk" and r["assetId"] == "pdu-h1-b1" for r in now)
        for pdu in ("pdu-h1-a1", "pdu-h1-b1"):
            twin.a.publisher.publish(f"dc1/{pdu}/output-power", {"value": 40.0})
        events.wait_for("kgtwin/events/dc1/capacityRiskCleared/pdu-h1-b1")
    finally:
        events.close()
