"""The example site as the telemetry simulator sees it, built once per session without
Neo4j (see ``tests.simulation.sites``)."""

from __future__ import annotations

import pytest

from ontology.validate import Ontology
from tests.conftest import DC1
from tests.simulation.sites import Site, site_of


@pytest.fixture(scope="session")
def dc1_site(ontology: Ontology) -> Site:
    return site_of([DC1], ontology)
