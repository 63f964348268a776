"""GraphQL over HTTP (server/graphql_http.py): content negotiation, and the status codes and
bodies of request errors, end to end over HTTP against the example site. The whole
``graphql-http`` audit runs in ``test_graphql_http_audit``."""

from __future__ import annotations

import httpx
import pytest
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from kgtwin.server.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    failed_before_execution,
    negotiate,
)

GR_JSON = {"accept": GRAPHQL_RESPONSE_JSON}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("text/html", JSON),  # accepts neither: answered in application/json all the same
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.9", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=nonsense", JSON),
        (f"*/*;q=0.5, {GRAPHQL_RESPONSE_JSON};q=0.8", GRAPHQL_RESPONSE_JSON),
        (f"application/json;q=0.1, */*, {GRAPHQL_RESPONSE_JSON};q=0.5", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_negotiate_picks_graphql_response_json_only_when_asked_for(
    accept: str | None, expected: str
) -> None:
    assert negotiate(accept) == expected


def test_failed_before_execution_means_no_data_and_no_error_with_a_path() -> None:
    request_error = GraphQLError("Syntax Error")
    field_error = GraphQLError("boom", path=["asset"])
    assert failed_before_execution(ExecutionResult(data=None, errors=[request_error]))
    assert not failed_before_execution(ExecutionResult(data=None, errors=[field_error]))
    assert not failed_before_execution(ExecutionResult(data={"a": None}, errors=[field_error]))
    assert not failed_before_execution(ExecutionResult(data=None, errors=None))


def post(client: httpx.Client, body: object, **headers: str) -> httpx.Response:
    return client.post("/graphql", json=body, headers=headers)


def test_graphql_response_json_is_answered_when_accepted(client: httpx.Client) -> None:
    response = post(client, {"query": '{ asset(id: "ups-a1") { id } }'}, **GR_JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    assert response.json() == {"data": {"asset": {"id": "ups-a1"}}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {
                "query": "query A($id: String!) { asset(id: $id) { id } }",
                "variables": {"id": None},
            },
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ],
    ids=["parse", "validation", "variables"],
)
def test_graphql_response_json_request_errors_are_400_without_data(
    client: httpx.Client, body: dict[str, object], code: str
) -> None:
    response = post(client, body, **GR_JSON)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == code
    # application/json: 200 for older clients, still without `data`
    legacy = post(client, body)
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith(JSON)
    assert "data" not in legacy.json()
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


def test_graphql_response_json_field_errors_are_200_with_data(client: httpx.Client) -> None:
    response = post(client, {"query": '{ asset(id: "nope") { id } }'}, **GR_JSON)
    assert response.status_code == 200
    assert response.json()["data"] == {"asset": None}
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_mutation_over_get_is_405_with_allow_post(client: httpx.Client) -> None:
    response = client.get("/graphql", params={"query": "mutation { __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {
        "errors": [
            {
                "message": "mutations are not allowed when using GET",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, JSON])
def test_a_body_that_is_not_json_is_a_graphql_response_400(
    client: httpx.Client, accept: str
) -> None:
    response = client.post(
        "/graphql",
        content=b'{ "not a JSON',
        headers={"content-type": "application/json", "accept": accept},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    assert response.json() == {
        "errors": [
            {
                "message": "the request body is not JSON: Unterminated string starting at",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


@pytest.mark.parametrize(
    "body",
    [{"notquery": "{ __typename }"}, {"query": 0}, {"query": "{ __typename }", "variables": "x"}],
    ids=["no query", "query not a string", "variables not an object"],
)
def test_malformed_requests_are_400_with_bad_request(
    client: httpx.Client, body: dict[str, object]
) -> None:
    response = post(client, body, **GR_JSON)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


def test_operation_name_picks_one_of_several_operations(client: httpx.Client) -> None:
    document = 'query A { asset(id: "ups-a1") { id } } query B { __typename }'
    chosen = client.post("/graphql", json={"query": document, "operationName": "A"})
    assert chosen.json() == {"data": {"asset": {"id": "ups-a1"}}}
    missing = client.post(
        "/graphql", json={"query": document}, headers={"accept": GRAPHQL_RESPONSE_JSON}
    )
    assert missing.status_code == 400
    assert "data" not in missing.json()
    assert missing.json()["errors"][0]["message"].startswith("the document has 2 operations")
