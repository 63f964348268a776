"""History through the real path: MQTT in, the worker, the spool, QuestDB out. Each test
counts the rows QuestDB holds against the messages sent: exactly one row per accepted
message, whatever went away in between (the worker killed with SIGKILL, QuestDB or Neo4j
restarted mid-stream), and the live state kept fresh while QuestDB is down."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from neo4j import Driver
from prometheus_client import CollectorRegistry

from kgtwin.devkit import launcher
from kgtwin.devkit.launcher import LocalNeo4jConfig, Neo4jStatus
from kgtwin.graph.connection import open_driver
from kgtwin.ingest.address import BrokerAddress
from kgtwin.ingest.history.metrics import HistoryMetrics
from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.ingest.history.table import TABLE, Retention
from kgtwin.ingest.history.writer import HistoryConfig, HistoryWriter
from kgtwin.ingest.metrics import IngestMetrics
from kgtwin.ingest.worker import IngestConfig, IngestWorker
from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.conftest import DC1
from tests.ingest.mqtt_clients import Publisher, wait_until
from tests.ingest.test_worker_outages import (
    Message,
    double_points,
    publish_one_per_point,
    start_ingest,
    wait_all_applied,
)
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import Neo4jService
from tests.questdb_service import QuestDBService
from tests.units import ontology_units


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def store(service: QuestDBService) -> QuestDB:
    return QuestDB(service.url, service.user, service.password, service.pg_port)


def rows_held(db: QuestDB) -> Counter[tuple[str, int]]:
    """(point id, source time in microseconds) of every history row, counted."""
    try:
        answer = db.execute(f"SELECT point_id, cast(ts AS long) FROM {TABLE}")
    except Exception:  # not created yet
        return Counter()
    return Counter((point_id, ts) for point_id, ts in answer["dataset"])


def expected(sent: list[Message]) -> Counter[tuple[str, int]]:
    return Counter((point_id, round(ts * 1_000_000)) for point_id, _topic, ts in sent)


def wait_rows(db: QuestDB, sent: list[Message], timeout: float = 60.0) -> None:
    """Until QuestDB holds exactly one row per message of ``sent``, then a moment more (a
    late duplicate would show)."""
    want = expected(sent)
    wait_until(
        lambda: rows_held(db) == want,
        timeout,
        lambda: (
            f"{sum(rows_held(db).values())} rows for {len(sent)} messages; "
            f"extra: {list((rows_held(db) - want).items())[:3]}, "
            f"missing: {list((want - rows_held(db)).items())[:3]}"
        ),
    )
    time.sleep(1.0)
    assert rows_held(db) == want


def history_writer(
    service: QuestDBService, folder: Path, registry: CollectorRegistry
) -> HistoryWriter:
    config = HistoryConfig(store(service), folder / "spool.sqlite", 2**30, Retention())
    return HistoryWriter(config, HistoryMetrics(registry))


def worker_with_history(
    address: BrokerAddress, driver: Driver, history: HistoryWriter, registry: CollectorRegistry
) -> IngestWorker:
    config = IngestConfig(address, client_id=unique("history"))
    worker = IngestWorker(
        config, driver, IngestMetrics(registry), ontology_units(), history=history
    )
    worker.start()
    assert worker.wait_ready(60), "the worker did not subscribe within 60 s"
    return worker


@pytest.fixture
def ingesting(
    mqtt_broker: MqttService, site: Driver, questdb: QuestDBService, tmp_path: Path
) -> Iterator[tuple[IngestWorker, CollectorRegistry]]:
    registry = CollectorRegistry()
    history = history_writer(questdb, tmp_path, registry)
    worker = worker_with_history(mqtt_broker.address, site, history, registry)
    yield worker, registry
    worker.stop()


def test_every_accepted_message_is_one_row_and_a_copy_or_a_bad_one_adds_none(
    mqtt_broker: MqttService,
    site: Driver,
    questdb: QuestDBService,
    ingesting: tuple[IngestWorker, CollectorRegistry],
) -> None:
    points = double_points(site)
    with Publisher(mqtt_broker.address) as publisher:
        sent = publish_one_per_point(publisher, points, time.time() - 60)
        older = publish_one_per_point(publisher, points[:20], time.time() - 120)  # outdated
        for _point_id, topic, ts in sent[:10]:  # the same observations again
            publisher.send(topic, json.dumps({"value": 1.0, "ts": ts}))
        publisher.send(points[0][1], b"{not json")  # dead-lettered: no row
    wait_all_applied(site, sent)
    wait_rows(store(questdb), sent + older)
    point_id, _topic, ts = sent[0]
    (row,) = store(questdb).execute(
        f"SELECT point_id, asset, class, unit, quality, value FROM {TABLE} "
        f"WHERE point_id = '{point_id}' AND ts = cast({round(ts * 1_000_000)} AS timestamp)"
    )["dataset"]
    records, _, _ = site.execute_query(
        "MATCH (a:Asset)-[:HAS_POINT]->(p:Point {id: $id}) RETURN a.id AS asset, p.unit AS unit",
        id=point_id,
    )
    assert row[0] == point_id
    assert row[1] == records[0]["asset"]
    assert row[2] not in (None, "", "Twin")
    assert row[3:5] == [records[0]["unit"], "good"]


def test_worker_killed_with_sigkill_mid_stream_leaves_one_row_per_message(
    mqtt_broker: MqttService,
    site: Driver,
    neo4j_server: Neo4jService,
    questdb: QuestDBService,
    kgtwin_ingest: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    """The worker is killed while messages stream in (some applied and spooled, some sent
    to QuestDB, none of the last ones acknowledged), then started again under its client
    id: the broker delivers the rest again, and QuestDB's deduplication keeps one row."""
    points = double_points(site)
    client_id, log = unique("killed-history"), tmp_path / "ingest.log"
    env = {
        "QUESTDB_URL": questdb.url,
        "QUESTDB_USER": questdb.user,
        "QUESTDB_PASSWORD": questdb.password,
        "KGTWIN_HISTORY_SPOOL": str(tmp_path / "spool"),
        "KGTWIN_HISTORY": "true",
    }
    kgtwin_ingest.append(start_ingest(mqtt_broker.address, client_id, neo4j_server, log, env=env))
    sent: list[Message] = []
    streaming = threading.Thread(target=stream, args=(mqtt_broker.address, points, 6, sent))
    streaming.start()
    db = store(questdb)
    wait_until(lambda: sum(rows_held(db).values()) > 200, 60, lambda: log.read_text()[-2000:])
    kgtwin_ingest[0].send_signal(signal.SIGKILL)
    kgtwin_ingest[0].wait(10)
    streaming.join(120)
    kgtwin_ingest.append(start_ingest(mqtt_broker.address, client_id, neo4j_server, log, env=env))
    wait_rows(db, sent, timeout=120)
    assert len(sent) == 6 * len(points)
    said = log.read_text().count(f"kgtwin: history: QuestDB at {questdb.url}")
    assert said == 2  # once per start


