"""Every root query end to end over HTTP against the example site, with the answers its
Turtle gives (shared with ``schema/test_query`` through ``dc1_expected``); pagination
across pages; bearer tokens and roles; depth and complexity limits.

Three servers of the same app on the same Neo4j: ``client`` (anonymous read on, from
``conftest``), ``locked`` (anonymous read off: every request needs a token) and ``limited``
(small depth and complexity limits). What ``test_app`` covers (healthz, metrics, Neo4j
stopped mid-run) is not repeated here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from neo4j import Driver

from kgtwin.graph.tokens import IssuedToken, create_token, hash_token, revoke_token
from kgtwin.server.app import create_app
from kgtwin.server.auth import DEFAULT_CACHE_TTL
from kgtwin.server.graphql_http import GRAPHQL_RESPONSE_JSON
from tests.neo4j_service import Neo4jService
from tests.server.dc1_expected import (
    ASSET,
    ASSETS,
    COOLS,
    DEPENDENCY_TYPES,
    DOWNSTREAM_OF_UPS_A1_DEPTH_1,
    ELECTRICAL_ASSETS,
    FEED_A_TO_RACK_H1_R01,
    FEEDS_UPSTREAM_OF_RACK_H1_R01_DEPTH_2,
    K_OF_N_ASSETS,
    PDUS_FROM_150_BELOW_400,
    PUMPS,
    RACKS,
    REDUNDANCY_POLICIES,
    SITE,
    UPS_A1_CLASSES,
    UPS_A1_FEEDS_OUT,
    UPS_A1_IN,
    UPS_A1_OUTPUT_POWER,
    UPS_A1_POINT_IDS,
    UPS_A1_PROPERTIES,
    UPS_A1_TO_WEB_01,
    UPS_IRI,
    UPS_RATED_CAPACITY,
    UPSTREAM_OF_WEB_01_DEPTH_1,
    WEB_01_FROM_UPS_A1,
)
from tests.server.serving import serving, settings_for

READ = '{ asset(id: "ups-a1") { id classes { name } } }'
READ_ANSWER = {"asset": {"id": "ups-a1", "classes": [{"name": n} for n in UPS_A1_CLASSES]}}
TOKENS = "{ tokens { name role createdAt revokedAt revoked } }"
ROLES = ("viewer", "operator", "admin")


def token_name(role: str) -> str:
    return f"http-{ROLES.index(role) + 1}-{role}"


def post(
    client: httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    accept: str | None = None,
) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if accept is not None:
        headers["accept"] = accept
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def data(
    client: httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> Any:
    """The ``data`` of a response that must succeed: 200 and no errors."""
    response = post(client, query, variables, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
def locked(dc1: Driver, neo4j_server: Neo4jService) -> Iterator[httpx.Client]:
    """The app with anonymous read off (the default): every request needs a token."""
    settings = settings_for(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    assert settings.anonymous_read is False
    with serving(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(dc1: Driver) -> dict[str, IssuedToken]:
    """One token per role, created in role order; the names sort in that order too, so the
    list's order is the same even if two were created in the same millisecond."""
    return {role: create_token(dc1, role, token_name(role)) for role in ROLES}


@pytest.fixture(scope="module")
def limited(dc1: Driver, neo4j_server: Neo4jService) -> Iterator[httpx.Client]:
    settings = settings_for(
        neo4j_server.uri,
        neo4j_server.user,
        neo4j_server.password,
        anonymous_read=True,
        max_query_depth=4,
        max_complexity=50,
    )
    with serving(create_app(settings)) as client:
        yield client


# --- each query, with the site's answers --------------------------------------------------


def test_asset_by_id(client: httpx.Client) -> None:
    asset = data(client, ASSET, {"id": "ups-a1"})["asset"]
    assert {key: asset[key] for key in ("id", "iri", "label", "model")} == {
        "id": "ups-a1",
        "iri": SITE + "ups-a1",
        "label": "UPS A1",
        "model": "dc1",
    }
    assert [(c["name"], c["parents"]) for c in asset["classes"]] == [
        ("UPS", ["ElectricalAsset"]),
        ("ElectricalAsset", ["Asset"]),
        ("Asset", []),
    ]
    assert {p["name"]: (p["value"], p["unit"]) for p in asset["properties"]} == UPS_A1_PROPERTIES
    assert [p["id"] for p in asset["points"]] == UPS_A1_POINT_IDS
    assert asset["points"][UPS_A1_POINT_IDS.index("ups-a1.output-power")] == UPS_A1_OUTPUT_POWER
    assert asset["out"] == UPS_A1_FEEDS_OUT
    assert asset["in"] == UPS_A1_IN


def test_asset_by_iri_is_the_asset_by_id(client: httpx.Client) -> None:
    by_iri = data(client, ASSET, {"iri": SITE + "ups-a1"})
    assert by_iri["asset"]["id"] == "ups-a1"
    assert by_iri == data(client, ASSET, {"id": "ups-a1"})


