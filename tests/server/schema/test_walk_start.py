"""A walk of the server's dependency snapshot finds its start in the snapshot: no Cypher
unless ``start`` is asked for, the same answer as a walk of Neo4j, Neo4j's answer for a
start the snapshot does not hold, and an error naming the start when it was deleted since
the snapshot was built."""

from __future__ import annotations

from neo4j import Driver

from kgtwin.graph.reader import Reader
from kgtwin.server.graph_cache import GraphCache
from tests.server.schema.conftest import Api

ITEMS = "totalCount truncated items { depth path id }"
DOWN = '{ downstream(id: "ups-a1", maxDepth: 3) { ' + ITEMS + " } }"
DOWN_WITH_START = '{ downstream(id: "ups-a1", maxDepth: 3) { start { id label } ' + ITEMS + " } }"
UP_BY_IRI = (
    '{ upstream(iri: "https://w3id.org/kgtwin/site/dc1#web-01", maxDepth: 2) '
    "{ start { id } " + ITEMS + " } }"
)
BY_HAND = "https://w3id.org/kgtwin/site/dc1#ups-by-hand"


def test_a_snapshot_walk_sends_no_cypher_unless_its_start_is_asked_for(
    api: Api, cache: GraphCache
) -> None:
    from_neo4j = api.data(DOWN_WITH_START)["downstream"]  # no snapshot: Neo4j is walked
    assert from_neo4j["start"]["id"] == "ups-a1"
    assert from_neo4j["totalCount"] > 2
    api.statements.clear()
    walked = api.data(DOWN, cache=cache)["downstream"]
    assert api.statements == []
    assert walked == {k: v for k, v in from_neo4j.items() if k != "start"}
    assert api.data(DOWN_WITH_START, cache=cache)["downstream"] == from_neo4j
    assert len(api.statements) == 1  # the start, read when asked for
    assert api.data(UP_BY_IRI, cache=cache) == api.data(UP_BY_IRI)


def test_a_start_the_snapshot_does_not_hold_is_neo4js_to_find(api: Api, cache: GraphCache) -> None:
    # a point is no asset and ends no dependency: found in Neo4j, reaching nothing
    point = '{ downstream(id: "ups-a1.output-power") { start { id } totalCount items { id } } }'
    assert api.data(point, cache=cache)["downstream"] == {
        "start": {"id": "ups-a1.output-power"},
        "totalCount": 0,
        "items": [],
    }
    assert api.code('{ downstream(id: "no-such-asset") { totalCount } }', cache=cache) == (
        "NOT_FOUND"
    )
    assert api.code('{ downstream(id: "ups-a1", iri: "x") { totalCount } }', cache=cache) == (
        "BAD_USER_INPUT"
    )


def test_a_start_deleted_since_the_snapshot_is_walked_and_named_when_asked_for(
    api: Api, dc1: Driver
) -> None:
    """A UPS made by hand, feeding a rack, in the snapshot and then deleted by hand (which
    does not change the graph's version): the walk answers as of the snapshot, and its
    `start` is an error that says so."""
    dc1.execute_query(
        "MATCH (r:Twin {id: 'rack-h1-r01'}) "
        "CREATE (u:Twin:Asset:ElectricalAsset:UPS {iri: $iri, id: 'ups-by-hand', "
        "model: 'dc1', label: 'UPS by hand'})-[:FEEDS {model: 'dc1'}]->(r)",
        iri=BY_HAND,
    )
    try:
        cache = GraphCache()
        assert cache.refresh(Reader(dc1))
        dc1.execute_query("MATCH (u:Twin {iri: $iri}) DETACH DELETE u", iri=BY_HAND)
        walk = '{ downstream(id: "ups-by-hand", maxDepth: 1) { totalCount items { id } } }'
        assert api.data(walk, cache=cache)["downstream"] == {
            "totalCount": 1,
            "items": [{"id": "rack-h1-r01"}],
        }
        error = api.error(
            '{ downstream(id: "ups-by-hand", maxDepth: 1) { start { id } totalCount } }',
            cache=cache,
        )
        assert (error.extensions or {})["code"] == "NOT_FOUND"
        assert BY_HAND in error.message
        assert "deleted since" in error.message
    finally:
        dc1.execute_query("MATCH (u:Twin {iri: $iri}) DETACH DELETE u", iri=BY_HAND)


def test_an_id_two_models_use_is_neo4js_to_refuse(api: Api, dc1: Driver) -> None:
    """The snapshot marks an id several models use; the walk then asks Neo4j, which names
    the nodes (the IRI tells them apart)."""
    dc1.execute_query(
        "CREATE (:Twin:Asset:ElectricalAsset:UPS {iri: $iri, id: 'ups-a1', model: 'other'})",
        iri=BY_HAND,
    )
    try:
        cache = GraphCache()
        assert cache.refresh(Reader(dc1))
        error = api.error('{ downstream(id: "ups-a1") { totalCount } }', cache=cache)
        assert (error.extensions or {})["code"] == "BAD_USER_INPUT"
        assert "used by 2 models" in error.message
        assert BY_HAND in error.message
        by_iri = '{ downstream(iri: "' + BY_HAND + '") { start { id } totalCount } }'
        assert api.data(by_iri, cache=cache)["downstream"] == {
            "start": {"id": "ups-a1"},
            "totalCount": 0,
        }
    finally:
        dc1.execute_query("MATCH (u:Twin {iri: $iri}) DETACH DELETE u", iri=BY_HAND)
