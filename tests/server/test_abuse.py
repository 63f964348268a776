"""The attacks of the API hardening review, each sent to a real server over HTTP (or a
WebSocket) with the example site loaded: every one is refused with an error that names the
limit, before it costs the server more than a glance, or stopped at its deadline."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from neo4j import Driver
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from kgtwin.graph.tokens import create_token
from kgtwin.server.app import create_app
from kgtwin.server.settings import Settings
from tests.neo4j_service import Neo4jService
from tests.server.serving import serving, settings_for

CHEAP = '{ asset(id: "ups-a1") { id } }'


def schema_aliases(count: int) -> str:
    """The attack of finding 1: ``count`` aliases of ``__schema``, each spreading one
    fragment (at 1,400 aliases, 52 s of CPU and a 109 MB answer before the hardening)."""
    aliases = " ".join(f"a{i}: __schema {{ ...S }}" for i in range(count))
    return (
        f"query {{ {aliases} }} fragment S on __Schema {{ types {{ name fields {{ name "
        "args { name type { name } } } } }"
    )


def availability_aliases(count: int, trials: int = 100_000) -> str:
    """The attack of finding 4: ``count`` aliases of a Monte Carlo of ``trials`` trials."""
    aliases = " ".join(
        f'a{i}: availability(class: "Asset", trials: {trials}) {{ trials }}' for i in range(count)
    )
    return f"{{ {aliases} }}"


class Api:
    """A served app and the tokens to call it with."""

    def __init__(self, client: httpx.Client, token: str, settings: Settings) -> None:
        self.client = client
        self.token = token
        self.settings = settings

    def post(self, body: Any, *, token: bool = True, **headers: str) -> httpx.Response:
        if token:
            headers["authorization"] = f"Bearer {self.token}"
        if isinstance(body, bytes | str):
            headers.setdefault("content-type", "application/json")
            return self.client.post("/graphql", content=body, headers=headers)
        return self.client.post("/graphql", json=body, headers=headers)

    def error(self, body: Any, **kw: Any) -> dict[str, Any]:
        """The one error the request answers with."""
        response = self.post(body, **kw)
        errors = response.json()["errors"]
        assert len(errors) == 1, errors
        error: dict[str, Any] = errors[0]
        return error


@pytest.fixture(scope="module")
def viewer(dc1: Driver) -> str:
    return create_token(dc1, "viewer", "abuse-viewer").token


@pytest.fixture(scope="module")
def api(dc1: Driver, neo4j_server: Neo4jService, viewer: str) -> Iterator[Api]:
    """The server as it ships: anonymous read off, default limits."""
    settings = settings_for(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    with serving(create_app(settings), settings=settings) as client:
        yield ready(Api(client, viewer, settings))


@contextmanager
def served(neo4j_server: Neo4jService, token: str, **changes: Any) -> Iterator[Api]:
    """A server of this test's own, with ``changes`` to the settings."""
    settings = settings_for(neo4j_server.uri, neo4j_server.user, neo4j_server.password, **changes)
    with serving(create_app(settings), settings=settings) as client:
        yield ready(Api(client, token, settings))


def ready(api: Api, timeout: float = 30.0) -> Api:
    """``api`` once its server has built the dependency snapshot (what-if and the prices
    of the costly fields read it)."""
    deadline = time.monotonic() + timeout
    headers = {"authorization": f"Bearer {api.token}"}
    while api.client.get("/healthz", headers=headers).json().get("graph") is None:
        assert time.monotonic() < deadline, "the server built no snapshot in 30 s"
        time.sleep(0.1)
    return api


# --- 1. No work for strangers ------------------------------------------------------------


def test_a_stranger_is_refused_before_the_document_is_parsed(api: Api) -> None:
    for query in (schema_aliases(1_400), "not GraphQL at all {"):
        response = api.post({"query": query}, token=False)
        assert response.status_code == 401  # not a parse error: it was never parsed
        assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def test_a_stranger_is_refused_before_the_body_is_read(api: Api) -> None:
    """Headers announce 5 MB and no body follows: the 401 comes at once, so the server did
    not wait to read it."""
    host, port = api.client.base_url.host, api.client.base_url.port
    assert port is not None
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000000\r\n\r\n"
        )
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401 ")


