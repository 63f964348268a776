"""The one place that wires the server together: :func:`create_app`.

Routes: ``/graphql`` (GraphQL over HTTP, GET and POST, as :mod:`server.graphql_http`
describes; GraphiQL for a browser; and over WebSocket, graphql-transport-ws, as
:mod:`server.graphql_ws` describes),
``/healthz`` (200 when Neo4j answers, 503 when it does not; the details only to a caller
with a valid token) and ``/metrics`` (Prometheus text format; with ``metrics_token``
only to a caller with a valid token). With anonymous read off, a GraphQL request without
a token is refused (401) before its body is read, and one whose client has spent its
budget (429) too. The lifespan loads the ontology catalogue, starts the loops operations
run on (:mod:`server.loops`), keeps the graph cache fresh (:mod:`server.graph_cache`),
follows the twin's event stream (:mod:`server.event_stream`: every worker's and server's
events feed the subscriptions through :class:`server.live.LiveHub`), runs the MQTT
ingestion worker when ``ingest`` is on (publishing its events) and closes the Neo4j
driver at shutdown. Neo4j may be down
when the server starts or at any time later: requests then fail with
``NEO4J_UNAVAILABLE`` (or 503) and succeed again as soon as it is back, because every
request borrows a fresh connection from the driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.types.unset import UnsetType

from kgtwin.graph.connection import open_driver
from kgtwin.graph.errors import GraphError
from kgtwin.graph.reader import Reader
from kgtwin.ingest.history.reads import HistoryReader
from kgtwin.ingest.outbound.listener import EventListener
from kgtwin.ingest.outbound.publisher import EventPublisher
from kgtwin.ingest.worker import IngestWorker
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.units import Units
from kgtwin.ontology.validate import Ontology
from kgtwin.server import graphiql, neo4j_browser
from kgtwin.server.auth import (
    BearerTokenBackend,
    Refused,
    middleware_for,
    principal_of,
    refusal_response,
    token_backend,
)
from kgtwin.server.event_stream import EventStream, server_id
from kgtwin.server.graph_cache import keep_fresh
from kgtwin.server.graphql_http import GraphQLOverHTTP
from kgtwin.server.graphql_ws import PROTOCOLS, ClosingAdapter, connect
from kgtwin.server.history_setup import open_history
from kgtwin.server.ingest_health import shut_down_when_failed
from kgtwin.server.live import LiveHub
from kgtwin.server.loops import OperationLoops
from kgtwin.server.metrics import Metrics
from kgtwin.server.ratelimit import request_fee
from kgtwin.server.risk_watch import RiskWatcher
from kgtwin.server.schema import TwinSchema, build_schema
from kgtwin.server.schema.admission import NEEDS_TOKEN, rate_limited
from kgtwin.server.schema.context import Context, Services, client_key, make_context
from kgtwin.server.schema.loaders import in_thread
from kgtwin.server.settings import Settings

MAX_OPERATIONS_PER_CONNECTION = 50  # running at once on one WebSocket


class TwinGraphQL(GraphQLOverHTTP[Context, None]):
    """The GraphQL app with our context: the app's services and the principal that the
    authentication middleware put on the request (None: anonymous); over WebSocket, the
    principal of the ``connection_init`` token (:mod:`server.graphql_ws`)."""

    websocket_adapter_class = ClosingAdapter  # type: ignore[assignment]  # as Strawberry's

    def __init__(self, schema: TwinSchema, tokens: BearerTokenBackend, settings: Settings) -> None:
        super().__init__(
            schema,
            subscription_protocols=PROTOCOLS,
            connection_init_wait_timeout=timedelta(seconds=settings.read_timeout),
            max_subscriptions_per_connection=MAX_OPERATIONS_PER_CONNECTION,
            allowed_origins=settings.cors_origins,  # pages elsewhere may subscribe too
        )
        self.tokens = tokens
        self.max_body_bytes = settings.max_body_bytes
        self.read_timeout = settings.read_timeout

    async def admit(self, request: Request) -> Response | None:
        """Before the body is read: no token while anonymous read is off (401), or a
        client that has spent its budget (429); the fee for reading the request is charged
        here. GraphiQL's page needs neither."""
        if request.method == "GET" and "query" not in request.query_params:
            return None  # the GraphiQL page, or a 400 for the missing query
        services: Services = request.app.state.services
        principal = principal_of(request)
        if principal is None and not services.settings.anonymous_read:
            refused = Refused(NEEDS_TOKEN, status=401, code="UNAUTHENTICATED", bearer_error="")
            return refusal_response(request, refused)
        declared = request.headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else self.max_body_bytes  # chunked: at most
        wait = services.budgets.charge(client_key(principal, request), request_fee(size))
        if wait is None:
            return None
        limited = rate_limited(services.budgets, wait, None)
        extensions = {"code": "RATE_LIMITED", "retryAfter": limited.retry_after}
        body = {"errors": [{"message": str(limited), "extensions": extensions}]}
        headers = {"retry-after": str(limited.retry_after)}
        return JSONResponse(body, status_code=429, headers=headers)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL, from this server's own files (:mod:`server.graphiql`)."""
        return graphiql.page()

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
    """200 ``{"status": "ok"}`` when Neo4j answers and, with ingestion on, the worker is
    neither stalled nor failed; 503 ``{"status": "unavailable"}`` otherwise. A caller with
    a valid token (anyone, with anonymous read on) also gets the Neo4j version, the graph
    version the server's cache was built at (``graph``: null until the first build), the
    worker's health (``ingest``) and the reason Neo4j did not answer."""
    services: Services = request.app.state.services
    trusted = principal_of(request) is not None or services.settings.anonymous_read
    try:
        version = await in_thread(services.reader.server_version)
    except GraphError as exc:
        reason = {"reason": str(exc)} if trusted else {}
        return JSONResponse({"status": "unavailable", **reason}, status_code=503)
    worker: IngestWorker | None = getattr(request.app.state, "ingest", None)
    ingest = worker.health() if worker is not None else None
    ok = ingest is None or ingest.ok
    status, code = ("ok", 200) if ok else ("unavailable", 503)
    if not trusted:
        return JSONResponse({"status": status}, status_code=code)
    cached = services.cache.current
    graph = None
    if cached is not None:
        graph = {"version": cached.version, "dependencyNodes": len(cached.snapshot)}
    body: dict[str, object] = {"status": status, "neo4j": version, "graph": graph}
    if ingest is not None:
        body["ingest"] = ingest.as_json()
    return JSONResponse(body, status_code=code)


