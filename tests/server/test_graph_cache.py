"""The server's graph cache against the real Neo4j: built once per graph version, rebuilt
after a load that changes a model, and its dependency walks give exactly what walking
Neo4j gives, for every asset of the example site in both directions."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from neo4j import Driver

from kgtwin.graph.nodes import nodes_by_id
from kgtwin.graph.ontology_read import read_terms
from kgtwin.graph.reader import Reader
from kgtwin.graph.tokens import create_token
from kgtwin.graph.topology import direction_for, reachable
from kgtwin.graph.versions import graph_version
from kgtwin.ontology.validate import Ontology
from kgtwin.server.graph_cache import GraphCache
from kgtwin.server.loading import load_model
from tests.conftest import DC1

DOWNSTREAM = '{ downstream(id: "transformer-a", maxDepth: 2) { via items { id depth } } }'


def test_refresh_builds_once_per_graph_version(dc1: Driver) -> None:
    reader = Reader(dc1)
    cache = GraphCache()
    assert cache.refresh(reader) is True
    first = cache.current
    assert first is not None
    assert first.version == graph_version(reader)
    assert cache.refresh(reader) is False
    assert cache.current is first  # not rebuilt
    assert "FEEDS" in first.snapshot.types
    assert "HAS_POINT" not in first.snapshot.types


def test_snapshot_walks_equal_neo4j_walks_for_every_asset(dc1: Driver) -> None:
    reader = Reader(dc1)
    cache = GraphCache()
    cache.refresh(reader)
    assert cache.current is not None
    snapshot, terms = cache.current.snapshot, cache.current.terms
    types = terms.dependency_types
    ids = [row["id"] for row in reader.rows("MATCH (a:Asset) RETURN a.id AS id", "test")]
    assert len(ids) > 100
    compared = 0
    for downstream in (True, False):
        direction = direction_for(types, terms.reversed_types(types), downstream=downstream)
        for node in nodes_by_id(reader, ids).values():
            (start,) = node
            expected = reachable(reader, start, direction, 10)
            got = snapshot.reach(start.iri, 10, downstream=downstream)
            assert got == expected, f"{start.id} ({'down' if downstream else 'up'}stream)"
            compared += expected.count
    assert compared > 1000  # the walks reach things: the comparison is not of empty answers


def test_a_load_that_changes_the_topology_reaches_the_served_answers(
    dc1: Driver, client: httpx.Client, ontology: Ontology, tmp_path: Path
) -> None:
    """transformer-a feeds switchgear-a; a copy of the site without that edge, loaded as
    dc1, is what the server answers from within a few refresh intervals; then the site is
    restored for the other tests."""

    def reached() -> list[str]:
        body = client.post("/graphql", json={"query": DOWNSTREAM}).json()
        return [item["id"] for item in body["data"]["downstream"]["items"]]

    token = create_token(dc1, "viewer", "test-graph-cache").token
    client.headers["authorization"] = f"Bearer {token}"  # /healthz's details
    before = wait_for_cache(client)
    assert "switchgear-a" in reached()
    text = DC1.read_text()
    edited = text.replace("    kgt:feeds site:switchgear-a ;\n", "", 1)
    assert edited != text
    changed = tmp_path / "dc1.ttl"
    changed.write_text(edited)
    try:
        assert load_model(dc1, [changed], "dc1", ontology).report.ok
        after = wait_for_cache(client, other_than=before)
        assert after == graph_version(Reader(dc1))
        assert "switchgear-a" not in reached()
    finally:
        assert load_model(dc1, [DC1], "dc1", ontology).report.ok
    assert wait_for_cache(client, other_than=after) == before
    assert "switchgear-a" in reached()
    body = client.post("/graphql", json={"query": DOWNSTREAM}).json()
    assert tuple(body["data"]["downstream"]["via"]) == read_terms(Reader(dc1)).dependency_types


def wait_for_cache(client: httpx.Client, other_than: str | None = None) -> str:
    """The server's graph version once its cache is built (and differs from ``other_than``;
    a refresh interval is 1 s in these tests' settings)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        graph = client.get("/healthz").json()["graph"]
        if graph is not None and graph["version"] != other_than:
            return str(graph["version"])
        time.sleep(0.1)
    pytest.fail("the server's graph cache did not refresh within 30 s")
