"""GraphQL subscriptions end to end, through the real path: an MQTT message published to
the session's broker -> the server's ingestion worker -> the point node in Neo4j -> a
``next`` message on a WebSocket (graphql-transport-ws), and the ``asset`` query over HTTP.

One app for the module: ingestion on (a client id of its own), anonymous read off (so every
connection authenticates), dc1 loaded, plus a small model of "fast" points (expected every
0.5 s) under a topic prefix of its own, so staleness comes and goes within seconds. Before
any test runs, the worker is shown to be subscribed: a message on an unknown dc1 topic comes
back as a dead letter.

Whether a subscription is being served is read from the app's ``LiveHub`` (its open
feeds): a test publishes only once its subscription listens, and every connection, once
closed, must leave no feed open. Every wait is bounded by ``WAIT``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from kgtwin.graph.tokens import create_token
from kgtwin.ingest.address import configure
from kgtwin.ingest.messages import dead_letter_topic
from kgtwin.ontology.validate import Ontology
from kgtwin.server.app import create_app
from kgtwin.server.loading import load_model
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import Neo4jService
from tests.server.serving import serving, settings_for

WAIT = 15.0  # seconds any one thing may take: an event, a close, a feed opening
PROTOCOL = Subprotocol("graphql-transport-ws")
SITE = "https://w3id.org/kgtwin/site/dc1#"
FAST = "https://w3id.org/kgtwin/site/livetest#"
FAST_INTERVAL = 0.5  # seconds; a point is stale after three of them without data
FAST_ASSETS = {"fast-a": 1, "fast-b": 8}  # asset id -> how many fast points it has

UPDATE_FIELDS = "pointId pointIri assetId value unit observedAt receivedAt quality"
POINT_UPDATES = (
    "subscription Updates($assetId: String, $class: String) {"
    f" pointUpdated(assetId: $assetId, class: $class) {{ {UPDATE_FIELDS} }} }}"
)
STALENESS = (
    "subscription Staleness($assetId: String) {"
    " stalenessChanged(assetId: $assetId) { pointId pointIri assetId stale at } }"
)
POINTS = (
    "query Points($id: String) {"
    " asset(id: $id) { points(first: 20) { id value unit observedAt stale } } }"
)


# ---------------------------------------------------------------------------- the set-up


def fast_model(prefix: str) -> str:
    """Turtle for pumps whose flow sensors report every 0.5 s on ``prefix/<point id>``."""
    head = """
@prefix site: <https://w3id.org/kgtwin/site/livetest#> .
@prefix kgt:  <https://w3id.org/kgtwin/core#> .
@prefix dc:   <https://w3id.org/kgtwin/datacentre#> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

site:fast-room a dc:PlantRoom ; rdfs:label "Fast room" .
"""
    parts = [head]
    for asset, count in FAST_ASSETS.items():
        points = [f"site:{asset}.flow-{n}" for n in range(1, count + 1)]
        parts.append(
            f"""
site:{asset}
    a dc:ChilledWaterPump ;
    rdfs:label "Pump {asset}" ;
    kgt:locatedIn site:fast-room ;
    kgt:ratedCapacity 50.0 ;
    kgt:designLoad 30.0 ;
    kgt:capacityUnit unit:M3-PER-HR ;
    kgt:mtbfHours 40000.0 ;
    kgt:mttrHours 8.0 ;
    kgt:hasPoint {", ".join(points)} .
"""
        )
        for point in points:
            local = point.removeprefix("site:")
            parts.append(
                f"""
{point}
    a dc:FlowSensor ;
    rdfs:label "Flow {local}" ;
    kgt:unit unit:M3-PER-HR ;
    kgt:datatype "double" ;
    kgt:minValue 0.0 ;
    kgt:maxValue 60.0 ;
    kgt:expectedInterval {FAST_INTERVAL} ;
    kgt:mqttTopic "{prefix}/{local}" .
