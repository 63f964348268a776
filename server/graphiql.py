"""GraphiQL, served by kgtwin itself: the page at ``/graphql`` (for a browser) and its
files under ``/graphiql/`` (``server/static/graphiql``; the third-party ones, pinned, in
``vendor/`` with their licences, copied there by ``tools/graphiql/vendor.py``).

The page's Content-Security-Policy lets it load and connect only to this server, so a
plant network without internet sees the same GraphiQL as a laptop on the internet.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

FILES = Path(__file__).resolve().parent / "static" / "graphiql"
PREFIX = "/graphiql"
# 'self' covers ws:/wss: to this host (CSP Level 3); inline styles are React's
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def page() -> HTMLResponse:
    """The GraphiQL page (read from disk each time it is asked for: a browser asks once)."""
    return HTMLResponse(
        (FILES / "index.html").read_text(),
        headers={
            "content-security-policy": POLICY,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        },
    )


def files() -> Mount:
    """The route of the page's files."""
    return Mount(PREFIX, app=StaticFiles(directory=FILES), name="graphiql")
