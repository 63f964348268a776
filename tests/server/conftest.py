"""The end-to-end fixtures of the server tests: the example site loaded once per module,
and the app serving it under uvicorn with anonymous read on (see ``tests/server/serving``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from neo4j import Driver

from kgtwin.ontology.validate import Ontology
from kgtwin.server.app import create_app
from kgtwin.server.loading import load_model
from tests.conftest import DC1
from tests.neo4j_service import Neo4jService, clean_database
from tests.server.serving import serving, settings_for


@pytest.fixture(scope="module")
def dc1(_session_driver: Driver, ontology: Ontology) -> Driver:
    clean_database(_session_driver)
    assert load_model(_session_driver, [DC1], "dc1", ontology).report.ok
    return _session_driver


@pytest.fixture(scope="module")
def client(dc1: Driver, neo4j_server: Neo4jService) -> Iterator[httpx.Client]:
    """A client for the app serving ``dc1``; anonymous read is on, so no token is needed."""
    settings = settings_for(
        neo4j_server.uri, neo4j_server.user, neo4j_server.password, anonymous_read=True
    )
    with serving(create_app(settings)) as client:
        yield client