def stream(
    address: BrokerAddress, points: list[tuple[str, str, float]], rounds: int, sent: list[Message]
) -> None:
    """``rounds`` messages per point, each with a time of its own, as fast as the broker
    takes them."""
    with Publisher(address) as publisher:
        for r in range(rounds):
            sent.extend(publish_one_per_point(publisher, points, time.time() - 600 + r * 60))


def test_questdb_restarted_mid_stream_history_catches_up_and_the_live_state_never_waited(
    mqtt_broker: MqttService, site: Driver, own_questdb: QuestDBService, tmp_path: Path
) -> None:
    points = double_points(site)
    registry = CollectorRegistry()
    history = history_writer(own_questdb.service, tmp_path, registry)
    worker = worker_with_history(mqtt_broker.address, site, history, registry)
    try:
        with Publisher(mqtt_broker.address) as publisher:
            before = publish_one_per_point(publisher, points[:100], time.time() - 60)
            wait_rows(store(own_questdb.service), before)
            own_questdb.stop()
            during = publish_one_per_point(publisher, points[100:], time.time() - 30)
            wait_all_applied(site, during)  # live values land while QuestDB is down
            wait_until(
                lambda: sample(registry, "kgtwin_history_spool_rows") == len(during),
                30,
                lambda: f"{sample(registry, 'kgtwin_history_spool_rows')} rows spooled",
            )
            assert sample(registry, "kgtwin_history_up") == 0
            own_questdb.start()
        wait_rows(store(own_questdb.service), before + during)
        wait_until(lambda: sample(registry, "kgtwin_history_spool_rows") == 0, 30)
        assert sample(registry, "kgtwin_history_rows_dropped_total") == 0
    finally:
        worker.stop()


