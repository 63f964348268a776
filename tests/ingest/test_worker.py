"""The ingestion worker against the real Mosquitto and the real Neo4j with the example site:
MQTT message in -> point node changed, or a dead letter out. Every test counts: each
message published is applied, outdated (older than what is stored) or dead-lettered.

Outages (Neo4j stopped, broker restarted, the worker killed) are in ``test_worker_outages``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from prometheus_client import CollectorRegistry

from kgtwin.ingest.errors import Reason
from kgtwin.ingest.metrics import IngestMetrics
from kgtwin.ingest.worker import IngestConfig, IngestWorker
from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.ingest.conftest import FAST
from tests.ingest.mqtt_clients import (
    Publisher,
    Running,
    Subscriber,
    running_worker,
    wait_until,
)
from tests.ingest.test_worker_outages import applied, double_points, publish_one_per_point
from tests.mqtt_service import LocalBrokers, MqttService, unique
from tests.units import ontology_units

POWER = "dc1/ups-a1/output-power"  # KiloW, double, 0..440, every 5 s
POWER_ID = "ups-a1.output-power"
AVAILABLE = "dc1/utility-feed-a/available"  # boolean
TEMPERATURE = "dc1/transformer-a/winding-temperature"  # DEG_C, 0..180
INSTANCES = "dc1/svc-web/healthy-instances"  # integer 0..3
POSITION = "dc1/ats-mech-h1/ats-position"  # string


FLOW, FLOW_ID = "fast/pump-1/flow", "pump-1.flow"  # the point of tests.ingest.conftest.FAST


@pytest.fixture
def running(site: Driver, mqtt_broker: MqttService) -> Iterator[Running]:
    with running_worker(site, mqtt_broker.address) as running:
        yield running


@pytest.fixture
def publisher(mqtt_broker: MqttService) -> Iterator[Publisher]:
    with Publisher(mqtt_broker.address) as publisher:
        yield publisher


@pytest.fixture
def dead_letters(mqtt_broker: MqttService) -> Iterator[Subscriber]:
    with Subscriber(mqtt_broker.address, "kgtwin/deadletter/#") as subscriber:
        yield subscriber


def live(driver: Driver, point_id: str) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Point {id: $id}) RETURN p.value AS value, p.observedAt AS observedAt, "
        "p.receivedAt AS receivedAt, p.quality AS quality, p.stale AS stale",
        id=point_id,
    )
    return records[0].data()


def wait_value(driver: Driver, point_id: str, expected: object, timeout: float = 20.0) -> None:
    wait_until(
        lambda: live(driver, point_id)["value"] == expected,
        timeout,
        lambda: f"{point_id} = {live(driver, point_id)['value']!r}, expected {expected!r}",
    )


def test_every_payload_format_lands_on_its_point(
    running: Running, publisher: Publisher, site: Driver
) -> None:
    now = time.time()
    publisher.send(POWER, b"97.5")
    publisher.send(AVAILABLE, b"true")
    publisher.send(POSITION, b"source-b")  # plain text: only string points take it
    publisher.send(
        TEMPERATURE,
        json.dumps({"value": 61.5, "ts": now - 2, "unit": "DEG_C", "quality": "uncertain"}),
    )
    senml = [
        {"bn": "dc1/svc-web/", "n": "healthy-instances", "v": 2, "t": now - 1},
    ]
    publisher.send("dc1/gateway-7/pack", json.dumps(senml))  # routed by the SenML name
    outcomes = running.settled(5)
    assert outcomes == {"applied": 5, "outdated": 0, "deadlettered": 0, "ignored": 0}
    assert live(site, POWER_ID)["value"] == 97.5
    assert live(site, "utility-feed-a.available")["value"] is True
    assert live(site, "ats-mech-h1.ats-position")["value"] == "source-b"
    temperature = live(site, "transformer-a.winding-temperature")
    assert temperature["value"] == 61.5
    assert temperature["quality"] == "uncertain"
    assert temperature["observedAt"].to_native().timestamp() == pytest.approx(now - 2, abs=0.002)
    assert temperature["receivedAt"].to_native().timestamp() >= now - 0.5
    assert temperature["stale"] is False
    assert live(site, "svc-web.healthy-instances")["value"] == 2
    lag = running.count("kgtwin_ingest_lag_seconds_count")
    assert lag == 5  # one end-to-end lag per applied value


def test_values_in_another_unit_are_converted_to_the_points_unit(
    running: Running, publisher: Publisher, site: Driver
) -> None:
    publisher.send(POWER, json.dumps({"value": 97500, "unit": "W"}))
    publisher.send(TEMPERATURE, json.dumps({"value": 212, "unit": "degF"}))
    publisher.send(INSTANCES, json.dumps([{"n": INSTANCES, "v": 3, "u": "/"}]))
    assert running.settled(3)["applied"] == 3
    assert live(site, POWER_ID)["value"] == pytest.approx(97.5)
    assert live(site, "transformer-a.winding-temperature")["value"] == pytest.approx(100.0)
    assert live(site, "svc-web.healthy-instances")["value"] == 3


BAD = [
    (POWER, b"{not json", Reason.UNPARSEABLE),
    (POWER, b"\xff\xfe\x00", Reason.UNPARSEABLE),
    ("dc1/no-such-asset/power", b"1.0", Reason.UNKNOWN_TOPIC),
    (POWER, json.dumps({"value": 1, "unit": "furlong-per-fortnight"}), Reason.UNKNOWN_UNIT),
    (POWER, json.dumps({"value": 1, "unit": "degC"}), Reason.INCOMPATIBLE_UNIT),
    (POWER, b"true", Reason.WRONG_DATATYPE),
    (POWER, b"441.0", Reason.OUT_OF_RANGE),
    (POWER, json.dumps({"value": 1.0, "ts": time.time() + 3600}), Reason.FUTURE_TIMESTAMP),
]


def test_each_bad_message_is_dead_lettered_with_its_reason_and_the_worker_goes_on(
    running: Running, publisher: Publisher, dead_letters: Subscriber, site: Driver
) -> None:
    for topic, payload, _reason in BAD:
        publisher.send(topic, payload)
    publisher.send(POWER, b"12.5")  # a good one after all of them
    outcomes = running.settled(len(BAD) + 1)
    assert outcomes["deadlettered"] == len(BAD)
    assert outcomes["applied"] == 1
    assert live(site, POWER_ID)["value"] == 12.5
    letters = dead_letters.wait_for(len(BAD))
    for (topic, payload, reason), letter in zip(BAD, letters, strict=True):
        raw = payload if isinstance(payload, bytes) else payload.encode()
        assert letter.topic == f"kgtwin/deadletter/{topic}"
        body = json.loads(letter.payload)
        assert body["reason"] == reason.value, body
        assert body["topic"] == topic
        assert body["message"]  # says what was wrong
        assert body["payloadBase64"] == base64.b64encode(raw).decode()
    for reason in {r for _t, _p, r in BAD}:
        expected = sum(1 for _t, _p, r in BAD if r is reason)
        assert running.count("kgtwin_ingest_dead_letters_total", reason=reason.value) == expected


def test_an_older_observation_never_overwrites_a_newer_one(
    running: Running, publisher: Publisher, site: Driver
) -> None:
    now = time.time()
    publisher.send(POWER, json.dumps({"value": 20.0, "ts": now - 10}))
    wait_value(site, POWER_ID, 20.0)
    publisher.send(POWER, json.dumps({"value": 10.0, "ts": now - 20}))  # late
    publisher.send(POWER, json.dumps({"value": 15.0, "ts": now - 15}))  # late
    outcomes = running.settled(3)
    assert outcomes == {"applied": 1, "outdated": 2, "deadlettered": 0, "ignored": 0}
    assert live(site, POWER_ID)["value"] == 20.0
    # out of order within one batch: the newest wins whatever the arrival order
    burst = [(now - 3, 33.0), (now - 1, 31.0), (now - 2, 32.0)]
    for ts, value in burst:
        publisher.send(POWER, json.dumps({"value": value, "ts": ts}))
    running.settled(6)
    assert live(site, POWER_ID)["value"] == 31.0


def test_a_silent_point_goes_stale_and_fresh_again_when_data_returns(
    running: Running, publisher: Publisher, site: Driver
) -> None:
    publisher.send(FLOW, b"42.0")
    wait_value(site, FLOW_ID, 42.0)
    assert live(site, FLOW_ID)["stale"] is False
    # three expected intervals (1.5 s) of silence, checked every second
    wait_until(lambda: live(site, FLOW_ID)["stale"] is True, 10, lambda: "never stale")
    assert running.count("kgtwin_ingest_stale_points") == 1
    assert live(site, FLOW_ID)["value"] == 42.0  # the last value stays, marked stale
    publisher.send(FLOW, b"43.0")
    wait_value(site, FLOW_ID, 43.0)
    assert live(site, FLOW_ID)["stale"] is False
    wait_until(lambda: running.count("kgtwin_ingest_stale_points") == 0, 5, lambda: "gauge")
    # points that report on time never go stale (dc1's report every 5 s or more)
    publisher.send(POWER, b"1.0")
    wait_value(site, POWER_ID, 1.0)
    time.sleep(1.5)
    assert live(site, POWER_ID)["stale"] is False


def test_a_model_loaded_later_brings_its_topics_in(
    running: Running, publisher: Publisher, site: Driver, ontology: Ontology, tmp_path: Path
) -> None:
    """The worker re-reads the points when a load changes the graph: a new site's point, on
    a topic no filter covered, is ingested without a restart."""
    late = tmp_path / "late.ttl"
    late.write_text(
        FAST.read_text()
        .replace("site/fast#", "site/late#")
        .replace('"fast/pump-1/flow"', '"late/pump-1/flow"')
    )
    publisher.send("late/pump-1/flow", b"7.0")  # before the load: no point, no subscription
    try:
        assert load_model(site, [late], "late", ontology).report.ok
        wait_until(lambda: "late/#" in running.worker.table.filters(), 15, lambda: "not re-read")
        probes = 0

        def subscribed() -> bool:
            """A probe on an unknown late/ topic is dead-lettered once the broker has the
            worker's new subscription (a message sent before that reaches nobody)."""
            nonlocal probes
            publisher.send("late/probe", b"1")
            probes += 1
            time.sleep(0.1)
            return running.outcomes()["deadlettered"] > 0

        wait_until(subscribed, 15, lambda: "no subscription to late/#")
        publisher.send("late/pump-1/flow", b"8.0")
        late_flow = "https://w3id.org/kgtwin/site/late#pump-1.flow"
        wait_until(
            lambda: (
                site.execute_query(
                    "MATCH (p:Point {iri: $iri}) RETURN p.value AS v", iri=late_flow
                ).records[0]["v"]
                == 8.0
            ),
            15,
            lambda: "the new point got no value",
        )
        wait_until(lambda: running.outcomes()["applied"] >= 1, 15, lambda: str(running.outcomes()))
        outcomes = running.outcomes()
        assert outcomes["applied"] == 1  # the first one was never subscribed to
        assert 1 <= outcomes["deadlettered"] <= probes  # probes sent too early reach nobody
    finally:
        site.execute_query("MATCH (n:Twin {model: 'late'}) DETACH DELETE n")
        site.execute_query("MATCH (m:Model {name: 'late'}) DELETE m")