def test_assets_of_a_class_include_its_subclasses(client: httpx.Client) -> None:
    page = data(client, ASSETS, {"class": "Pump", "first": 10})["assets"]
    cursors = [edge["cursor"] for edge in page["edges"]]
    assert len(set(cursors)) == len(PUMPS)
    assert page == {
        "totalCount": len(PUMPS),
        "pageInfo": {"hasNextPage": False, "endCursor": cursors[-1]},
        "edges": [
            {"cursor": cursor, "node": {"id": pump}}
            for cursor, pump in zip(cursors, PUMPS, strict=True)
        ],
    }


def ids_of(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def test_assets_filtered_by_ranges_and_equality(client: httpx.Client) -> None:
    where: list[dict[str, Any]] = [{"property": "ratedCapacity", "gte": 150.0, "lt": 400.0}]
    pdus = data(client, ASSETS, {"class": "PDU", "where": where, "first": 20})["assets"]
    assert (ids_of(pdus), pdus["totalCount"]) == (PDUS_FROM_150_BELOW_400, 8)
    where = [{"property": "redundancyPolicy", "eq": "k-of-n"}]
    k_of_n = data(client, ASSETS, {"class": "Asset", "where": where, "first": 20})["assets"]
    assert (ids_of(k_of_n), k_of_n["totalCount"]) == (K_OF_N_ASSETS, 8)
    where = [{"property": "ratedCapacity", "gt": 400.0}]
    none = data(client, ASSETS, {"class": "UPS", "where": where, "first": 5})["assets"]
    assert none == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


WALK = """
query ($id: String!, $via: [String!], $depth: Int!) {
  down: downstream(id: $id, via: $via, maxDepth: $depth) {
    start { id } via maxDepth totalCount truncated items { depth path asset { id } }
  }
  up: upstream(id: $id, via: $via, maxDepth: $depth) {
    start { id } via maxDepth totalCount truncated items { depth path asset { id } }
  }
}
"""


def test_downstream_gives_depths_and_one_shortest_path(client: httpx.Client) -> None:
    near = data(client, WALK, {"id": "ups-a1", "depth": 1})["down"]
    assert near == {
        "start": {"id": "ups-a1"},
        "via": DEPENDENCY_TYPES,
        "maxDepth": 1,
        "totalCount": len(DOWNSTREAM_OF_UPS_A1_DEPTH_1),
        "truncated": False,
        "items": DOWNSTREAM_OF_UPS_A1_DEPTH_1,
    }
    items = data(client, WALK, {"id": "ups-a1", "depth": 3})["down"]["items"]
    assert [i for i in items if i["asset"]["id"] == "web-01"] == [WEB_01_FROM_UPS_A1]
    assert [i["depth"] for i in items] == sorted(i["depth"] for i in items)  # nearest first


def test_upstream_gives_depths_and_one_shortest_path(client: httpx.Client) -> None:
    near = data(client, WALK, {"id": "web-01", "depth": 1})["up"]
    assert near == {
        "start": {"id": "web-01"},
        "via": DEPENDENCY_TYPES,
        "maxDepth": 1,
        "totalCount": len(UPSTREAM_OF_WEB_01_DEPTH_1),
        "truncated": False,
        "items": UPSTREAM_OF_WEB_01_DEPTH_1,
    }
    feeds = data(client, WALK, {"id": "rack-h1-r01", "via": ["FEEDS"], "depth": 2})["up"]
    assert feeds["via"] == ["FEEDS"]
    assert [(i["depth"], i["asset"]["id"]) for i in feeds["items"]] == (
        FEEDS_UPSTREAM_OF_RACK_H1_R01_DEPTH_2
    )
    # each path runs from the rack to the supplier, one step per depth
    assert [(i["path"][0], i["path"][-1], len(i["path"])) for i in feeds["items"]] == [
        ("rack-h1-r01", supplier, depth + 1)
        for depth, supplier in FEEDS_UPSTREAM_OF_RACK_H1_R01_DEPTH_2
    ]


PATHS = """
query ($from: String!, $to: String!, $via: [String!], $depth: Int!, $first: Int!) {
  paths(from: $from, to: $to, via: $via, maxDepth: $depth, first: $first) {
    length ids types assets { id }
  }
}
"""


def test_paths_between_two_assets(client: httpx.Client) -> None:
    route = {"from": "utility-feed-a", "to": "rack-h1-r01", "first": 5}
    assert data(client, PATHS, {**route, "depth": 6})["paths"] == [
        {
            "length": 5,
            "ids": FEED_A_TO_RACK_H1_R01,
            "types": ["FEEDS"] * 5,
            "assets": [{"id": i} for i in FEED_A_TO_RACK_H1_R01],
        }
    ]
    assert data(client, PATHS, {**route, "depth": 4}) == {"paths": []}
    service = {"from": "ups-a1", "to": "web-01", "depth": 3, "first": 10}
    found = data(client, PATHS, service)["paths"]
    assert [{"ids": p["ids"], "types": p["types"]} for p in found] == [UPS_A1_TO_WEB_01]
    # HOSTS is not a power feed: without it there is no way from the UPS to the server
    assert data(client, PATHS, {**service, "via": ["FEEDS"]}) == {"paths": []}


def test_ontology(client: httpx.Client) -> None:
    ontology = data(
        client,
        """{ ontology {
            classes { name }
            class(name: "UPS") { iri label parents
              properties { name datatype unit unitProperty minCount maxCount values } }
            relationshipTypes { type dependencyDirection parents }
        } }""",
    )["ontology"]
    names = [c["name"] for c in ontology["classes"]]
    assert {"Asset", "ElectricalAsset", "UPS", "Pump", "ChilledWaterPump", "Point"} <= set(names)
    assert len(names) == len(set(names))
    ups = ontology["class"]
    assert (ups["iri"], ups["parents"]) == (UPS_IRI, ["ElectricalAsset"])
    properties = {p["name"]: p for p in ups["properties"]}
    assert properties["ratedCapacity"] == UPS_RATED_CAPACITY
    assert properties["redundancyPolicy"]["values"] == REDUNDANCY_POLICIES
    types = {r["type"]: r for r in ontology["relationshipTypes"]}
    assert types["COOLS"] == COOLS
    assert {t: types[t]["dependencyDirection"] for t in ("FEEDS", "DEPENDS_ON", "HAS_POINT")} == {
        "FEEDS": "SupplierToConsumer",
        "DEPENDS_ON": "ConsumerToSupplier",
        "HAS_POINT": None,
    }


# --- pagination ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("class_name", "first", "expected"),
    [("ElectricalAsset", 4, ELECTRICAL_ASSETS), ("Rack", 30, RACKS)],
)
def test_pages_cover_every_instance_once_in_id_order(
    client: httpx.Client, class_name: str, first: int, expected: list[str]
) -> None:
    pages: list[dict[str, Any]] = []
    after = None
    while len(pages) <= len(expected):  # a bound in case hasNextPage never turns false
        page = data(client, ASSETS, {"class": class_name, "first": first, "after": after})
        pages.append(page["assets"])
        if not page["assets"]["pageInfo"]["hasNextPage"]:
            break
        after = page["assets"]["pageInfo"]["endCursor"]
    full, rest = divmod(len(expected), first)
    assert [len(p["edges"]) for p in pages] == [first] * full + ([rest] if rest else [])
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert [p["pageInfo"]["endCursor"] for p in pages] == [p["edges"][-1]["cursor"] for p in pages]
    assert {p["totalCount"] for p in pages} == {len(expected)}
    seen = [node_id for page in pages for node_id in ids_of(page)]
    assert seen == expected