def test_neo4j_restarted_mid_stream_one_row_per_message(
    mqtt_broker: MqttService,
    ontology: Ontology,
    spare_neo4j: tuple[LocalNeo4jConfig, Neo4jStatus],
    questdb: QuestDBService,
    tmp_path: Path,
) -> None:
    cfg, running = spare_neo4j
    with ExitStack() as cleanup:
        driver = open_driver(running.bolt_uri, running.user, running.password)
        cleanup.callback(driver.close)
        assert load_model(driver, [DC1], "dc1", ontology).report.ok
        points = double_points(driver)
        registry = CollectorRegistry()
        history = history_writer(questdb, tmp_path, registry)
        worker = worker_with_history(mqtt_broker.address, driver, history, registry)
        cleanup.callback(worker.stop)
        publisher = cleanup.enter_context(Publisher(mqtt_broker.address))
        before = publish_one_per_point(publisher, points[:50], time.time() - 60)
        wait_all_applied(driver, before)
        launcher.stop(cfg)
        during = publish_one_per_point(publisher, points[50:], time.time() - 30)
        time.sleep(2.0)  # the worker receives them and cannot write
        launcher.start(cfg, progress=lambda _line: None)
        wait_all_applied(driver, before + during)
        wait_rows(store(questdb), before + during)


def test_a_full_spool_drops_rows_counted_and_the_live_state_stays_fresh(
    mqtt_broker: MqttService, site: Driver, own_questdb: QuestDBService, tmp_path: Path
) -> None:
    points = double_points(site)
    own_questdb.stop()
    registry = CollectorRegistry()
    config = HistoryConfig(store(own_questdb.service), tmp_path / "s.sqlite", 20_000, Retention())
    history = HistoryWriter(config, HistoryMetrics(registry))
    worker = worker_with_history(mqtt_broker.address, site, history, registry)
    try:
        with Publisher(mqtt_broker.address) as publisher:
            sent = publish_one_per_point(publisher, points, time.time() - 60)
        wait_all_applied(site, sent)  # acknowledged and applied, QuestDB down or not
        wait_until(
            lambda: (
                sample(registry, "kgtwin_history_rows_dropped_total", reason="spool_full")
                + sample(registry, "kgtwin_history_spool_rows")
                == len(sent)
            ),
            30,
        )
        assert sample(registry, "kgtwin_history_rows_dropped_total", reason="spool_full") > 0
        assert sample(registry, "kgtwin_history_spool_bytes") <= 20_000
    finally:
        worker.stop()


def test_without_a_history_store_ingest_says_so_once_and_applies_as_before(
    mqtt_broker: MqttService,
    site: Driver,
    neo4j_server: Neo4jService,
    kgtwin_ingest: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    log = tmp_path / "ingest.log"
    env = {"KGTWIN_HOME": str(tmp_path / "home"), "KGTWIN_HISTORY": "true"}
    started = start_ingest(mqtt_broker.address, unique("no-history"), neo4j_server, log, env=env)
    kgtwin_ingest.append(started)
    points = double_points(site)[:20]
    with Publisher(mqtt_broker.address) as publisher:
        sent = publish_one_per_point(publisher, points, time.time() - 60)
    wait_all_applied(site, sent)
    assert log.read_text().count("kgtwin: history: off, no QuestDB configured") == 1
    assert not (tmp_path / "home" / "history-spool").exists()
