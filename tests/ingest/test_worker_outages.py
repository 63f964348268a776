"""Nothing lost when a part goes away: Neo4j stopped mid-stream, the broker restarted, the
worker killed with SIGKILL. Each test publishes one message per point, each with its own
timestamp, and counts at the end that every point holds exactly its message's time: every
message was applied.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

from neo4j import Driver
from prometheus_client import CollectorRegistry

from kgtwin.devkit import launcher
from kgtwin.devkit.broker import LocalBroker
from kgtwin.devkit.launcher import LocalNeo4jConfig, Neo4jStatus
from kgtwin.graph.connection import open_driver
from kgtwin.ingest.address import BrokerAddress
from kgtwin.ingest.metrics import IngestMetrics
from kgtwin.ingest.worker import IngestConfig, IngestWorker
from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.conftest import DC1
from tests.ingest.mqtt_clients import Publisher, wait_until
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import Neo4jService
from tests.units import ontology_units

Message = tuple[str, str, float]  # point id, topic, epoch-seconds timestamp


def double_points(driver: Driver) -> list[tuple[str, str, float]]:
    """(id, topic, a value in range) of every double point, by id."""
    records, _, _ = driver.execute_query(
        "MATCH (p:Point {datatype: 'double'}) "
        "RETURN p.id AS id, p.mqttTopic AS topic, coalesce(p.minValue, 0.0) AS low "
        "ORDER BY p.id"
    )
    return [(r["id"], r["topic"], r["low"]) for r in records]


def publish_one_per_point(
    publisher: Publisher, points: list[tuple[str, str, float]], start: float
) -> list[Message]:
    """One message per point, each with its own timestamp (``start`` + i ms)."""
    sent = []
    for i, (point_id, topic, low) in enumerate(points):
        ts = round(start + i / 1000, 3)
        publisher.send(topic, json.dumps({"value": low, "ts": ts}))
        sent.append((point_id, topic, ts))
    return sent


def applied(driver: Driver, sent: list[Message]) -> int:
    """How many of ``sent`` hold exactly their message's time now."""
    records, _, _ = driver.execute_query(
        "UNWIND $sent AS s MATCH (p:Point {id: s[0]}) "
        "WHERE p.observedAt = datetime({epochMillis: toInteger(round(s[1] * 1000))}) "
        "RETURN count(p) AS n",
        sent=[[point_id, ts] for point_id, _topic, ts in sent],
    )
    return int(records[0]["n"])


def wait_all_applied(driver: Driver, sent: list[Message], timeout: float = 60.0) -> None:
    wait_until(
        lambda: applied(driver, sent) == len(sent),
        timeout,
        lambda: f"{applied(driver, sent)} of {len(sent)} messages applied",
    )


def worker_on(
    address: BrokerAddress, driver: Driver, client_id: str
) -> tuple[IngestWorker, CollectorRegistry]:
    registry = CollectorRegistry()
    config = IngestConfig(address, client_id=client_id)
    worker = IngestWorker(config, driver, IngestMetrics(registry), ontology_units())
    worker.start()
    assert worker.wait_ready(60), "the worker did not subscribe within 60 s"
    return worker, registry


