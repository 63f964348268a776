"""``downstream``, ``upstream`` and ``paths``: walks along dependency (or chosen)
relationships, bounded in depth and in the number of results."""

from __future__ import annotations

import strawberry

from kgtwin.graph.errors import NotFound
from kgtwin.graph.nodes import TwinNode
from kgtwin.graph.topology import Path, paths_between, reachable
from kgtwin.server.schema.assets import Asset
from kgtwin.server.schema.context import GraphInfo, loaders, reader, services
from kgtwin.server.schema.loaders import in_thread
from kgtwin.server.schema.lookup import check_one, find_node, snapshot_iri, walk_direction
from kgtwin.server.schema.values import check_depth, check_first

DEFAULT_PATHS = 10


@strawberry.type(
    description="An asset reached by a walk: its id and IRI, how many steps away, and one "
    "shortest path to it (ids, from the start to it). `asset` reads the node itself, "
    "for all the items of the answer in one batch, only when it is asked for."
)
class ReachedAsset:
    id: str
    iri: str
    depth: int
    path: list[str]

    @strawberry.field(description="The node; null if it was deleted since the walk.")
    async def asset(self, info: GraphInfo) -> Asset | None:
        node = await loaders(info).nodes.load(self.iri)
        return None if node is None else Asset(node=node)


@strawberry.type(description="What a walk reached, nearest first (then by id).")
class Reachability:
    # a walk of the dependency snapshot finds its start there and reads the node only
    # when `start` is asked for (an error then if it was deleted since the snapshot)
    start_iri: strawberry.Private[str]
    start_node: strawberry.Private[TwinNode | None]

    @strawberry.field(description="The asset the walk started from.")
    async def start(self, info: GraphInfo) -> Asset:
        node = self.start_node or await loaders(info).nodes.load(self.start_iri)
        if node is None:
            raise NotFound(f"no asset has the IRI {self.start_iri!r} (deleted since the walk)")
        return Asset(node=node)

    via: list[str] = strawberry.field(description="The relationship types followed.")
    max_depth: int
    total_count: int = strawberry.field(description="How many assets were reached in all.")
    truncated: bool = strawberry.field(
        description="True when the walk stopped early (too many nodes): the answer is partial."
    )
    items: list[ReachedAsset] = strawberry.field(description="The first `first` of them.")


@strawberry.type(description="A path between two assets.")
class AssetPath:
    length: int = strawberry.field(description="Number of relationships along it.")
    ids: list[str] = strawberry.field(description="The ids along the path, both ends included.")
    types: list[str] = strawberry.field(description="The relationship type of each step.")
    assets: list[Asset]

    @classmethod
    def of(cls, path: Path) -> AssetPath:
        return cls(
            length=path.length,
            ids=[n.id for n in path.nodes],
            types=list(path.types),
            assets=[Asset(node=n) for n in path.nodes],
        )


async def walk(
    info: GraphInfo,
    node_id: str | None,
    iri: str | None,
    via: list[str] | None,
    max_depth: int | None,
    first: int | None,
    *,
    downstream: bool,
) -> Reachability:
    settings = services(info).settings
    depth = check_depth(settings.max_traversal_depth if max_depth is None else max_depth, settings)
    limit = check_first(settings.max_page_size if first is None else first, settings)
    check_one(node_id, iri)
    cached = info.context["cached"]
    if via is None and cached is not None:
        # the dependency relationships: walked in the server's snapshot, not in Neo4j, from
        # its node (Neo4j's if it has none: a node outside the dependency graph reaches none)
        types = cached.snapshot.types
        start = None
        start_iri = snapshot_iri(cached.snapshot, node_id, iri)
        if start_iri is None:
            start = await find_node(info, node_id, iri)
            start_iri = start.iri
        reach = await in_thread(
            cached.snapshot.reach, start_iri, depth, downstream=downstream, first=limit
        )
    else:
        start = await find_node(info, node_id, iri)
        start_iri = start.iri
        types, direction = await walk_direction(info, via, downstream=downstream)
        reach = await in_thread(reachable, reader(info), start, direction, depth, first=limit)
    return Reachability(
        start_iri=start_iri,
        start_node=start,
        via=list(types),
        max_depth=depth,
        total_count=reach.count,
        truncated=reach.truncated,
        items=[
            ReachedAsset(id=r.id, iri=r.iri, depth=r.depth, path=list(r.path)) for r in reach.items
        ],
    )


async def find_paths(
    info: GraphInfo,
    source_id: str,
    target_id: str,
    via: list[str] | None,
    max_depth: int | None,
    first: int,
) -> list[AssetPath]:
    settings = services(info).settings
    depth = check_depth(settings.max_traversal_depth if max_depth is None else max_depth, settings)
    limit = check_first(first, settings)
    source = await find_node(info, source_id, None)
    target = await find_node(info, target_id, None)
    _types, direction = await walk_direction(info, via, downstream=True)
    found, _truncated = await in_thread(
        paths_between, reader(info), source, target, direction, depth, limit
    )
    return [AssetPath.of(p) for p in found]
