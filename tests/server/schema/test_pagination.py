"""Cursor pagination over ``assets``: every node exactly once, even while nodes are added."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from neo4j import Driver

from kgtwin.graph.listing import Position
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.pagination import decode_cursor, encode_cursor
from tests.server.schema.conftest import Api

PAGE = """
query ($first: Int!, $after: String) {
  assets(class: "Rack", first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id } }
  }
}
"""

RACKS = sorted(f"rack-h{hall}-r{n:02d}" for hall in (1, 2) for n in range(1, 41))


def pages(api: Api, first: int) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        page = api.data(PAGE, {"first": first, "after": after})["assets"]
        yield page
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def test_pages_cover_every_rack_once_in_id_order(api: Api) -> None:
    seen = [e["node"]["id"] for page in pages(api, 7) for e in page["edges"]]
    assert seen == RACKS


@pytest.fixture
def extra_racks(dc1: Driver) -> Iterator[Driver]:
    yield dc1
    dc1.execute_query("MATCH (n:Twin {model: 'pagination-test'}) DETACH DELETE n")


def test_a_node_inserted_mid_pagination_neither_shifts_nor_repeats_rows(
    api: Api, extra_racks: Driver
) -> None:
    walk = pages(api, 10)
    first = next(walk)
    seen = [e["node"]["id"] for e in first["edges"]]
    assert seen == RACKS[:10]
    # Racks appear before the cursor (offset pagination would now repeat a row) and after
    # it (they must show up, once).
    extra_racks.execute_query(
        "UNWIND $ids AS id "
        "CREATE (:Twin:Rack:ITAsset:Asset {id: id, iri: 'urn:test:' + id, "
        "model: 'pagination-test'})",
        ids=["rack-h0-r00", "rack-h1-r05a", "rack-h2-r10a"],
    )
    for page in walk:
        seen.extend(e["node"]["id"] for e in page["edges"])
    assert seen == sorted([*RACKS, "rack-h2-r10a"])
    assert len(seen) == len(set(seen))


def test_total_count_is_counted_only_when_asked(api: Api) -> None:
    api.data('{ assets(class: "Rack", first: 5) { edges { node { id } } } }')
    without = len(api.statements)
    api.statements.clear()
    data = api.data('{ assets(class: "Rack", first: 5) { totalCount edges { node { id } } } }')
    assert data["assets"]["totalCount"] == 80
    assert len(api.statements) == without + 1


def test_cursors_are_opaque_and_checked(api: Api) -> None:
    position = Position("rack-h1-r01", "https://w3id.org/kgtwin/site/dc1#rack-h1-r01")
    cursor = encode_cursor(position)
    assert "rack" not in cursor
    assert decode_cursor(cursor) == position
    error = api.error(PAGE, {"first": 5, "after": "bm90LWEtY3Vyc29y"})
    assert error.extensions == {"code": "BAD_USER_INPUT"}
    assert "not a cursor this server issued" in error.message


@pytest.mark.parametrize(
    ("node_id", "iri"),
    [("a", "urn:a"), ('q"uote\\', "urn:[x]{y}"), ("é ☃", ""), ("[", "]")],
)
def test_any_id_and_iri_come_back_from_their_cursor(node_id: str, iri: str) -> None:
    assert decode_cursor(encode_cursor(Position(node_id, iri))) == Position(node_id, iri)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 1_500 + b"]" * 1_500,  # nested: refused before it is parsed
        b'["k1",["x"],"urn:a"]',
        b'["k1","a",' + b"[" * 1_500 + b"]" * 1_500 + b"]",
        b'["k1","a","urn:a","more"]',
        b'["k1","a"]',
        b'["k1", "a", "urn:a"]',
        b'["k0","a","urn:a"]',
        b'["k1","a","urn:a"] ',
        b'["k1","a",1]',
        b"\xff",
    ],
)
def test_what_this_server_never_issues_is_no_cursor(raw: bytes) -> None:
    with pytest.raises(BadUserInput, match="is not a cursor this server issued"):
        decode_cursor(base64.urlsafe_b64encode(raw).decode())


def test_first_is_bounded_by_the_page_size_limit(api: Api) -> None:
    error = api.error(PAGE, {"first": 101})
    assert error.extensions is not None
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert error.message == "first must be between 1 and 100 (max_page_size), got 101"
    assert api.code(PAGE, {"first": 0}) == "BAD_USER_INPUT"
