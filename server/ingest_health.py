"""How the ingestion worker's health leaves the process.

- ``kgtwin ingest --metrics-port``: :func:`serve_ingest_http` serves ``/metrics``
  (Prometheus) and ``/healthz`` (the worker's health as JSON, 200 when ok, 503 when
  stalled or failed) on 127.0.0.1, from prometheus_client's WSGI app.
- ``kgtwin serve --ingest``: ``/healthz`` adds the worker's health, and
  :func:`shut_down_when_failed` stops the server (exit status 1) once the worker gives up.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

import anyio
from prometheus_client import CollectorRegistry, make_wsgi_app
from starlette.datastructures import State

from kgtwin.ingest.health import IngestHealth
from kgtwin.ingest.worker import IngestWorker

logger = logging.getLogger(__name__)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No line per request on stderr (scrapes come every few seconds)."""


def serve_ingest_http(
    port: int, registry: CollectorRegistry, health: Callable[[], IngestHealth]
) -> WSGIServer:
    """Serve on ``127.0.0.1:port`` on a daemon thread; ``shutdown()`` the result to stop."""
    metrics = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/healthz":
            exposition: Iterable[bytes] = metrics(environ, start_response)
            return exposition
        report = health()
        body = json.dumps(report.as_json()).encode()
        status = "200 OK" if report.ok else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    server = make_server("127.0.0.1", port, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="kgtwin-ingest-http", daemon=True).start()
    return server


async def shut_down_when_failed(worker: IngestWorker, state: State, poll: float = 1.0) -> None:
    """Once ``worker`` gives up, note why in ``state.ingest_failure`` and ask the server
    to shut down (SIGTERM, as a supervisor would), so that the process exits with status 1
    and is started again."""
    while worker.failure is None:  # noqa: ASYNC110  # set on the worker's thread, not an event loop
        await anyio.sleep(poll)
    state.ingest_failure = worker.failure
    logger.critical("ingestion stopped (%s): shutting the server down", worker.failure)
    signal.raise_signal(signal.SIGTERM)