def cors(settings: Settings) -> list[Middleware]:
    """Cross-origin requests from the pages of ``cors_origins`` (none by default): GET and
    POST of /graphql with a token, answered for an hour of preflight caching."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "accept"],
            max_age=3600,
        )
    ]


def create_app(settings: Settings) -> Starlette:
    """The server for ``settings``. Opening the driver does no I/O (it connects on first
    use); the authentication middleware needs it before the app exists."""
    uri, user, password = settings.neo4j_connection()
    driver = open_driver(uri, user, password)
    metrics = Metrics()
    reader = Reader(
        driver, settings.neo4j_database, observer=lambda _query: metrics.neo4j_round_trips.inc()
    )
    loops = OperationLoops()

    ingest = settings.ingest_config() if settings.ingest else None  # bad settings: fail now
    broker = None if settings.mqtt_url is None else settings.broker_address()
    own_id = server_id() if ingest is None else ingest.client_id
    questdb = settings.questdb_connection()
    history = (
        None
        if questdb is None
        else HistoryReader(questdb, observer=lambda _sql: metrics.history_statements.inc())
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker: IngestWorker | None = None
        stream: EventStream | None = None
        watcher: RiskWatcher | None = None
        events: EventPublisher | None = None
        try:
            ontology = await in_thread(Ontology.load, list(settings.ontology_files))
            catalogue = Catalogue.build(ontology.graph, ontology.vocabulary)
            units = Units.of(ontology.graph)  # what-if's and ingestion's: one table
            if broker is not None:
                events = EventPublisher(broker, own_id, metrics.registry)
                events.start()
            services = Services.of(
                settings,
                reader,
                catalogue,
                units,
                LiveHub(settings.subscription_backlog),
                loops.in_flight,
                history,
                events,
            )
            app.state.services = services
            await in_thread(loops.start)
            if events is not None and broker is not None:
                watcher = RiskWatcher(services.cache, services.risk, reader, units, events)
                watcher.start()
                app.state.risk_watch = watcher
                stream = EventStream(
                    broker, services.live, (watcher.notice,), registry=metrics.registry
                )
                stream.start()
                app.state.event_stream = stream
            if ingest is not None and events is not None:
                writer = await in_thread(open_history, settings, metrics.registry)
                listener = EventListener(events, source=f"/kgtwin/ingest/{ingest.client_id}")
                worker = IngestWorker(
                    ingest, driver, metrics.ingest(), units, listener, history=writer
                )
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
            if stream is not None:
                await in_thread(stream.stop)
            if watcher is not None:
                await in_thread(watcher.stop)
            if events is not None:
                await in_thread(events.stop)
            await in_thread(loops.stop)
            if history is not None:
                await in_thread(history.close)
            started = getattr(app.state, "services", None)
            if isinstance(started, Services):
                started.simulations.shutdown()
            await in_thread(driver.close)

    tokens = token_backend(driver, database=settings.neo4j_database)
    schema = build_schema(
        settings, extensions=[metrics.extension()], loops=loops, refused=metrics.refused
    )
    graphql = TwinGraphQL(schema, tokens, settings)

    async def metrics_endpoint(request: Request) -> Response:
        if settings.metrics_token and principal_of(request) is None:
            return refusal_response(
                request,
                Refused(
                    "/metrics needs a bearer token (metrics_token is on)",
                    status=401,
                    code="UNAUTHENTICATED",
                    bearer_error="",
                ),
            )
        return await metrics.endpoint(request)

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            graphiql.files(),
            *neo4j_browser.routes(),
        ],
        # CORS first: a browser's preflight carries no token, and is answered here
        middleware=[*cors(settings), middleware_for(tokens)],
        lifespan=lifespan,
    )