"""
            )
    return "".join(parts)


class Publisher:
    """An MQTT client of the test's own: publishes (QoS 1, waiting for the broker's
    acknowledgement) and collects what arrives on the topics it subscribes to."""

    def __init__(self, broker: MqttService) -> None:
        self.received: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()
        connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=unique("kgtwin-test-pub"), protocol=mqtt.MQTTv5
        )
        configure(self.client, broker.address)
        self.client.on_connect = lambda *_: connected.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.address.host, broker.address.port)
        self.client.loop_start()
        assert connected.wait(WAIT), "the test's MQTT client did not connect"

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.setdefault(msg.topic, []).append(bytes(msg.payload))

    def publish(self, topic: str, payload: object) -> None:
        info = self.client.publish(topic, json.dumps(payload), qos=1)
        info.wait_for_publish(WAIT)
        assert info.is_published(), f"the broker did not take the message on {topic}"

    def listen(self, topic: str) -> None:
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(WAIT), f"the broker did not confirm the subscription to {topic}"

    def got(self, topic: str) -> bool:
        with self._lock:
            return bool(self.received.get(topic))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Live:
    app: Starlette
    http: httpx.Client
    url: str  # ws://host:port/graphql
    viewer: str  # a viewer token
    publisher: Publisher
    prefix: str  # the fast points' topic prefix

    def feeds(self) -> int:
        """Subscriptions the server is serving now."""
        count: int = self.app.state.services.live.open_feeds()
        return count

    def serving(self, count: int) -> None:
        until(lambda: self.feeds() == count, f"{count} subscription(s) served")

    def query(self, query: str, **variables: Any) -> Any:
        response = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.viewer}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def point(self, asset_id: str, point_id: str) -> dict[str, Any]:
        points = self.query(POINTS, id=asset_id)["asset"]["points"]
        (found,) = [p for p in points if p["id"] == point_id]
        return dict(found)

    def socket(self, **kwargs: Any) -> AbstractContextManager[Socket]:
        return open_socket(self, **kwargs)


def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s")
        time.sleep(0.02)


def worker_ready(publisher: Publisher) -> None:
    """Publish on an unknown dc1 topic until its dead letter comes back: the worker is
    then subscribed (to dc1/# and, in the same request, the fast points' filter)."""
    probe = unique("dc1/probe")
    publisher.listen(dead_letter_topic(probe))
    deadline = time.monotonic() + 2 * WAIT
    while not publisher.got(dead_letter_topic(probe)):
        if time.monotonic() > deadline:
            pytest.fail("the ingestion worker did not dead-letter a probe message in time")
        publisher.publish(probe, {"value": 1})
        time.sleep(0.3)


@pytest.fixture(scope="module")
def live(
    dc1: Driver,
    ontology: Ontology,
    neo4j_server: Neo4jService,
    mqtt_broker: MqttService,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    prefix = unique("kgtwin-test-fast")
    model = tmp_path_factory.mktemp("subscriptions") / "fast.ttl"
    model.write_text(fast_model(prefix))
    loaded = load_model(dc1, [Path(model)], "livetest", ontology)
    assert loaded.report.ok, loaded.report.problems
    viewer = create_token(dc1, "viewer", unique("subscriber")).token
    settings = settings_for(
        neo4j_server.uri,
        neo4j_server.user,
        neo4j_server.password,
        anonymous_read=False,
        ingest=True,
        mqtt_url=mqtt_broker.url,
        mqtt_client_id=unique("kgtwin-test-subscriptions"),
    )
    app = create_app(settings)
    publisher = Publisher(mqtt_broker)
    try:
        with serving(app) as http:
            worker_ready(publisher)
            url = str(http.base_url).replace("http://", "ws://", 1).rstrip("/") + "/graphql"
            yield Live(app, http, url, viewer, publisher, prefix)
    finally:
        publisher.close()


# ------------------------------------------------------------------- the WebSocket client


class Socket:
    """A graphql-transport-ws client connection (acknowledged)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
        return message

    def subscribe(self, op: str, query: str, **variables: Any) -> None:
        self.send(
            {"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    def next(self, op: str, timeout: float = WAIT) -> dict[str, Any]:
        """The data of the next message, which must be a ``next`` of ``op`` without errors."""
        message = self.receive(timeout)
        assert message["type"] == "next", message
        assert message["id"] == op, message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data


def dial(
    url: str, headers: dict[str, str] | None = None, protocol: str = PROTOCOL
) -> ClientConnection:
    return connect(
        url,
        subprotocols=[Subprotocol(protocol)],
        additional_headers=headers,
        open_timeout=WAIT,
        close_timeout=WAIT,
        proxy=None,
    )


@contextmanager
def open_socket(
    live: Live,
    *,
    payload: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    authenticated: bool = True,
) -> Iterator[Socket]:
    """A connection initialised (with the viewer token unless ``payload`` or
    ``authenticated`` says otherwise) and acknowledged; once closed, no feed may stay open."""
    if payload is None and authenticated:
        payload = {"Authorization": f"Bearer {live.viewer}"}
    with dial(live.url, headers) as ws:
        socket = Socket(ws)
        socket.send({"type": "connection_init", "payload": payload or {}})
        assert socket.receive() == {"type": "connection_ack"}
        yield socket
    live.serving(0)


def refusal(live: Live, payload: dict[str, Any] | None) -> tuple[int, str]:
    """The close code and reason of a connection whose ``connection_init`` is refused."""
    with dial(live.url) as ws:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        ws.send(json.dumps(message))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def power(live: Live, asset: str, watts: float) -> None:
    """Publish an output power in W to ``asset``'s dc1 point (whose unit is kW)."""
    live.publisher.publish(f"dc1/{asset}/output-power", {"value": watts, "unit": "W"})


# --------------------------------------------------------------------------- point updates


def test_an_update_arrives_converted_and_the_asset_query_shows_it(live: Live) -> None:
    before = time.time()
    with live.socket() as socket:
        socket.subscribe("1", POINT_UPDATES, assetId="ups-a1")
        live.serving(1)
        power(live, "ups-a1", 97_500)
        update = socket.next("1")["pointUpdated"]
    assert {k: v for k, v in update.items() if not k.endswith("At")} == {
        "pointId": "ups-a1.output-power",
        "pointIri": SITE + "ups-a1.output-power",
        "assetId": "ups-a1",
        "value": 97.5,
        "unit": "KiloW",
        "quality": "good",
    }
    observed, received = moment(update["observedAt"]), moment(update["receivedAt"])
    assert observed.tzinfo is not None
    assert before - 1 <= observed.timestamp() <= received.timestamp() <= time.time() + 1

    point = live.point("ups-a1", "ups-a1.output-power")
    assert point["value"] == 97.5
    assert point["unit"] == "KiloW"
    assert point["stale"] is False
    # the graph keeps milliseconds
    assert abs(moment(point["observedAt"]).timestamp() - observed.timestamp()) < 0.001


def test_an_asset_filter_passes_only_that_assets_points(live: Live) -> None:
    """The worker keeps the newest value per point of a batch, so each value is awaited
    before the next one is sent."""
    with live.socket() as socket:
        socket.subscribe("a1", POINT_UPDATES, assetId="ups-a1")
        live.serving(1)
        power(live, "ups-a1", 100_000)
        assert socket.next("a1")["pointUpdated"]["value"] == 100.0  # listening, for sure
        power(live, "generator-a", 850_000)  # another asset: filtered out
        power(live, "ups-a1", 101_000)
        assert socket.next("a1")["pointUpdated"]["value"] == 101.0
        # had the generator's value passed, it would come before this one (it was
        # committed before, or in the same batch as, the value just received)
        power(live, "ups-a1", 102_000)
        assert socket.next("a1")["pointUpdated"]["value"] == 102.0
    assert live.point("generator-a", "generator-a.output-power")["value"] == 850.0  # it landed


def test_a_class_filter_passes_the_points_of_assets_of_that_class(live: Live) -> None:
    with live.socket() as socket:
        socket.subscribe("ups", POINT_UPDATES, **{"class": "UPS"})
        socket.subscribe("all", POINT_UPDATES)
        live.serving(2)
        power(live, "generator-a", 900_000)  # a Generator, not a UPS
        power(live, "ups-b1", 120_000)
        power(live, "ups-a1", 110_000)
        received = receive_updates(socket, {"ups": 2, "all": 3})
        assert sorted(received["ups"]) == [("ups-a1", 110.0), ("ups-b1", 120.0)]
        assert sorted(received["all"]) == [
            ("generator-a", 900.0),
            ("ups-a1", 110.0),
            ("ups-b1", 120.0),
        ]
        # a last UPS value, sent once the others are in: had the generator's passed the
        # filter, it would come before this one
        power(live, "ups-a1", 111_000)
        after = receive_updates(socket, {"ups": 1, "all": 1})
        assert after == {"ups": [("ups-a1", 111.0)], "all": [("ups-a1", 111.0)]}


def receive_updates(socket: Socket, counts: dict[str, int]) -> dict[str, list[tuple[str, float]]]:
    """``pointUpdated`` events (asset id, value) by operation, as many as ``counts`` says."""
    received: dict[str, list[tuple[str, float]]] = {op: [] for op in counts}
    while any(len(received[op]) < n for op, n in counts.items()):
        message = socket.receive()
        assert message["type"] == "next", message
        update = message["payload"]["data"]["pointUpdated"]
        received[message["id"]].append((update["assetId"], update["value"]))
        assert len(received[message["id"]]) <= counts[message["id"]], received
    return received


def metric(live: Live, name: str, **labels: str) -> float:
    wanted = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in live.http.get("/metrics").text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == wanted:
            return float(value)
    return 0.0


def test_an_unknown_class_or_asset_is_an_error_that_says_what_is_valid(live: Live) -> None:
    errors_before = metric(live, "kgtwin_graphql_errors_total", code="UNKNOWN_CLASS")
    with live.socket() as socket:
        socket.subscribe("c", POINT_UPDATES, **{"class": "UPSS"})
        message = socket.receive()
        assert message["type"] == "error", message
        (error,) = message["payload"]
        assert error["extensions"] == {"code": "UNKNOWN_CLASS"}
        assert error["path"] == ["pointUpdated"]
        assert "unknown class 'UPSS' (did you mean 'UPS'?); valid choices:" in error["message"]
        assert "Generator" in error["message"]

        socket.subscribe("a", STALENESS, assetId="ups-z9")
        message = socket.receive()
        assert message["type"] == "error", message
        (error,) = message["payload"]
        assert error["extensions"] == {"code": "NOT_FOUND"}
        assert error["message"] == "no asset has the id 'ups-z9'"
        assert live.feeds() == 0
    errors = metric(live, "kgtwin_graphql_errors_total", code="UNKNOWN_CLASS")
    assert errors == errors_before + 1


def test_a_subscription_ends_and_its_feed_closes_when_the_client_completes_it(
    live: Live,
) -> None:
    with live.socket() as socket:
        socket.subscribe("1", POINT_UPDATES, assetId="ups-a1")
        socket.subscribe("2", STALENESS)
        live.serving(2)
        socket.send({"id": "1", "type": "complete"})
        live.serving(1)
        power(live, "ups-a1", 90_000)  # nothing for "1" any more
        socket.subscribe("3", POINT_UPDATES, assetId="ups-a1")
        live.serving(2)
        power(live, "ups-a1", 91_000)
        message = socket.receive()
        assert (message["id"], message["type"]) == ("3", "next"), message
    # leaving the block closed the connection with "2" and "3" running: open_socket checks
    # that their feeds closed too


# ------------------------------------------------------------------------------- staleness


def fast_topic(live: Live, point_id: str) -> str:
    return f"{live.prefix}/{point_id}"


def test_staleness_goes_on_after_silence_and_off_when_data_arrives(live: Live) -> None:
    """A point reports once and falls silent: it goes stale within three intervals plus
    the worker's one-second sweep; it reports again and is fresh again."""
    point = "fast-a.flow-1"
    with live.socket() as socket:
        socket.subscribe("s", STALENESS, assetId="fast-a")
        live.serving(1)
        live.publisher.publish(fast_topic(live, point), {"value": 12.5})
        went_stale = socket.next("s")["stalenessChanged"]
        assert went_stale | {"at": None} == {
            "pointId": point,
            "pointIri": FAST + point,
            "assetId": "fast-a",
            "stale": True,
            "at": None,
        }
        assert moment(went_stale["at"]).timestamp() <= time.time() + 1
        assert live.point("fast-a", point)["stale"] is True

        live.publisher.publish(fast_topic(live, point), {"value": 13.0})
        fresh = socket.next("s")["stalenessChanged"]
        assert (fresh["pointId"], fresh["stale"]) == (point, False)
        # at once: it goes stale again after three intervals (1.5 s) of silence
        assert live.point("fast-a", point) | {"observedAt": None} == {
            "id": point,
            "value": 13.0,
            "unit": "M3-PER-HR",
            "observedAt": None,
            "stale": False,
        }


def test_every_silent_point_goes_stale(live: Live) -> None:
    """Regression: the worker compared a point's silence at int(ms) while it had written
    round(ms), so about half the points never went stale (fixed in ingest/worker.py)."""
    points = {f"fast-b.flow-{n}" for n in range(1, FAST_ASSETS["fast-b"] + 1)}
    with live.socket() as socket:
        socket.subscribe("s", STALENESS, assetId="fast-b")
        live.serving(1)
        for point in sorted(points):
            live.publisher.publish(fast_topic(live, point), {"value": 20.0})
        stale: set[str] = set()
        deadline = time.monotonic() + 3 * FAST_INTERVAL + 5.0
        while stale != points and (left := deadline - time.monotonic()) > 0:
            try:
                event = socket.next("s", timeout=left)["stalenessChanged"]
            except TimeoutError:
                break
            if event["stale"]:
                stale.add(event["pointId"])
    assert stale == points, f"never went stale: {sorted(points - stale)}"


# ------------------------------------------------------------------------- authentication


def test_without_a_token_the_connection_is_refused_when_anonymous_read_is_off(
    live: Live,
) -> None:
    code, reason = refusal(live, None)
    assert code == 4403
    assert "anonymous read is off" in reason
    assert refusal(live, {})[0] == 4403


@pytest.mark.parametrize(
    "payload",
    [
        {"Authorization": "Bearer kgt_not-a-token-anyone-issued"},
        {"token": "kgt_not-a-token-anyone-issued"},
    ],
)
def test_an_unknown_token_is_refused(live: Live, payload: dict[str, str]) -> None:
    code, reason = refusal(live, payload)
    assert code == 4403
    assert reason == "Forbidden: the bearer token is not valid: it is unknown or has been revoked"


@pytest.mark.parametrize(
    "payload", [{"Authorization": "Token abc"}, {"authorization": 42}, {"token": ""}]
)
def test_a_malformed_credential_is_refused(live: Live, payload: dict[str, Any]) -> None:
    code, reason = refusal(live, payload)
    assert code == 4403
    assert reason.startswith("Forbidden: connection_init's ")


def test_a_viewer_token_in_the_payload_or_the_upgrade_header_is_accepted(live: Live) -> None:
    with live.socket(payload={"token": live.viewer}) as socket:
        socket.subscribe("1", POINT_UPDATES, assetId="ups-b1")
        live.serving(1)
        power(live, "ups-b1", 130_000)
        assert socket.next("1")["pointUpdated"]["value"] == 130.0
    header = {"Authorization": f"Bearer {live.viewer}"}
    with live.socket(headers=header, authenticated=False) as socket:
        socket.subscribe("1", POINT_UPDATES, assetId="ups-b1")
        live.serving(1)
        power(live, "ups-b1", 131_000)
        assert socket.next("1")["pointUpdated"]["value"] == 131.0


def test_a_bad_token_in_the_upgrade_header_is_refused_at_the_handshake(live: Live) -> None:
    with pytest.raises(InvalidStatus) as refused:
        dial(live.url, {"Authorization": "Bearer kgt_not-a-token-anyone-issued"})
    assert refused.value.response.status_code == 403


def test_the_legacy_graphql_ws_protocol_is_refused(live: Live) -> None:
    with dial(live.url, protocol="graphql-ws") as ws:
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4406


# ----------------------------------------------------- queries, limits and codes over WebSocket


def test_queries_over_a_websocket_read_afresh_each_time(live: Live) -> None:
    """One connection, two queries with a new value between them: the second sees it (each
    operation has dataloaders of its own, not the connection's)."""
    with live.socket() as socket:
        for op, watts in (("q1", 140_000), ("q2", 141_000)):
            socket.subscribe("w", POINT_UPDATES, assetId="ups-a2")
            live.serving(1)
            power(live, "ups-a2", watts)
            assert socket.next("w")["pointUpdated"]["value"] == watts / 1000
            socket.send({"id": "w", "type": "complete"})
            live.serving(0)
            socket.subscribe(op, POINTS, id="ups-a2")
            points = socket.next(op)["asset"]["points"]
            assert socket.receive() == {"id": op, "type": "complete"}
            (shown,) = [p for p in points if p["id"] == "ups-a2.output-power"]
            assert shown["value"] == watts / 1000


def test_limits_and_error_codes_apply_over_a_websocket(live: Live) -> None:
    nested = "id"
    for _ in range(6):
        nested = f"relationships {{ other {{ {nested} }} }}"
    with live.socket() as socket:
        socket.subscribe("deep", f'{{ asset(id: "ups-a1") {{ {nested} }} }}')
        message = socket.receive()
        assert message["type"] == "error", message
        (error,) = message["payload"]
        assert error["extensions"]["code"] == "DEPTH_LIMIT"

        socket.subscribe("bad", "subscription { pointUpdated { nope } }")
        message = socket.receive()
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}

        socket.subscribe("none", '{ asset(id: "nope") { id } }')
        message = socket.receive()
        assert message["type"] == "next", message
        assert message["payload"]["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_subscription_over_http_is_refused_with_a_pointer_to_the_websocket(
    live: Live, method: str
) -> None:
    query = "subscription { pointUpdated { pointId } }"
    response = live.http.request(
        method,
        "/graphql",
        params={"query": query} if method == "GET" else None,
        json={"query": query} if method == "POST" else None,
        headers={"Authorization": f"Bearer {live.viewer}"},
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "errors": [
            {
                "message": "subscriptions are not served over HTTP: open a WebSocket to "
                "/graphql (subprotocol graphql-transport-ws)",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


def test_metrics_count_a_subscription_without_a_latency(live: Live) -> None:
    count_before = metric(live, "kgtwin_graphql_requests_total", operation="Updates")
    latency_before = metric(live, "kgtwin_graphql_request_seconds_count", operation="Updates")
    with live.socket() as socket:
        socket.subscribe("1", POINT_UPDATES, assetId="ups-a1")
        live.serving(1)
        socket.send({"id": "1", "type": "complete"})
        live.serving(0)
    until(
        lambda: (
            metric(live, "kgtwin_graphql_requests_total", operation="Updates") == count_before + 1
        ),
        "subscription counted",
    )
    assert metric(live, "kgtwin_graphql_request_seconds_count", operation="Updates") == (
        latency_before
    )


CAPACITY_WHAT_IF = """
query ($fail: [String!]!) {
  whatIf(fail: $fail, mode: CAPACITY) {
    trips { id load capacity sources }
    loads { id ownLoad source point }
  }
}
"""


def test_a_capacity_what_if_uses_the_load_that_just_arrived_over_mqtt(live: Live) -> None:
    """MQTT -> ingestion -> the load point in Neo4j -> whatIf's capacity cascade: PDU B1
    fits PDU A1's load at 5 kW, and trips once A1 reports 60 kW (140 + 60 > 150)."""
    power(live, "pdu-h1-b1", 140_000)  # W, converted to the point's kW
    power(live, "pdu-h1-a1", 5_000)

    def answer() -> dict[str, Any] | None:
        response = live.http.post(
            "/graphql",
            json={"query": CAPACITY_WHAT_IF, "variables": {"fail": ["pdu-h1-a1"]}},
            headers={"Authorization": f"Bearer {live.viewer}"},
        ).json()
        if "errors" in response:  # NOT_READY until the server's first snapshot
            assert response["errors"][0]["extensions"]["code"] == "NOT_READY", response
            return None
        result: dict[str, Any] = response["data"]["whatIf"]
        return result

    def b1_loaded(expected: float) -> bool:
        result = answer()
        if result is None:
            return False
        b1 = [item for item in result["loads"] if item["id"] == "pdu-h1-b1"]
        return b1 == [
            {
                "id": "pdu-h1-b1",
                "ownLoad": expected,
                "source": "TELEMETRY",
                "point": "pdu-h1-b1.output-power",
            }
        ]

    until(lambda: b1_loaded(140.0), "what-if reading PDU B1's live load")
    power(live, "pdu-h1-a1", 60_000)

    def tripped() -> bool:
        result = answer()
        return result is not None and any(t["id"] == "pdu-h1-b1" for t in result["trips"])

    until(tripped, "PDU B1 tripping on A1's live load")
    result = answer()
    assert result is not None
    trip = next(t for t in result["trips"] if t["id"] == "pdu-h1-b1")
    assert (trip["load"], trip["capacity"], trip["sources"]) == (200.0, 150.0, ["pdu-h1-a1"])


LIVE_STATE_WHAT_IF = """
{
  whatIf(fail: ["ups-b1"], fromLiveState: true) {
    failed reportedFailures { id point } impacted(first: 100, class: "Rack") { id }
  }
}
"""


def test_a_what_if_from_the_live_state_follows_a_fault_reported_over_mqtt(live: Live) -> None:
    """MQTT -> ingestion -> UPS A1's fault point in Neo4j -> whatIf(fromLiveState): with A1
    reported failed, UPS B1 failing takes hall 1's 40 racks down; once the fault clears,
    none."""

    def racks_down() -> int | None:
        response = live.http.post(
            "/graphql",
            json={"query": LIVE_STATE_WHAT_IF},
            headers={"Authorization": f"Bearer {live.viewer}"},
        ).json()
        if "errors" in response:  # NOT_READY until the server's first snapshot
            assert response["errors"][0]["extensions"]["code"] == "NOT_READY", response
            return None
        return len(response["data"]["whatIf"]["impacted"])

    live.publisher.publish("dc1/ups-a1/fault", True)
    until(lambda: racks_down() == 40, "the what-if starting from UPS A1's reported fault")
    live.publisher.publish("dc1/ups-a1/fault", False)
    until(lambda: racks_down() == 0, "the what-if once UPS A1's fault cleared")
