"""What a resolver gets besides its arguments: the app's services and the request's context.

:class:`Services` live as long as the app (one per process, built by the lifespan);
:class:`Context` is built per request by :func:`make_context`, with fresh dataloaders, the
request's deadline (``request_timeout`` from now) and a reader whose statements end by
it: only the graph cache (:mod:`server.graph_cache`, rebuilt when a model load changes the
graph) carries over from one request to the next. A WebSocket connection gets one context for all
its operations, so :class:`PerOperation` renews its dataloaders for each of them. Tests build
both directly and call ``schema.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict, TypeVar

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from kgtwin.graph.reader import Reader
from kgtwin.ingest.history.reads import HistoryReader
from kgtwin.ingest.outbound.publisher import EventPublisher
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.units import Units
from kgtwin.server.auth import Principal
from kgtwin.server.graph_cache import Cached, GraphCache
from kgtwin.server.live import LiveHub
from kgtwin.server.ratelimit import Budgets
from kgtwin.server.risk_watch import SharedRisk
from kgtwin.server.schema.loaders import Loaders
from kgtwin.server.settings import Settings
from kgtwin.server.simulations import Busy, Simulations
from kgtwin.simulation.deadline import Deadline

T = TypeVar("T")
NO_BUDGETS = Budgets(0, 1)  # no rate limit (tests; the app builds them from its settings)


@dataclass(frozen=True, slots=True)
class Services:
    """Shared by every request: settings, the Neo4j reader, the ontology catalogue and
    units, what the server keeps from the graph (empty until the lifespan's refresher fills
    it), the twin's events it follows (none without a broker) and its publisher of events."""

    settings: Settings
    reader: Reader
    catalogue: Catalogue
    units: Units = field(kw_only=True)  # the ontology's; converts live loads for what-if
    cache: GraphCache = field(default_factory=GraphCache)
    live: LiveHub = field(default_factory=LiveHub)  # the twin's events, for subscriptions
    budgets: Budgets = NO_BUDGETS  # what each client may spend (server.ratelimit)
    simulations: Simulations = field(default_factory=Simulations)  # the threads they run on
    history: HistoryReader | None = None  # QuestDB's reads; None: no history configured
    events: EventPublisher | None = None  # the server's events out; None: no broker
    risk: SharedRisk = field(default_factory=SharedRisk)  # the risk watch's, and `risks`'

    @classmethod
    def of(
        cls,
        settings: Settings,
        reader: Reader,
        catalogue: Catalogue,
        units: Units,
        live: LiveHub,
        busy: Busy | None = None,
        history: HistoryReader | None = None,
        events: EventPublisher | None = None,
    ) -> Services:
        """The services of a server with ``settings``: its rate limit and simulation
        threads, which give way while ``busy`` says other operations are in flight."""
        return cls(
            settings,
            reader,
            catalogue,
            units=units,
            live=live,
            # a burst of ten seconds' worth, and at least one operation at the limit
            budgets=Budgets(
                settings.rate_limit, max(settings.max_complexity, settings.rate_limit // 6)
            ),
            simulations=Simulations(settings.simulations, busy),
            history=history,
            events=events,
        )


class Context(TypedDict):
    request: Request | None
    response: Response | None
    websocket: WebSocket | None  # GraphQL over WebSocket: the connection (request is None)
    principal: Principal | None  # None: anonymous
    services: Services
    cached: Cached | None  # the graph cache as this request found it (None: not built yet)
    deadline: Deadline  # when the operation must be done (request_timeout)
    reader: Reader  # the services' reader, its statements bounded by the deadline
    loaders: Loaders
    # a WebSocket's connection_init payload, put here by Strawberry (server.graphql_ws)
    connection_params: NotRequired[dict[str, object]]


def make_context(
    services: Services,
    principal: Principal | None,
    request: Request | None = None,
    response: Response | None = None,
    websocket: WebSocket | None = None,
) -> Context:
    cached = services.cache.current
    deadline = Deadline(services.settings.request_timeout)
    reader = services.reader.with_timeout(deadline.remaining)
    return Context(
        request=request,
        response=response,
        websocket=websocket,
        principal=principal,
        services=services,
        cached=cached,
        deadline=deadline,
        reader=reader,
        loaders=Loaders(
            reader,
            services.settings.max_page_size,
            None if cached is None else cached.terms,
            services.history,
        ),
    )


def renewed(context: Context) -> Context:
    """``context`` for one more operation: fresh dataloaders, the graph cache as it is now."""
    return make_context(
        context["services"],
        context["principal"],
        context["request"],
        context["response"],
        context["websocket"],
    )


class PerOperation(SchemaExtension):
    """Each operation on a WebSocket connection gets a context of its own (:func:`renewed`):
    Strawberry hands every operation of a connection the same context, built once when the
    connection opens, and dataloaders would serve an hour-old read to a later query.
    List it first among the schema's extensions, before anything reads the context."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, dict) and context.get("websocket") is not None:
            self.execution_context.context = renewed(context)  # type: ignore[arg-type]
        yield


GraphInfo = Info[Context, None]


def services(info: GraphInfo) -> Services:
    return info.context["services"]


def loaders(info: GraphInfo) -> Loaders:
    return info.context["loaders"]


def reader(info: GraphInfo) -> Reader:
    """The request's reader: each statement ends by the request's deadline."""
    return info.context["reader"]


def client_of(context: Context) -> str:
    """Whose budget a request spends: its token's, or its address's when anonymous."""
    return client_key(context["principal"], context["request"] or context["websocket"])


def client_key(principal: Principal | None, connection: HTTPConnection | None) -> str:
    """The budget of ``principal``'s token, or of ``connection``'s address when anonymous."""
    if principal is not None:
        return f"token:{principal.name}"
    client = None if connection is None else connection.client
    return f"anonymous:{client.host if client is not None else 'unknown'}"


async def simulate(info: GraphInfo, function: Callable[..., T], *args: object) -> T:
    """Run a simulation on the simulation threads (:mod:`server.simulations`), with the
    request's deadline as its last argument: it stops when the deadline passes
    (``DeadlineExceeded``)."""
    context = info.context
    return await context["services"].simulations.run(function, *args, deadline=context["deadline"])
