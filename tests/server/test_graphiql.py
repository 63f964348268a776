"""GraphiQL as a user opens it, on a machine without internet: headless Chromium whose
network reaches 127.0.0.1 only renders the page, runs a query and a subscription through
it with the token pasted into its header editor, and no request leaves the server; the
same browser shows that a GraphiQL page loading from a CDN stays blank."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from neo4j import Driver
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from kgtwin.graph.tokens import create_token
from kgtwin.server.app import create_app
from tests.browser import GRAPHIQL_RENDERED, Page, browser
from tests.neo4j_service import Neo4jService
from tests.server.serving import serving, settings_for
from tests.server.test_subscriptions import Live, live  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser  # every test here uses the module's browser

RENDERED = GRAPHIQL_RENDERED
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
RESULT = "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with browser() as tab:
        yield tab


def sign_in(page: Page, base: str, token: str) -> None:
    """Open GraphiQL and paste ``token`` into its header editor, as a user does once (the
    editor keeps its headers in the browser: set them there, and reload)."""
    page.open(f"{base}/graphql")
    page.wait_for(RENDERED)
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    page.evaluate(f"localStorage.setItem('graphiql:headers', {json.dumps(headers)})")
    page.open(f"{base}/graphql?")
    page.wait_for(RENDERED)
    page.wait_for(f"{QUERY_EDITOR} !== undefined")


def run(page: Page, query: str) -> None:
    page.evaluate(f"{QUERY_EDITOR}.setValue({json.dumps(query)})")
    page.evaluate("document.querySelector('.graphiql-execute-button').click()")


def outside(page: Page, base: str) -> list[str]:
    """The requests the page made to anything but the server (data: URLs are no request)."""
    own = (base, base.replace("http://", "ws://", 1))
    return [u for u in page.requests if not u.startswith((*own, "data:"))]


def test_graphiql_works_from_the_server_alone(
    page: Page, dc1: Driver, neo4j_server: Neo4jService
) -> None:
    settings = settings_for(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    token = create_token(dc1, "viewer", "graphiql-viewer").token
    with serving(create_app(settings), settings=settings) as client:
        base = str(client.base_url).rstrip("/")
        page.requests.clear()
        sign_in(page, base, token)
        run(page, '{ asset(id: "ups-a1") { id label } }')
        answer = page.wait_for(
            f"(() => {{ const v = {RESULT}; return v.includes('ups-a1') && v }})()"
        )
        assert json.loads(answer) == {"data": {"asset": {"id": "ups-a1", "label": "UPS A1"}}}
        assert outside(page, base) == []
        # the page's policy holds it to this server, whatever a script would try
        policy = client.get("/graphql", headers={"accept": "text/html"}).headers
        assert "connect-src 'self'" in policy["content-security-policy"]


def test_a_subscription_runs_from_graphiql_over_its_websocket(page: Page, live: Live) -> None:  # noqa: F811
    base = str(live.http.base_url).rstrip("/")
    page.requests.clear()
    sign_in(page, base, live.viewer)
    before = live.feeds()
    run(page, 'subscription { pointUpdated(assetId: "fast-a") { pointId value } }')
    live.serving(before + 1)
    live.publisher.publish(f"{live.prefix}/fast-a.flow-1", {"value": 12.5})
    answer = page.wait_for(f"(() => {{ const v = {RESULT}; return v.includes('12.5') && v }})()")
    assert json.loads(answer) == {
        "data": {"pointUpdated": {"pointId": "fast-a.flow-1", "value": 12.5}}
    }
    assert any(u.startswith(base.replace("http://", "ws://", 1)) for u in page.requests)
    assert outside(page, base) == []


def test_a_graphiql_page_from_a_cdn_stays_blank_here(page: Page) -> None:
    """The check above can fail: Strawberry's own page, which loads GraphiQL from unpkg,
    shows nothing in this browser."""
    cdn = get_graphql_ide_html("graphiql")
    app = Starlette(routes=[Route("/", lambda _request: HTMLResponse(cdn))])
    with serving(app) as client:
        base = str(client.base_url).rstrip("/")
        page.requests.clear()
        page.open(f"{base}/")
        with pytest.raises(TimeoutError):
            page.wait_for(RENDERED, timeout=5)
        assert any("unpkg.com" in url for url in outside(page, base))
