"""The sites the ingestion tests write live values to: the example site and a tiny one
whose point reports every half second (staleness within seconds), loaded once per module;
``site`` gives them to a test with no live values."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from neo4j import Driver

from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.conftest import DC1, FIXTURES
from tests.neo4j_service import Neo4jService, clean_database

FAST = FIXTURES / "ingest" / "fast.ttl"  # one point that reports every 0.5 s


@pytest.fixture(scope="module")
def loaded(_session_driver: Driver, ontology: Ontology) -> Driver:
    clean_database(_session_driver)
    assert load_model(_session_driver, [DC1], "dc1", ontology).report.ok
    assert load_model(_session_driver, [FAST], "fast", ontology).report.ok
    return _session_driver


@pytest.fixture
def site(loaded: Driver) -> Driver:
    """The loaded sites with no live values (each test starts without telemetry)."""
    loaded.execute_query(
        "MATCH (p:Point) REMOVE p.value, p.observedAt, p.receivedAt, p.quality, p.stale"
    )
    return loaded


@pytest.fixture
def kgtwin_ingest(neo4j_server: Neo4jService) -> Iterator[list[subprocess.Popen[str]]]:
    """Started ``kgtwin ingest`` processes, killed at the end of the test."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait(10)
