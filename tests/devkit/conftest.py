"""The example site for the devkit's tests: as the telemetry simulator sees it, built once
per session without Neo4j (see ``tests.simulation.sites``), and loaded into Neo4j once per
module for the simulator's end-to-end tests."""

from __future__ import annotations

import pytest
from neo4j import Driver

from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.conftest import DC1
from tests.neo4j_service import clean_database
from tests.simulation.sites import Site, site_of


@pytest.fixture(scope="session")
def dc1_site(ontology: Ontology) -> Site:
    return site_of([DC1], ontology)


@pytest.fixture(scope="module")
def dc1(_session_driver: Driver, ontology: Ontology) -> Driver:
    clean_database(_session_driver)
    assert load_model(_session_driver, [DC1], "dc1", ontology).report.ok
    return _session_driver
