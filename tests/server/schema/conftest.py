"""The GraphQL schema against the real Neo4j with the example site loaded once per module.

``api`` runs operations through ``schema.execute`` with a context, as the server does, and
counts the Cypher statements each sends (through the read side's statement observer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, LiteralString

import pytest
from graphql import GraphQLError
from neo4j import Driver
from strawberry.types import ExecutionResult

from kgtwin.graph.reader import Reader
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.units import Units
from kgtwin.ontology.validate import Ontology
from kgtwin.server.auth import Principal
from kgtwin.server.graph_cache import GraphCache
from kgtwin.server.loading import load_model
from kgtwin.server.schema import TwinSchema, build_schema
from kgtwin.server.schema.context import Services, make_context
from kgtwin.server.settings import Settings
from tests.conftest import DC1
from tests.neo4j_service import clean_database

READ_ANYONE = Settings(anonymous_read=True)


class Api:
    """Executes GraphQL operations as the server would, counting Cypher statements."""

    def __init__(
        self, driver: Driver, catalogue: Catalogue, units: Units, settings: Settings
    ) -> None:
        self.driver = driver
        self.catalogue = catalogue
        self.units = units
        self.settings = settings
        self.statements: list[LiteralString] = []
        self._schemas: dict[Settings, TwinSchema] = {}

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        principal: Principal | None = None,
        reader: Reader | None = None,
        cache: GraphCache | None = None,
        **settings: Any,
    ) -> ExecutionResult:
        current = replace(self.settings, **settings)
        schema = self._schemas.get(current)
        if schema is None:
            schema = self._schemas[current] = build_schema(current)
        reader = reader or Reader(self.driver, None, self.statements.append)
        services = Services(
            current, reader, self.catalogue, cache or GraphCache(), units=self.units
        )

        async def run() -> ExecutionResult:
            context = make_context(services, principal)
            return await schema.execute(query, variables, context_value=context)

        return asyncio.run(run())

    def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        result = self.execute(query, variables, **kw)
        assert result.errors is None, [e.formatted for e in result.errors]
        return result.data

    def error(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> GraphQLError:
        """The one error the operation answers with."""
        result = self.execute(query, variables, **kw)
        assert result.errors is not None, result
        assert len(result.errors) == 1, result.errors
        return result.errors[0]

    def code(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> str:
        return str((self.error(query, variables, **kw).extensions or {})["code"])


@pytest.fixture(scope="module")
def dc1(_session_driver: Driver, ontology: Ontology) -> Driver:
    """The example site, loaded into an emptied database once for the module."""
    clean_database(_session_driver)
    result = load_model(_session_driver, [DC1], "dc1", ontology)
    assert result.report.ok, result.report.problems
    return _session_driver


@pytest.fixture(scope="session")
def catalogue(ontology: Ontology) -> Catalogue:
    return Catalogue.build(ontology.graph, ontology.vocabulary)


@pytest.fixture(scope="session")
def units(ontology: Ontology) -> Units:
    """The ontology's units, as the server builds them at start."""
    return Units.of(ontology.graph)


@pytest.fixture
def api(dc1: Driver, catalogue: Catalogue, units: Units) -> Api:
    return Api(dc1, catalogue, units, READ_ANYONE)


@pytest.fixture(scope="module")
def cache(dc1: Driver) -> GraphCache:
    """The dependency snapshot of the example site, as the server keeps it."""
    cache = GraphCache()
    assert cache.refresh(Reader(dc1))
    return cache


LiveWriter = Callable[..., None]


@pytest.fixture
def live(dc1: Driver) -> Iterator[LiveWriter]:
    """Sets a point's live value as ingestion writes it (``stale`` and ``quality`` too),
    and clears what it set afterwards."""
    written: list[str] = []

    def write(
        point: str, value: float | bool, *, stale: bool = False, quality: str = "good"
    ) -> None:
        dc1.execute_query(
            "MATCH (p:Twin {id: $id}) SET p.value = $value, p.stale = $stale, "
            "p.observedAt = datetime(), p.receivedAt = datetime(), p.quality = $quality",
            id=point,
            value=value,
            stale=stale,
            quality=quality,
        )
        written.append(point)

    yield write
    dc1.execute_query(
        "MATCH (p:Twin) WHERE p.id IN $ids "
        "REMOVE p.value, p.stale, p.observedAt, p.receivedAt, p.quality",
        ids=written,
    )
