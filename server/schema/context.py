"""What a resolver gets besides its arguments: the app's services and the request's context.

:class:`Services` live as long as the app (one per process, built by the lifespan);
:class:`Context` is built per request by :func:`make_context`, with fresh dataloaders so
nothing is cached across requests. Tests build both directly and call ``schema.execute``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info

from graph.reader import Reader
from ontology.catalogue import Catalogue
from server.auth import Principal
from server.schema.loaders import Loaders
from server.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    """Shared by every request: settings, the Neo4j reader and the ontology catalogue."""

    settings: Settings
    reader: Reader
    catalogue: Catalogue


class Context(TypedDict):
    request: Request | None
    response: Response | None
    principal: Principal | None  # None: anonymous
    services: Services
    loaders: Loaders


def make_context(
    services: Services,
    principal: Principal | None,
    request: Request | None = None,
    response: Response | None = None,
) -> Context:
    return Context(
        request=request,
        response=response,
        principal=principal,
        services=services,
        loaders=Loaders(services.reader, services.settings.max_page_size),
    )


GraphInfo = Info[Context, None]


def services(info: GraphInfo) -> Services:
    return info.context["services"]


def loaders(info: GraphInfo) -> Loaders:
    return info.context["loaders"]
