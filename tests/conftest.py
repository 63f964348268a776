"""Session services for the suite: a real Neo4j (see tests/neo4j_service.py) and a real
MQTT broker (see tests/mqtt_service.py), each started once; every test that asks for
``driver`` starts from an empty database.

MQTT: ``mqtt_broker`` (session) is the broker every test shares; tests keep out of each
other's way with topics and client ids of their own (``tests.mqtt_service.unique``).
``own_brokers`` / ``own_broker`` (per test) are brokers of the test's own, to restart or
reconfigure without disturbing the others; stopped and deleted after the test. They fail
(never skip) when ``MQTT_URL`` points the suite at an external broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from devkit.broker import LocalBroker
from graph.connection import open_driver
from ontology.files import default_ontology_files
from ontology.validate import Ontology
from tests.mqtt_service import (
    LocalBrokers,
    MqttService,
    mqtt_service,
    own_brokers_refused,
    session_folder,
)
from tests.neo4j_service import Neo4jService, clean_database, neo4j_service

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DC1 = REPO / "ontology" / "sites" / "dc1.ttl"


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jService]:
    with neo4j_service(REPO / ".kgtwin") as service:
        yield service


@pytest.fixture(scope="session")
def _session_driver(neo4j_server: Neo4jService) -> Iterator[Driver]:
    driver = open_driver(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    yield driver
    driver.close()


@pytest.fixture
def driver(_session_driver: Driver) -> Driver:
    """A driver on an empty database (no nodes, no constraints, no indexes)."""
    clean_database(_session_driver)
    return _session_driver


@pytest.fixture
def neo4j_env(neo4j_server: Neo4jService, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment that points the CLI at the test server."""
    env = {
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.user,
        "NEO4J_PASSWORD": neo4j_server.password,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def ontology() -> Ontology:
    return Ontology.load(default_ontology_files())


@pytest.fixture(scope="session")
def mqtt_folder() -> Iterator[Path]:
    """This session's folder for brokers, ``.kgtwin/mqtt-test-PID``, deleted at the end."""
    with session_folder(REPO / ".kgtwin") as folder:
        yield folder


@pytest.fixture(scope="session")
def mqtt_broker(mqtt_folder: Path) -> Iterator[MqttService]:
    """The session's broker: ``MQTT_URL``'s, or a local Mosquitto started for the session."""
    with mqtt_service(mqtt_folder) as service:
        yield service


@pytest.fixture
def own_brokers(mqtt_folder: Path) -> Iterator[LocalBrokers]:
    """Starts brokers for this test only (``own_brokers.start(username=..., password=...)``)."""
    refused = own_brokers_refused()
    if refused is not None:
        pytest.fail(refused, pytrace=False)
    brokers = LocalBrokers(mqtt_folder)
    yield brokers
    brokers.close()


@pytest.fixture
def own_broker(own_brokers: LocalBrokers) -> LocalBroker:
    """A started anonymous broker for this test only: restart it at will."""
    return own_brokers.start()