# --- bearer tokens and roles -----------------------------------------------------------------


def error_of(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The one error of a response whose ``data`` is null or has a null field."""
    assert response.status_code == status, response.text
    body = response.json()
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


def test_no_token_is_unauthenticated_before_the_body_is_read(locked: httpx.Client) -> None:
    for accept in (None, GRAPHQL_RESPONSE_JSON):
        for query in (READ, TOKENS, "{ __schema { types { name } } }", "not even GraphQL {"):
            response = post(locked, query, accept=accept)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer realm="kgtwin"'
            assert response.json() == {
                "errors": [
                    {
                        "message": "this server needs a bearer token (anonymous read is "
                        "switched off): send 'Authorization: Bearer <token>'; an admin "
                        "creates one with `kgtwin token create --role viewer`",
                        "extensions": {"code": "UNAUTHENTICATED"},
                    }
                ]
            }


def test_every_role_reads_the_twin(locked: httpx.Client, tokens: dict[str, IssuedToken]) -> None:
    for role in ROLES:
        assert data(locked, READ, token=tokens[role].token) == READ_ANSWER


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_tokens_are_forbidden_below_admin(
    locked: httpx.Client, tokens: dict[str, IssuedToken], role: str
) -> None:
    response = post(locked, TOKENS, token=tokens[role].token)
    assert response.json()["data"] is None
    assert error_of(response) == {
        "message": f"this needs the admin role; token {token_name(role)!r} has the {role} role",
        "locations": [{"line": 1, "column": 3}],
        "path": ["tokens"],
        "extensions": {"code": "FORBIDDEN", "required_role": "admin"},
    }


def test_an_admin_token_lists_the_tokens(
    locked: httpx.Client, tokens: dict[str, IssuedToken]
) -> None:
    response = post(locked, TOKENS, token=tokens["admin"].token)
    assert response.status_code == 200
    listed = response.json()["data"]["tokens"]
    assert [
        {key: value for key, value in token.items() if key != "createdAt"} for token in listed
    ] == [
        {"name": token_name(role), "role": role, "revokedAt": None, "revoked": False}
        for role in ROLES
    ]
    created = [datetime.fromisoformat(token["createdAt"]) for token in listed]
    assert all(moment.tzinfo is not None for moment in created)
    assert created == sorted(created)
    for issued in tokens.values():
        assert issued.token not in response.text
        assert hash_token(issued.token) not in response.text


def refused(response: httpx.Response) -> bool:
    return response.status_code == 401


def test_a_revoked_token_is_refused_with_401(
    locked: httpx.Client, dc1: Driver, tokens: dict[str, IssuedToken]
) -> None:
    in_use = create_token(dc1, "viewer", "http-revoked-in-use")
    unused = create_token(dc1, "viewer", "http-revoked-unused")
    try:
        assert data(locked, READ, token=in_use.token) == READ_ANSWER
        revoke_token(dc1, in_use.name)
        revoke_token(dc1, unused.name)
        # never looked up: refused at once
        response = post(locked, READ, token=unused.token)
        assert response.status_code == 401
        assert (
            response.headers["www-authenticate"] == 'Bearer realm="kgtwin", error="invalid_token"'
        )
        assert response.json() == {
            "errors": [
                {
                    "message": "the bearer token is not valid: it is unknown or has been revoked",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        }
        # looked up before: refused once the server's cached lookup expires
        deadline = time.monotonic() + DEFAULT_CACHE_TTL + 10
        while not refused(response := post(locked, READ, token=in_use.token)):
            assert response.status_code == 200, response.text
            assert time.monotonic() < deadline, "the revoked token still works"
            time.sleep(0.2)
        assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
        listed = data(locked, TOKENS, token=tokens["admin"].token)["tokens"]
        assert {t["name"]: t["revoked"] for t in listed} == {
            **{token_name(role): False for role in ROLES},
            in_use.name: True,
            unused.name: True,
        }
    finally:
        dc1.execute_query(
            "MATCH (t:ApiToken) WHERE t.name IN $names DETACH DELETE t",
            names=[in_use.name, unused.name],
        )


# --- depth and complexity limits -------------------------------------------------------------

TOO_DEEP = '{ asset(id: "ups-a1") { relationships { other { classes { name } } } } }'


def test_a_too_deep_query_is_refused_naming_the_limit(limited: httpx.Client) -> None:
    expected = {
        "errors": [
            {
                "message": "the query nests 5 levels deep; the limit is 4 (max_query_depth): "
                "ask for fewer nested fields",
                "locations": [{"line": 1, "column": 1}],
                "extensions": {"code": "DEPTH_LIMIT", "limit": 4, "depth": 5},
            }
        ]
    }
    # a request error (nothing ran, no `data`): 200 for application/json, 400 for
    # application/graphql-response+json, as the GraphQL-over-HTTP spec asks
    for accept, status in ((None, 200), (GRAPHQL_RESPONSE_JSON, 400)):
        response = post(limited, TOO_DEEP, accept=accept)
        assert (response.status_code, response.json()) == (status, expected)
    four_deep = (
        '{ asset(id: "ups-a1") { relationships(direction: OUT, types: ["FEEDS"]) '
        "{ other { id } } } }"
    )
    assert data(limited, four_deep) == {
        "asset": {"relationships": [{"other": r["other"]} for r in UPS_A1_FEEDS_OUT]}
    }


RACK_PAGE = (
    'query ($first: Int!) { assets(class: "Rack", first: $first) { edges { node { id } } } }'
)


def test_a_too_complex_query_is_refused_naming_the_limit(limited: httpx.Client) -> None:
    # cost: 1 (assets) + first x (1 (edges) + 1 (node) + 1 (id)) = 1 + 3 x first
    for accept, status in ((None, 200), (GRAPHQL_RESPONSE_JSON, 400)):
        response = post(limited, RACK_PAGE, {"first": 30}, accept=accept)
        assert (response.status_code, response.json()) == (
            status,
            {
                "errors": [
                    {
                        "message": "the query's estimated complexity is 91 (fields it may "
                        "resolve, counting every list at its `first` or 10, and the work of "
                        "what-if, availability and walks); the limit is 50 (max_complexity): "
                        "ask for smaller pages, fewer nested lists, fewer trials or targets",
                        "locations": [{"line": 1, "column": 1}],
                        "extensions": {"code": "COMPLEXITY_LIMIT", "limit": 50, "complexity": 91},
                    }
                ]
            },
        )
    page = data(limited, RACK_PAGE, {"first": 16})["assets"]  # 1 + 3 x 16 = 49
    assert ids_of(page) == RACKS[:16]
