"""The root ``Query`` type. Every field first checks the caller's role: reading the twin
needs the viewer role, ``tokens`` the admin role."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.listing import check_filters, page_of_class
from server.auth import Role
from server.schema.admin import ApiToken, api_tokens
from server.schema.assets import Asset
from server.schema.context import GraphInfo, loaders, services
from server.schema.loaders import in_thread
from server.schema.lookup import find_node
from server.schema.ontology import Ontology
from server.schema.pagination import (
    AssetConnection,
    PropertyFilterInput,
    decode_cursor,
    to_filters,
)
from server.schema.permissions import require_role
from server.schema.topology import DEFAULT_PATHS, AssetPath, Reachability, find_paths, walk
from server.schema.values import check_first

DEFAULT_PAGE = 20

ViaArgument = Annotated[
    list[str] | None,
    strawberry.argument(
        description="Relationship types to follow (default: every type the ontology gives a "
        "dependency direction, e.g. FEEDS, DEPENDS_ON, HOSTS)."
    ),
]
MaxDepthArgument = Annotated[
    int | None,
    strawberry.argument(
        description="Most steps to walk (default and cap: the server's max_traversal_depth)."
    ),
]
WalkFirstArgument = Annotated[
    int | None, strawberry.argument(description="Default: max_page_size.")
]


@strawberry.type
class Query:
    @strawberry.field(description="One twin node by `id` or by `iri` (give exactly one).")
    async def asset(
        self, info: GraphInfo, id: str | None = None, iri: str | None = None
    ) -> Asset | None:
        require_role(info, Role.VIEWER)
        return Asset(node=await find_node(info, id, iri))

    @strawberry.field(
        description="Instances of a class (and its subclasses), filtered by "
        "property values, a page at a time in id order."
    )
    async def assets(
        self,
        info: GraphInfo,
        class_: Annotated[str, strawberry.argument(name="class")],
        where: list[PropertyFilterInput] | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> AssetConnection:
        require_role(info, Role.VIEWER)
        context = services(info)
        check_first(first, context.settings)
        position = decode_cursor(after) if after is not None else None
        (await loaders(info).terms()).check_class(class_)
        filters = check_filters(
            to_filters(where or [], context.catalogue), context.catalogue.literals
        )
        page = await in_thread(
            page_of_class, context.reader, class_, filters, after=position, first=first
        )
        return AssetConnection(page=page, reader=context.reader, class_name=class_, filters=filters)

    @strawberry.field(
        description="What depends on an asset: the assets reachable from it "
        "from supplier to consumer, nearest first, each with one shortest path."
    )
    async def downstream(
        self,
        info: GraphInfo,
        id: str | None = None,
        iri: str | None = None,
        via: ViaArgument = None,
        max_depth: MaxDepthArgument = None,
        first: WalkFirstArgument = None,
    ) -> Reachability:
        require_role(info, Role.VIEWER)
        return await walk(info, id, iri, via, max_depth, first, downstream=True)

    @strawberry.field(
        description="What an asset depends on: the assets reachable from it "
        "from consumer to supplier, nearest first, each with one shortest path."
    )
    async def upstream(
        self,
        info: GraphInfo,
        id: str | None = None,
        iri: str | None = None,
        via: ViaArgument = None,
        max_depth: MaxDepthArgument = None,
        first: WalkFirstArgument = None,
    ) -> Reachability:
        require_role(info, Role.VIEWER)
        return await walk(info, id, iri, via, max_depth, first, downstream=False)

    @strawberry.field(
        description="Simple paths from one asset to another (by id), walking "
        "from supplier to consumer, shortest first."
    )
    async def paths(
        self,
        info: GraphInfo,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        via: ViaArgument = None,
        max_depth: MaxDepthArgument = None,
        first: int = DEFAULT_PATHS,
    ) -> list[AssetPath]:
        require_role(info, Role.VIEWER)
        return await find_paths(info, from_, to, via, max_depth, first)

    @strawberry.field(
        description="The ontology: classes with the properties their shapes "
        "allow, and relationship types."
    )
    def ontology(self, info: GraphInfo) -> Ontology:
        require_role(info, Role.VIEWER)
        return Ontology(catalogue=services(info).catalogue)

    @strawberry.field(
        description="The API's bearer tokens (admin only): name, role, when created "
        "and revoked, oldest first; never a secret or a hash."
    )
    async def tokens(self, info: GraphInfo) -> list[ApiToken]:
        require_role(info, Role.ADMIN)
        return await api_tokens(info)
