"""Serving the app for end-to-end tests: a real uvicorn on a free port, and settings that
point it at a given Neo4j. Used by ``test_app``, ``test_graphql_http_audit`` and
``bench/query.py``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from kgtwin.devkit.launcher import free_ports
from kgtwin.server.listener import uvicorn_config
from kgtwin.server.settings import Settings


@contextmanager
def serving(
    app: Starlette,
    start_timeout: float = 30.0,
    settings: Settings | None = None,
    port: int | None = None,
) -> Iterator[httpx.Client]:
    """``app`` under uvicorn (in a thread) on ``port`` (a free one when None), configured
    as ``kgtwin serve`` does with ``settings`` (the defaults when None), and a keep-alive
    client for it."""
    if port is None:
        (port,) = free_ports(1)
    config = uvicorn_config(
        app,
        settings or Settings(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start in {start_timeout:.0f} s")
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


def settings_for(uri: str, user: str, password: str, **changes: Any) -> Settings:
    """Settings for a server on this Neo4j; its graph cache checks for changes every second.
    History is off unless ``changes`` turn it on (a developer's local QuestDB is no test's)."""
    env = {"NEO4J_URI": uri, "NEO4J_USER": user, "NEO4J_PASSWORD": password}
    return Settings.from_env(env).override(**{"refresh_interval": 1, "history": False, **changes})
