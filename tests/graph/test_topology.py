"""Walks and paths over a small hand-made graph in the real Neo4j."""

from __future__ import annotations

import pytest
from neo4j import Driver

from kgtwin.graph.nodes import nodes_by_id
from kgtwin.graph.reader import Reader
from kgtwin.graph.topology import Direction, direction_for, paths_between, reachable

# a feeds b and c, both feed d, d feeds e, e feeds a (a cycle); x depends on d.
GRAPH = """
UNWIND ['a', 'b', 'c', 'd', 'e', 'x'] AS id
CREATE (:Twin:Asset {id: id, iri: 'urn:t:' + id})
WITH count(*) AS created
UNWIND [['a','b'], ['a','c'], ['b','d'], ['c','d'], ['d','e'], ['e','a']] AS pair
MATCH (s:Twin {id: pair[0]}), (t:Twin {id: pair[1]})
CREATE (s)-[:FEEDS]->(t)
WITH count(*) AS fed
MATCH (x:Twin {id: 'x'}), (d:Twin {id: 'd'})
CREATE (x)-[:DEPENDS_ON]->(d)
"""

DOWNSTREAM = direction_for(["FEEDS", "DEPENDS_ON"], ["DEPENDS_ON"], downstream=True)


@pytest.fixture
def reader(driver: Driver) -> Reader:
    driver.execute_query(GRAPH)
    return Reader(driver)


def node(reader: Reader, node_id: str):  # type: ignore[no-untyped-def]
    (found,) = nodes_by_id(reader, [node_id])[node_id]
    return found


def test_direction_follows_consumer_to_supplier_types_backwards() -> None:
    assert Direction(frozenset({"FEEDS"}), frozenset({"DEPENDS_ON"})) == DOWNSTREAM
    upstream = direction_for(["FEEDS", "DEPENDS_ON"], ["DEPENDS_ON"], downstream=False)
    assert upstream == Direction(frozenset({"DEPENDS_ON"}), frozenset({"FEEDS"}))


def test_reachable_gives_depth_and_one_shortest_path_each(reader: Reader) -> None:
    reach = reachable(reader, node(reader, "a"), DOWNSTREAM, 3)
    assert not reach.truncated
    assert [(r.id, r.depth, r.path) for r in reach.items] == [
        ("b", 1, ("a", "b")),
        ("c", 1, ("a", "c")),
        ("d", 2, ("a", "b", "d")),  # of two shortest paths, the one through the smaller id
        ("e", 3, ("a", "b", "d", "e")),
        ("x", 3, ("a", "b", "d", "x")),  # x depends on d: downstream of it
    ]
    assert [r.id for r in reachable(reader, node(reader, "a"), DOWNSTREAM, 1).items] == [
        "b",
        "c",
    ]


def test_reachable_first_bounds_the_items_not_the_count(reader: Reader) -> None:
    reach = reachable(reader, node(reader, "a"), DOWNSTREAM, 3, first=3)
    assert reach.count == 5
    assert [(r.id, r.depth, r.path) for r in reach.items] == [
        ("b", 1, ("a", "b")),
        ("c", 1, ("a", "c")),
        ("d", 2, ("a", "b", "d")),
    ]
    assert reachable(reader, node(reader, "a"), DOWNSTREAM, 3).count == 5


def test_reachable_upstream_and_cycles(reader: Reader) -> None:
    upstream = DOWNSTREAM.reversed()
    reach = reachable(reader, node(reader, "x"), upstream, 10)
    # the cycle e -> a does not make the walk loop, and x itself is never "reached"
    assert [(r.id, r.depth) for r in reach.items] == [
        ("d", 1),
        ("b", 2),
        ("c", 2),
        ("a", 3),
        ("e", 4),
    ]


def test_reachable_stops_at_its_node_budget(reader: Reader) -> None:
    reach = reachable(reader, node(reader, "a"), DOWNSTREAM, 5, node_budget=2)
    assert reach.truncated
    assert reach.count == len(reach.items) == 2
    assert [r.id for r in reach.items] == ["b", "c"]


def test_paths_are_simple_shortest_first_and_bounded(reader: Reader) -> None:
    a, e = node(reader, "a"), node(reader, "e")
    paths, truncated = paths_between(reader, a, e, DOWNSTREAM, 5, 10)
    assert not truncated
    assert [[n.id for n in p.nodes] for p in paths] == [["a", "b", "d", "e"], ["a", "c", "d", "e"]]
    assert [p.types for p in paths] == [("FEEDS",) * 3] * 2
    assert [p.length for p in paths] == [3, 3]
    one, _ = paths_between(reader, a, e, DOWNSTREAM, 5, 1)
    assert [[n.id for n in p.nodes] for p in one] == [["a", "b", "d", "e"]]
    assert paths_between(reader, a, e, DOWNSTREAM, 2, 10) == ([], False)


def test_paths_take_reversed_types_against_their_edges(reader: Reader) -> None:
    paths, _ = paths_between(reader, node(reader, "c"), node(reader, "x"), DOWNSTREAM, 4, 10)
    assert [([n.id for n in p.nodes], p.types) for p in paths] == [
        (["c", "d", "x"], ("FEEDS", "DEPENDS_ON"))
    ]