def test_a_broker_with_a_password(own_brokers: LocalBrokers, site: Driver) -> None:
    broker = own_brokers.start(username="ingest", password="s3cret-pw")
    good = replace(broker.address, username="ingest", password="s3cret-pw")
    bad = replace(good, password="wrong")
    registry = CollectorRegistry()
    refused = IngestWorker(
        IngestConfig(bad, client_id=unique("bad")), site, IngestMetrics(registry), ontology_units()
    )
    refused.start()
    try:
        assert not refused.wait_ready(3)  # refused by the broker: never subscribed
        assert registry.get_sample_value("kgtwin_ingest_connected") == 0
    finally:
        refused.stop()
    config = IngestConfig(good, client_id=unique("good"))
    worker = IngestWorker(config, site, IngestMetrics(CollectorRegistry()), ontology_units())
    worker.start()
    try:
        assert worker.wait_ready(30)
        with Publisher(good) as publisher:
            publisher.send(POWER, b"3.5")
        wait_value(site, POWER_ID, 3.5)
    finally:
        worker.stop()


def test_a_large_batch_is_written_in_slices_at_once_and_every_value_lands(
    site: Driver, mqtt_broker: MqttService
) -> None:
    """One message on each of dc1's 514 double points, collected for 3 s: more than twice
    ``write_slice`` (100) values, so the write is cut into slices (more writes than
    batches), and every point holds its message's value and time."""
    points = double_points(site)
    with (
        running_worker(site, mqtt_broker.address, write_slice=100, flush_interval=3.0) as running,
        Publisher(mqtt_broker.address) as publisher,
    ):
        sent = publish_one_per_point(publisher, points, time.time() - 60)
        outcomes = running.settled(len(sent), timeout=60)
        assert outcomes == {"applied": len(sent), "outdated": 0, "deadlettered": 0, "ignored": 0}
        writes = running.count("kgtwin_ingest_write_seconds_count")
        batches = running.count("kgtwin_ingest_batch_size_count")
        assert writes > batches >= 1, (writes, batches)
    assert applied(site, sent) == len(sent) == len(points) > 2 * 100
