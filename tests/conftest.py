"""Session services for the suite: a real Neo4j (see tests/neo4j_service.py), started once;
every test that asks for ``driver`` starts from an empty database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from graph.connection import open_driver
from ontology.files import default_ontology_files
from ontology.validate import Ontology
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
