"""The one place that wires the server together: :func:`create_app`.

Routes: ``/graphql`` (GraphQL over HTTP, GET and POST, as :mod:`server.graphql_http`
describes; GraphiQL for a browser; and over WebSocket, graphql-transport-ws, as
:mod:`server.graphql_ws` describes),
``/healthz`` (200 when Neo4j answers, 503 with the reason when it does not) and
``/metrics`` (Prometheus text format). The lifespan
loads the ontology catalogue, keeps the graph cache fresh (:mod:`server.graph_cache`),
runs the MQTT ingestion worker when ``ingest`` is on (its events feed the subscriptions
through :class:`server.live.LiveHub`) and closes the Neo4j driver at shutdown. Neo4j may be down
when the server starts or at any time later: requests then fail with
``NEO4J_UNAVAILABLE`` (or 503) and succeed again as soon as it is back, because every
request borrows a fresh connection from the driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.types.unset import UnsetType

from graph.connection import open_driver
from graph.errors import GraphError
from graph.reader import Reader
from ingest.worker import IngestWorker
from ontology.catalogue import Catalogue
from ontology.validate import Ontology
from server.auth import BearerTokenBackend, middleware_for, principal_of, token_backend
from server.graph_cache import keep_fresh
from server.graphql_http import GraphQLOverHTTP
from server.graphql_ws import PROTOCOLS, ClosingAdapter, connect
from server.ingest_health import shut_down_when_failed
from server.live import LiveHub
from server.metrics import Metrics
from server.schema import TwinSchema, build_schema
from server.schema.context import Context, Services, make_context
from server.schema.loaders import in_thread
from server.settings import Settings


class TwinGraphQL(GraphQLOverHTTP[Context, None]):
    """The GraphQL app with our context: the app's services and the principal that the
    authentication middleware put on the request (None: anonymous); over WebSocket, the
    principal of the ``connection_init`` token (:mod:`server.graphql_ws`)."""

    websocket_adapter_class = ClosingAdapter  # type: ignore[assignment]  # as Strawberry's

    def __init__(self, schema: TwinSchema, tokens: BearerTokenBackend) -> None:
        super().__init__(schema, subscription_protocols=PROTOCOLS)
        self.tokens = tokens

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services: Services = request.app.state.services
        if isinstance(request, WebSocket):
            return make_context(services, principal_of(request), websocket=request)
        return make_context(
            services,
            principal_of(request),
            request,
            response if isinstance(response, Response) else None,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        await connect(context, self.tokens)
        return UnsetType()  # connection_ack without a payload


async def healthz(request: Request) -> Response:
    """200 ``{"status": "ok", ...}`` when Neo4j answers, with the graph version the server's
    cache was built at (``graph``: null until the first build); 503 with the reason when
    Neo4j does not answer. With ingestion on, ``ingest`` is the worker's health, and a
    stalled or failed worker makes it 503 too."""
    services: Services = request.app.state.services
    try:
        version = await in_thread(services.reader.server_version)
    except GraphError as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    cached = services.cache.current
    graph = None
    if cached is not None:
        graph = {"version": cached.version, "dependencyNodes": len(cached.snapshot)}
    body: dict[str, object] = {"status": "ok", "neo4j": version, "graph": graph}
    worker: IngestWorker | None = getattr(request.app.state, "ingest", None)
    if worker is not None:
        ingest = worker.health()
        body["ingest"] = ingest.as_json()
        if not ingest.ok:
            return JSONResponse({**body, "status": "unavailable"}, status_code=503)
    return JSONResponse(body)


def create_app(settings: Settings) -> Starlette:
    """The server for ``settings``. Opening the driver does no I/O (it connects on first
    use); the authentication middleware needs it before the app exists."""
    uri, user, password = settings.neo4j_connection()
    driver = open_driver(uri, user, password)
    metrics = Metrics()
    reader = Reader(
        driver, settings.neo4j_database, observer=lambda _query: metrics.neo4j_round_trips.inc()
    )

    ingest = settings.ingest_config() if settings.ingest else None  # bad settings: fail now

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker: IngestWorker | None = None
        try:
            ontology = await in_thread(Ontology.load, list(settings.ontology))
            catalogue = Catalogue.build(ontology.graph, ontology.vocabulary)
            services = Services(settings, reader, catalogue, live=LiveHub())
            app.state.services = services
            if ingest is not None:
                worker = IngestWorker(ingest, driver, metrics.ingest(), services.live)
                worker.start()
                app.state.ingest = worker
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(keep_fresh, services.cache, reader, settings.refresh_interval)
                if worker is not None:
                    tasks.start_soon(shut_down_when_failed, worker, app.state)
                yield
                tasks.cancel_scope.cancel()
        finally:
            if worker is not None:
                await in_thread(worker.stop)
            await in_thread(driver.close)

    tokens = token_backend(driver, database=settings.neo4j_database)
    graphql = TwinGraphQL(build_schema(settings, extensions=[metrics.extension()]), tokens)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
        ],
        middleware=[middleware_for(tokens)],
        lifespan=lifespan,
    )