def sample(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(name) or 0.0


def test_neo4j_stopped_mid_stream_then_back_every_message_applied(
    mqtt_broker: MqttService, ontology: Ontology, spare_neo4j: tuple[LocalNeo4jConfig, Neo4jStatus]
) -> None:
    cfg, running = spare_neo4j
    with ExitStack() as cleanup:
        driver = open_driver(running.bolt_uri, running.user, running.password)
        cleanup.callback(driver.close)
        assert load_model(driver, [DC1], "dc1", ontology).report.ok
        points = double_points(driver)
        worker, registry = worker_on(mqtt_broker.address, driver, unique("outage"))
        cleanup.callback(worker.stop)
        publisher = cleanup.enter_context(Publisher(mqtt_broker.address))
        before = publish_one_per_point(publisher, points[:50], time.time() - 60)
        wait_all_applied(driver, before)

        launcher.stop(cfg)
        during = publish_one_per_point(publisher, points[50:], time.time() - 30)
        wait_until(  # the worker fails to write, backs off and acknowledges nothing
            lambda: sample(registry, "kgtwin_ingest_write_failures_total") >= 2,
            30,
            lambda: "no failed write while Neo4j is down",
        )
        launcher.start(cfg, progress=lambda _line: None)
        wait_all_applied(driver, before + during)
        assert len(before + during) == len(points) > 300


def test_broker_restart_the_worker_reconnects_and_loses_nothing(
    own_broker: LocalBroker, site: Driver
) -> None:
    points = double_points(site)
    worker, registry = worker_on(own_broker.address, site, unique("restart"))
    try:
        with Publisher(own_broker.address) as publisher:
            first = publish_one_per_point(publisher, points[:100], time.time() - 60)
        own_broker.restart()
        time.sleep(0.5)  # the worker notices the broker went
        wait_until(
            lambda: sample(registry, "kgtwin_ingest_connected") == 1, 40, lambda: "no reconnect"
        )
        with Publisher(own_broker.address) as publisher:
            second = publish_one_per_point(publisher, points[100:], time.time() - 30)
        wait_all_applied(site, first + second)
    finally:
        worker.stop()


def start_ingest(
    address: BrokerAddress,
    client_id: str,
    neo4j: Neo4jService,
    log: Path,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """``kgtwin ingest`` as ``client_id``, its stderr appended to ``log``, with ``env``
    added to the environment; returned once it has subscribed. History is off unless
    ``env`` turns it on (a developer's local QuestDB is no test's)."""
    env = {
        **os.environ,
        "NEO4J_URI": neo4j.uri,
        "NEO4J_USER": neo4j.user,
        "NEO4J_PASSWORD": neo4j.password,
        "KGTWIN_MQTT_URL": address.url,
        "KGTWIN_HISTORY": "false",
        **(env or {}),
    }
    kgtwin = Path(sys.executable).with_name("kgtwin")
    with log.open("a") as stderr:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            [str(kgtwin), "--log-level", "INFO", "ingest", "--client-id", client_id, *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
    wait_until(
        lambda: "subscribed to" in log.read_text() or process.poll() is not None,
        60,
        lambda: log.read_text()[-2000:],
    )
    assert process.poll() is None, log.read_text()[-2000:]
    return process


def test_worker_killed_with_sigkill_loses_nothing(
    mqtt_broker: MqttService,
    site: Driver,
    neo4j_server: Neo4jService,
    kgtwin_ingest: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    """The points are write-locked by an open transaction, so the worker receives the
    messages and cannot commit them; it is killed right then, with nothing acknowledged.
    More messages arrive while it is dead. Started again under the same client id, it gets
    every one of them from its session."""
    points = double_points(site)
    client_id, log = unique("killed"), tmp_path / "ingest.log"
    kgtwin_ingest.append(start_ingest(mqtt_broker.address, client_id, neo4j_server, log))
    with site.session() as session, Publisher(mqtt_broker.address) as publisher:
        lock = session.begin_transaction()
        lock.run("MATCH (p:Point) SET p.locked = true").consume()
        before = publish_one_per_point(publisher, points[:200], time.time() - 60)
        time.sleep(1.0)  # received, and stuck waiting for the lock
        kgtwin_ingest[0].send_signal(signal.SIGKILL)
        kgtwin_ingest[0].wait(10)
        lock.rollback()
        assert applied(site, before) == 0  # killed before anything was committed
        during = publish_one_per_point(publisher, points[200:], time.time() - 30)
    kgtwin_ingest.append(start_ingest(mqtt_broker.address, client_id, neo4j_server, log))
    wait_all_applied(site, before + during)
    assert "session resumed" in log.read_text()
