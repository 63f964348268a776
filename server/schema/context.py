"""What a resolver gets besides its arguments: the app's services and the request's context.

:class:`Services` live as long as the app (one per process, built by the lifespan);
:class:`Context` is built per request by :func:`make_context`, with fresh dataloaders: only
the graph cache (:mod:`server.graph_cache`, rebuilt when a model load changes the graph)
carries over from one request to the next. A WebSocket connection gets one context for all
its operations, so :class:`PerOperation` renews its dataloaders for each of them. Tests build
both directly and call ``schema.execute``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from graph.reader import Reader
from ingest.units import Units
from ontology.catalogue import Catalogue
from server.auth import Principal
from server.graph_cache import Cached, GraphCache
from server.live import LiveHub
from server.schema.loaders import Loaders
from server.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    """Shared by every request: settings, the Neo4j reader, the ontology catalogue, what
    the server keeps from the graph (empty until the lifespan's refresher fills it) and
    the live events of the ingestion worker (none unless it runs in this server)."""

    settings: Settings
    reader: Reader
    catalogue: Catalogue
    cache: GraphCache = field(default_factory=GraphCache)
    live: LiveHub = field(default_factory=LiveHub)  # the ingestion worker's events
    units: Units = field(default_factory=Units)  # converts live loads for what-if


class Context(TypedDict):
    request: Request | None
    response: Response | None
    websocket: WebSocket | None  # GraphQL over WebSocket: the connection (request is None)
    principal: Principal | None  # None: anonymous
    services: Services
    cached: Cached | None  # the graph cache as this request found it (None: not built yet)
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
    return Context(
        request=request,
        response=response,
        websocket=websocket,
        principal=principal,
        services=services,
        cached=cached,
        loaders=Loaders(
            services.reader,
            services.settings.max_page_size,
            None if cached is None else cached.terms,
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