def test_introspection_can_be_switched_off_for_everyone(
    neo4j_server: Neo4jService, viewer: str
) -> None:
    with served(neo4j_server, viewer, introspection=False) as api:
        error = api.error({"query": "{ __schema { queryType { name } } }"})
        assert error["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert "(introspection)" in error["message"]
        assert api.post({"query": CHEAP}).json() == {"data": {"asset": {"id": "ups-a1"}}}


# --- byte limits -------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_unread(api: Api) -> None:
    body = json.dumps({"query": "{ __typename }" + " " * 200_000})
    response = api.post(body)
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "REQUEST_TOO_LARGE"}
    assert "the limit is 131072 (max_body_bytes)" in error["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query": "{ __typename }'
        for _ in range(300):
            yield b" " * 1024
        yield b'"}'

    chunked = api.client.post(
        "/graphql",
        content=chunks(),
        headers={"authorization": f"Bearer {api.token}", "content-type": "application/json"},
    )
    assert chunked.status_code == 413


def test_a_padded_document_is_refused_before_it_is_parsed(api: Api) -> None:
    """Finding 2: comments and whitespace did not count toward the token limit."""
    padded = "# " + "x" * 40_000 + "\n{ __typename }"
    error = api.error({"query": padded})
    size = len(padded.encode())
    assert error["extensions"] == {"code": "REQUEST_TOO_LARGE", "limit": 32768, "size": size}
    assert "(max_document_bytes)" in error["message"]
    big = {"ids": ["x" * 100] * 700}
    error = api.error({"query": CHEAP, "variables": big})
    assert error["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert "(max_variables_bytes)" in error["message"]


def test_aliases_are_limited(api: Api) -> None:
    error = api.error({"query": schema_aliases(60)})
    assert error["extensions"] == {"code": "ALIAS_LIMIT", "limit": 50, "aliases": 60}
    assert "(max_aliases)" in error["message"]
    error = api.error({"query": availability_aliases(400)})
    assert error["extensions"]["code"] == "ALIAS_LIMIT"


def test_list_arguments_are_limited_literal_or_variable(api: Api) -> None:
    """Finding 5: whatIf(fail:) with millions of ids, where: with 20,000 filters."""
    ids = [f"ups-{i}" for i in range(1_001)]
    literal = "{ whatIf(fail: [" + ",".join(json.dumps(i) for i in ids) + "]) { summary } }"
    error = api.error({"query": literal})
    assert error["extensions"] == {"code": "LIST_TOO_LONG", "limit": 1000, "length": 1001}
    assert error["message"].startswith("argument `fail` is a list of 1001 items")
    query = "query ($f: [String!]) { whatIf(fail: $f) { summary } }"
    error = api.error({"query": query, "variables": {"f": ids}})
    assert error["message"].startswith("variable $f is a list of 1001 items")
    filters = [{"property": "ratedCapacity", "gt": 1}] * 1_001
    query = 'query ($w: [PropertyFilterInput!]) { assets(class: "UPS", where: $w) { totalCount } }'
    error = api.error({"query": query, "variables": {"w": filters}})
    assert error["extensions"]["code"] == "LIST_TOO_LONG"


# --- 2. Cost is honest -------------------------------------------------------------------


def test_introspection_is_counted(neo4j_server: Neo4jService, viewer: str) -> None:
    with served(neo4j_server, viewer, max_aliases=2_000, max_document_bytes=100_000) as api:
        error = api.error({"query": schema_aliases(1_400)})
        assert error["extensions"]["code"] == "COMPLEXITY_LIMIT"
        assert error["extensions"]["complexity"] > 1_400 * 500


def test_the_estimate_applies_variable_defaults(neo4j_server: Neo4jService, viewer: str) -> None:
    """Finding 6: `first: $n` with `$n: Int = 100` was estimated as 20."""
    page = "{ edges { node { id points(first: 20) { id value } } } }"
    literal = '{ assets(class: "Asset", first: 100) ' + page + " }"
    variable = 'query ($n: Int = 100) { assets(class: "Asset", first: $n) ' + page + " }"
    with served(neo4j_server, viewer, max_complexity=2_000) as api:
        by_literal = api.error({"query": literal})["extensions"]
        by_default = api.error({"query": variable})["extensions"]
        assert by_literal["code"] == by_default["code"] == "COMPLEXITY_LIMIT"
        assert by_literal["complexity"] == by_default["complexity"]
        explicit = api.error({"query": variable, "variables": {"n": 100}})["extensions"]
        assert explicit["complexity"] == by_literal["complexity"]


def test_expensive_fields_are_priced_by_their_work(neo4j_server: Neo4jService, viewer: str) -> None:
    """Finding 4: availability, paths, downstream and whatIf each counted about 2."""
    with served(neo4j_server, viewer, max_complexity=1, max_aliases=1_000) as api:

        def cost(query: str) -> int:
            extensions = api.error({"query": query})["extensions"]
            assert extensions["code"] == "COMPLEXITY_LIMIT"
            return int(extensions["complexity"])

        one = cost('{ availability(class: "Asset", trials: 1000) { trials } }')
        more = cost('{ availability(class: "Asset", trials: 100000) { trials } }')
        assert more > 10 * one > 10 * 100
        assert cost(availability_aliases(400)) > 400 * more * 0.99
        assert cost('{ paths(from: "utility-feed-a", to: "rack-h1-r01") { length } }') > 1_000
        assert cost('{ downstream(id: "utility-feed-a") { totalCount } }') > 10
        assert cost('{ whatIf(fail: ["ups-a1"]) { summary } }') > 2  # its walk, on a small site
        capacity = cost('{ whatIf(fail: ["ups-a1"], mode: CAPACITY) { summary } }')
        assert capacity > cost('{ whatIf(fail: ["ups-a1"]) { summary } }')


def test_a_token_that_spends_its_budget_is_told_when_to_retry(
    neo4j_server: Neo4jService, viewer: str, dc1: Driver
) -> None:
    other = create_token(dc1, "viewer", "abuse-other").token
    costly = availability_aliases(20)  # about 42,000
    with served(neo4j_server, viewer, rate_limit=60_000, max_complexity=60_000) as api:
        assert "errors" not in api.post({"query": costly}).json()
        refused = api.post({"query": costly})
        assert refused.status_code == 429
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= 60
        error = refused.json()["errors"][0]
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry}
        assert "(rate_limit)" in error["message"]
        # another token has a budget of its own
        api.token = other
        assert "errors" not in api.post({"query": costly}).json()


def test_a_flood_of_bad_requests_is_charged_and_throttled_unread(
    neo4j_server: Neo4jService, viewer: str
) -> None:
    """Malformed or refused requests cost the server reading them: each is charged its
    body's size, so a token's flood of them turns into 429s answered before any body is
    read."""
    nested = b"[" * 100_000
    with served(neo4j_server, viewer, rate_limit=6_000, max_complexity=1_000) as api:
        statuses = [api.post(nested).status_code for _ in range(30)]
        assert statuses[0] == 400
        assert 400 in statuses
        assert statuses[-1] == 429
        assert statuses.count(429) >= 20  # 1,000 units of burst: about 9 bodies of 100 KB


# --- 3. The server stays responsive ------------------------------------------------------


def simulation_cpu() -> float:
    """CPU seconds the server's simulation threads have used (this process runs it)."""
    import threading

    total = 0.0
    for thread in threading.enumerate():
        if thread.name.startswith("kgtwin-simulation") and thread.ident is not None:
            clock = time.pthread_getcpuclockid(thread.ident)
            total += time.clock_gettime(clock)
    return total


def test_a_request_past_its_deadline_is_stopped_and_its_work_ends(
    neo4j_server: Neo4jService, viewer: str
) -> None:
    heavy = availability_aliases(400)  # some 10 s of Monte Carlo, one simulation at a time
    with served(
        neo4j_server,
        viewer,
        request_timeout=1,
        max_aliases=1_000,
        max_complexity=100_000_000,
        rate_limit=0,
        simulations=1,
    ) as api:
        response = api.post({"query": heavy})
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "DEADLINE_EXCEEDED"
        assert "request_timeout (1 s)" in body["errors"][0]["message"]
        settled = simulation_cpu()
        time.sleep(1.0)
        # the simulation looked at the deadline and stopped: its thread has gone idle
        assert simulation_cpu() - settled < 0.1
        assert api.post({"query": CHEAP}).json() == {"data": {"asset": {"id": "ups-a1"}}}


def test_unfinished_headers_are_dropped_and_connections_are_capped(
    neo4j_server: Neo4jService, viewer: str
) -> None:
    """Finding 7: 50 requests with unfinished headers were all still open after 75 s."""
    with served(neo4j_server, viewer, read_timeout=1, max_connections=20) as api:
        host, port = api.client.base_url.host, api.client.base_url.port
        assert port is not None
        slow = []
        for _ in range(10):
            connection = socket.create_connection((host, port), timeout=10)
            connection.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")  # and no more
            slow.append(connection)
        for connection in slow:
            assert connection.recv(1024) == b""  # closed by the server after read_timeout
            connection.close()
        assert api.post({"query": CHEAP}).status_code == 200
        held = [socket.create_connection((host, port), timeout=10) for _ in range(25)]
        try:
            beyond = httpx.post(
                f"http://{host}:{port}/graphql",
                json={"query": CHEAP},
                headers={"authorization": f"Bearer {api.token}"},
            )
            assert beyond.status_code == 503  # max_connections
        finally:
            for connection in held:
                connection.close()


# --- 5. Small things ---------------------------------------------------------------------


def test_a_lone_surrogate_is_bad_user_input(api: Api) -> None:
    query = "query ($id: String!) { asset(id: $id) { id } }"
    body = '{"query": "' + query + '", "variables": {"id": "\\ud800"}}'
    error = api.error(body)
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "lone UTF-16 surrogate" in error["message"]
    body = '{"query": "{ asset(id: \\"\\ud800\\") { id } }"}'
    assert api.error(body)["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_deeply_nested_cursor_is_bad_user_input(api: Api) -> None:
    cursor = base64.urlsafe_b64encode(b"[" * 1_500 + b"]" * 1_500).decode()
    query = 'query ($c: String) { assets(class: "UPS", after: $c) { totalCount } }'
    error = api.error({"query": query, "variables": {"c": cursor}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "is not a cursor this server issued" in error["message"]


def test_a_deeply_nested_body_is_a_graphql_shaped_400(api: Api) -> None:
    response = api.post("[" * 100_000)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "errors": [
            {
                "message": "the request body is not JSON: nested too deeply to read",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


def test_metrics_can_require_a_token(neo4j_server: Neo4jService, viewer: str) -> None:
    with served(neo4j_server, viewer, metrics_token=True) as api:
        assert api.client.get("/metrics").status_code == 401
        shown = api.client.get("/metrics", headers={"authorization": f"Bearer {viewer}"})
        assert shown.status_code == 200
        assert "kgtwin_graphql_requests_total" in shown.text


# --- the same over WebSocket -------------------------------------------------------------


def websocket(api: Api) -> ClientConnection:
    url = str(api.client.base_url).replace("http://", "ws://") + "/graphql"
    return connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10)


def test_over_websocket_strangers_large_messages_and_costly_queries_are_refused(
    api: Api,
) -> None:
    with websocket(api) as ws:  # no token: refused at connection_init
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
    with websocket(api) as ws:  # a message over max_body_bytes: closed, nothing parsed
        ws.send(json.dumps({"type": "connection_init", "payload": {"token": api.token}}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "connection_ack"}
        padded = "# " + "x" * 200_000 + "\n{ __typename }"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": padded}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
    with websocket(api) as ws:  # under it: each operation passes the same limits as HTTP
        ws.send(json.dumps({"type": "connection_init", "payload": {"token": api.token}}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "connection_ack"}
        for number, (query, code) in enumerate(
            [
                ("# " + "x" * 40_000 + "\n{ __typename }", "REQUEST_TOO_LARGE"),
                (schema_aliases(60), "ALIAS_LIMIT"),
                ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
            ]
        ):
            ws.send(
                json.dumps({"id": str(number), "type": "subscribe", "payload": {"query": query}})
            )
            answer = json.loads(ws.recv(timeout=10))
            assert answer["type"] == "error", answer
            assert answer["payload"][0]["extensions"]["code"] == code
        ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": CHEAP}}))
        assert json.loads(ws.recv(timeout=10))["payload"] == {"data": {"asset": {"id": "ups-a1"}}}
