"""The app end to end over HTTP: a real uvicorn on a free port, the real Neo4j (the
``client`` and ``dc1`` fixtures are in ``conftest``, the helpers in ``serving``).

The outage test runs on a Neo4j apart from the session's (``spare_neo4j``), stops it mid-run
and starts it again: the server answers ``NEO4J_UNAVAILABLE`` and ``/healthz`` 503
meanwhile, and recovers by itself.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from neo4j import Driver

from kgtwin.devkit import launcher
from kgtwin.devkit.launcher import LocalNeo4jConfig, Neo4jStatus, free_ports
from kgtwin.graph.tokens import create_token
from kgtwin.server.app import create_app
from kgtwin.server.schema.errors import NEO4J_UNAVAILABLE_MESSAGE
from tests.neo4j_service import Neo4jService
from tests.server.serving import serving, settings_for

ASSET = '{ asset(id: "ups-a1") { id classes { name } } }'


def graphql(client: httpx.Client, query: str, **headers: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_post_and_get_json(client: httpx.Client) -> None:
    expected = {
        "asset": {
            "id": "ups-a1",
            "classes": [{"name": n} for n in ("UPS", "ElectricalAsset", "Asset")],
        }
    }
    assert graphql(client, ASSET) == {"data": expected}
    response = client.get("/graphql", params={"query": ASSET})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": expected}


def test_a_browser_gets_graphiql(client: httpx.Client) -> None:
    response = client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "GraphiQL" in response.text


def test_errors_over_http_have_codes_and_no_trace(client: httpx.Client) -> None:
    body = graphql(client, '{ asset(id: "nope") { id } }')
    assert body["data"] == {"asset": None}
    assert body["errors"] == [
        {
            "message": "no asset has the id 'nope'",
            "locations": [{"line": 1, "column": 3}],
            "path": ["asset"],
            "extensions": {"code": "NOT_FOUND"},
        }
    ]
    body = graphql(client, '{ assets(class: "Pmp") { totalCount } }')
    assert body["errors"][0]["extensions"] == {"code": "UNKNOWN_CLASS"}
    assert "Traceback" not in str(body)


def test_an_error_is_counted_once_under_its_code(client: httpx.Client) -> None:
    """Regression: every error was also counted as GRAPHQL_VALIDATION_FAILED (the uncoded
    copy Strawberry keeps in ``pre_execution_errors``)."""
    codes = ("NOT_FOUND", "GRAPHQL_VALIDATION_FAILED")
    before = {c: metric(client, "kgtwin_graphql_errors_total", code=c) for c in codes}
    graphql(client, '{ asset(id: "nope") { id } }')
    graphql(client, "{ nope }")
    after = {c: metric(client, "kgtwin_graphql_errors_total", code=c) for c in codes}
    assert after == {c: before[c] + 1 for c in codes}


def test_healthz_tells_a_stranger_only_up_and_a_token_holder_more(
    dc1: Driver, neo4j_server: Neo4jService
) -> None:
    settings = settings_for(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    assert settings.anonymous_read is False
    token = create_token(dc1, "viewer", "test-app-health").token
    with serving(create_app(settings)) as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        detailed = client.get("/healthz", headers={"authorization": f"Bearer {token}"}).json()
        assert detailed["status"] == "ok"
        assert detailed["neo4j"].startswith("5.")


def test_healthz_tells_anyone_more_when_anonymous_read_is_on(client: httpx.Client) -> None:
    assert client.get("/healthz").json()["neo4j"].startswith("5.")


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    """The value of one sample on /metrics (0 when the series does not exist yet)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    wanted = name + (
        "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    )
    for line in response.text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == wanted:
            return float(value)
    return 0.0


def test_metrics_count_operations_errors_and_neo4j_round_trips(
    client: httpx.Client, dc1: Driver
) -> None:
    token = create_token(dc1, "viewer", "test-app-metrics").token
    before = {
        "ops": metric(client, "kgtwin_graphql_requests_total", operation="Ups"),
        "anonymous": metric(client, "kgtwin_graphql_requests_total", operation="anonymous"),
        "seconds": metric(client, "kgtwin_graphql_request_seconds_count", operation="Ups"),
        "not_found": metric(client, "kgtwin_graphql_errors_total", code="NOT_FOUND"),
        "neo4j": metric(client, "kgtwin_neo4j_round_trips_total"),
    }
    graphql(client, "query Ups " + ASSET, authorization=f"Bearer {token}")
    graphql(client, "query Ups " + ASSET, authorization=f"Bearer {token}")
    graphql(client, "query Stranger " + ASSET)  # anonymous: not a label of its own
    graphql(client, '{ asset(id: "nope") { id } }')
    assert metric(client, "kgtwin_graphql_requests_total", operation="Ups") == before["ops"] + 2
    assert metric(client, "kgtwin_graphql_requests_total", operation="Stranger") == 0
    anonymous = metric(client, "kgtwin_graphql_requests_total", operation="anonymous")
    assert anonymous == before["anonymous"] + 2
    seconds = metric(client, "kgtwin_graphql_request_seconds_count", operation="Ups")
    assert seconds == before["seconds"] + 2
    errors = metric(client, "kgtwin_graphql_errors_total", code="NOT_FOUND")
    assert errors == before["not_found"] + 1
    assert metric(client, "kgtwin_neo4j_round_trips_total") >= before["neo4j"] + 3


def test_bearer_tokens_and_roles(dc1: Driver, neo4j_server: Neo4jService) -> None:
    settings = settings_for(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    assert settings.anonymous_read is False
    token = create_token(dc1, "viewer", "test-app-viewer").token
    with serving(create_app(settings)) as client:
        refused = client.post("/graphql", json={"query": ASSET})  # refused before parsing
        assert refused.status_code == 401
        assert "data" not in refused.json()
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        allowed = graphql(client, ASSET, authorization=f"Bearer {token}")
        assert allowed["data"]["asset"]["id"] == "ups-a1"
        bad = client.post("/graphql", json={"query": ASSET}, headers={"authorization": "Bearer x"})
        assert bad.status_code == 401


def test_healthz_503_and_neo4j_unavailable_when_neo4j_is_not_there() -> None:
    (port,) = free_ports(1)
    settings = settings_for(f"bolt://127.0.0.1:{port}", "neo4j", "secret", anonymous_read=True)
    with serving(create_app(settings)) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert "Neo4j is not reachable" in response.json()["reason"]  # anonymous read on
        body = graphql(client, ASSET)
        assert body["errors"][0]["extensions"] == {"code": "NEO4J_UNAVAILABLE"}
        assert body["errors"][0]["message"] == NEO4J_UNAVAILABLE_MESSAGE


def wait_until_healthy(client: httpx.Client, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover after Neo4j came back"
        time.sleep(0.5)


def test_neo4j_stopped_mid_run_then_restarted(
    spare_neo4j: tuple[LocalNeo4jConfig, Neo4jStatus],
) -> None:
    cfg, running = spare_neo4j
    assert running.password is not None
    settings = settings_for(running.bolt_uri, running.user, running.password, anonymous_read=True)
    with serving(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        up = graphql(client, ASSET)  # an empty database: the asset is not there
        assert up["errors"][0]["extensions"]["code"] == "NOT_FOUND"

        launcher.stop(cfg)
        for _ in range(2):  # the server keeps answering, every time
            health = client.get("/healthz")
            assert health.status_code == 503
            assert "Neo4j is not reachable" in health.json()["reason"]
            down = graphql(client, ASSET)
            assert down["data"] == {"asset": None}
            assert down["errors"][0]["extensions"] == {"code": "NEO4J_UNAVAILABLE"}

        launcher.start(cfg, progress=lambda _line: None)
        wait_until_healthy(client)
        again = graphql(client, ASSET)
        assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"


PREFLIGHT = {
    "origin": "https://dash.example",
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}


def test_cross_origin_calls_are_off_until_origins_are_named(
    dc1: Driver, neo4j_server: Neo4jService
) -> None:
    settings = settings_for(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    with serving(create_app(settings)) as client:
        refused = client.options("/graphql", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in refused.headers
    token = create_token(dc1, "viewer", "test-app-cors").token
    named = settings.override(cors_origins="https://dash.example, http://127.0.0.1:3000")
    with serving(create_app(named)) as client:
        preflight = client.options("/graphql", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://dash.example"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        other = client.options("/graphql", headers={**PREFLIGHT, "origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        answered = client.post(
            "/graphql",
            json={"query": ASSET},
            headers={"origin": "https://dash.example", "authorization": f"Bearer {token}"},
        )
        assert answered.json()["data"]["asset"]["id"] == "ups-a1"
        assert answered.headers["access-control-allow-origin"] == "https://dash.example"
