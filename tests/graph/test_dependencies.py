"""The dependency graph read by node number against the same graph read as strings, in the
real Neo4j: the same nodes, edges, types and asset properties."""

from __future__ import annotations

import pytest
from neo4j import Driver

from kgtwin.graph import dependencies
from kgtwin.graph.dependencies import (
    Dependencies,
    Edges,
    dependencies_of,
    read_assets,
    read_dependencies,
    read_edges,
    read_load_points,
    read_load_values,
)
from kgtwin.graph.reader import Reader

# assets a..d (b redundant any, c 1-of-n with a capacity, d a count of suppliers that is no
# number), a system s that is no asset; a feeds b twice over two types, c depends on b,
# s feeds d; a point p of a (no dependency)
GRAPH = """
CREATE (a:Twin:Asset:Pump {id: 'a', iri: 'urn:t:a', mtbfHours: 1000.0, mttrHours: 2})
CREATE (b:Twin:Asset:Pump {id: 'b', iri: 'urn:t:b', redundancyPolicy: 'any'})
CREATE (c:Twin:Asset:Header {id: 'c', iri: 'urn:t:c', redundancyPolicy: 'k-of-n',
        requiredSuppliers: 1, ratedCapacity: 50, capacityUnit: 'KiloW', designLoad: 'x'})
CREATE (d:Twin:Asset {id: 'd', iri: 'urn:t:d', requiredSuppliers: 'two'})
CREATE (s:Twin:System {id: 's', iri: 'urn:t:s', redundancyPolicy: 'any'})
CREATE (p:Twin:Point {id: 'p', iri: 'urn:t:p'})
CREATE (a)-[:FEEDS]->(b), (a)-[:COOLS]->(b), (c)-[:DEPENDS_ON]->(b), (s)-[:FEEDS]->(d),
       (a)-[:HAS_POINT]->(p)
"""
TYPES = ("COOLS", "DEPENDS_ON", "FEEDS")


@pytest.fixture
def reader(driver: Driver) -> Reader:
    driver.execute_query(GRAPH)
    return Reader(driver)


def described(graph: Dependencies) -> tuple[object, ...]:
    """What ``graph`` says, whatever its node numbering."""
    nodes = graph.nodes
    iris = nodes.iris
    edges = sorted(
        (iris[a], iris[b], graph.types[k])
        for a, b, k in zip(graph.sources, graph.targets, graph.kinds, strict=True)
    )
    columns = (
        nodes.ids,
        nodes.labels,
        nodes.policies,
        nodes.required_suppliers,
        nodes.rated_capacity,
        nodes.capacity_unit,
        nodes.design_load,
        nodes.mtbf_hours,
        nodes.mttr_hours,
    )
    rows = sorted(zip(iris, *columns, strict=True))
    return edges, rows


def test_the_numbered_read_says_what_the_string_read_says(reader: Reader) -> None:
    numbered = read_dependencies(reader, TYPES)
    strings = dependencies_of(read_edges(reader, TYPES), TYPES, read_assets(reader))
    assert described(numbered) == described(strings)
    edges, rows = described(numbered)
    assert len(edges) == 4
    assert [row[0] for row in rows] == ["urn:t:a", "urn:t:b", "urn:t:c", "urn:t:d", "urn:t:s"]
    system = rows[-1]
    assert system[2:] == (frozenset(), *[None] * 7)
    assert rows[2][3:7] == ("k-of-n", 1, 50.0, "KiloW")
    assert rows[2][7] is None  # a design load that is no number
    assert rows[3][4] is None  # a count of suppliers that is no number
    assert rows[0][8:] == (1000.0, 2.0)


def strings(edges: Edges) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """The edges as (source IRI, target IRI, type), and their ends' IRIs and ids."""
    return list(edges.named()), edges.iris, edges.ids


def test_reads_in_pages_of_one_say_what_one_page_says(
    reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = described(read_dependencies(reader, TYPES))
    edges, assets = read_edges(reader, TYPES), read_assets(reader)
    monkeypatch.setattr(dependencies, "READ_PAGE", 1)  # FEEDS has 2 edges, 4 assets
    assert described(read_dependencies(reader, TYPES)) == whole
    assert strings(read_edges(reader, TYPES)) == strings(edges)
    assert read_assets(reader) == assets
    assert len(edges.sources) == 4
    assert len(assets) == 4


def test_a_graph_of_no_dependencies_reads_as_empty(driver: Driver) -> None:
    empty = Reader(driver)
    assert strings(read_edges(empty, TYPES)) == ([], [], [])
    assert read_assets(empty) == []
    graph = read_dependencies(empty, TYPES)
    assert len(graph.nodes) == len(graph.sources) == 0


def test_no_types_read_no_edges(reader: Reader) -> None:
    graph = read_dependencies(reader, ())
    assert len(graph.sources) == len(graph.targets) == len(graph.kinds) == 0
    assert sorted(graph.nodes.ids) == ["a", "b", "c", "d"]  # the assets only


def test_load_values_read_by_iri_are_those_the_full_read_finds(reader: Reader) -> None:
    reader.driver.execute_query(
        "MATCH (c {id: 'c'}) CREATE (c)-[:LOAD_POINT]->(:Twin:Point "
        "{id: 'load', iri: 'urn:t:load', unit: 'KiloW', value: 12.5, stale: false})"
    )
    (found,) = read_load_points(reader)
    assert (found.asset_iri, found.value) == ("urn:t:c", 12.5)
    reader.driver.execute_query("MATCH (p {id: 'load'}) SET p.value = 30, p.stale = true")
    (now,) = read_load_values(reader, [found])
    assert now == read_load_points(reader)[0]
    assert (now.value, now.stale) == (30.0, True)
    reader.driver.execute_query("MATCH (p {id: 'load'}) DETACH DELETE p")
    assert read_load_values(reader, [found]) == []
