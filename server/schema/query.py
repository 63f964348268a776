"""The root ``Query`` type. Every field first checks the caller's role: reading the twin
needs the viewer role, ``tokens`` the admin role."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import strawberry

from kgtwin.graph.listing import check_filters, page_of_class
from kgtwin.ingest.history.reads import Aggregate, utc
from kgtwin.server.auth import Role
from kgtwin.server.schema.admin import ApiToken, api_tokens
from kgtwin.server.schema.assets import Asset, Point, PointHistory
from kgtwin.server.schema.context import GraphInfo, loaders, reader, services
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.fidelity import ObservedComparison, compare_with_observed
from kgtwin.server.schema.history import (
    history_query,
    samples_of,
)
from kgtwin.server.schema.live_failures import ReportedFailure, read_failures, reported_failure
from kgtwin.server.schema.loaders import in_thread
from kgtwin.server.schema.lookup import find_node
from kgtwin.server.schema.ontology import Ontology
from kgtwin.server.schema.pagination import (
    AssetConnection,
    PropertyFilterInput,
    decode_cursor,
    to_filters,
)
from kgtwin.server.schema.permissions import require_role
from kgtwin.server.schema.reliability import (
    DEFAULT_TRIALS,
    AvailabilityAnswer,
    ClassArgument,
    ProbabilityInput,
    SinglePointsAnswer,
    availability_of,
    single_points,
)
from kgtwin.server.schema.risks import RiskReport, risks_now
from kgtwin.server.schema.scenarios import Scenario, ScenarioComparison, compare, recent
from kgtwin.server.schema.subscription import checked_filter
from kgtwin.server.schema.topology import DEFAULT_PATHS, AssetPath, Reachability, find_paths, walk
from kgtwin.server.schema.values import check_first
from kgtwin.server.schema.whatif import WhatIfMode, WhatIfResult, what_if
from kgtwin.server.schema.whatif_inputs import LoadInput, RelationshipInput

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
FailArgument = Annotated[
    list[str] | None, strawberry.argument(description="Assets that fail (ids or IRIs).")
]
FromLiveStateArgument = Annotated[
    bool,
    strawberry.argument(
        description="Also fail every asset the telemetry reports failed right now (see "
        "reportedFailures): the what-if starts from the plant as it is."
    ),
]
AsOfArgument = Annotated[
    datetime | None,
    strawberry.argument(
        description="Start from the live state as it was at this moment, from history: "
        "with fromLiveState, the failures the telemetry reported then; in CAPACITY mode, the "
        "loads measured then. The graph itself is today's."
    ),
]
FailRelationshipsArgument = Annotated[
    list[RelationshipInput] | None,
    strawberry.argument(description="Relationships that fail (the assets stay up)."),
]
LoadsArgument = Annotated[
    list[LoadInput] | None,
    strawberry.argument(
        description="CAPACITY mode: loads to use instead of live telemetry or design load."
    ),
]


@strawberry.type
class Query:
    @strawberry.field(
        description="One twin node by `id` or by `iri` (give exactly one). With `asOf`, its "
        "points' values (value, observedAt, quality, stale ...) are those they had at that "
        "moment, from history; the graph itself is today's."
    )
    async def asset(
        self,
        info: GraphInfo,
        id: str | None = None,
        iri: str | None = None,
        as_of: datetime | None = None,
    ) -> Asset | None:
        require_role(info, Role.VIEWER)
        node = await find_node(info, id, iri)
        return Asset(node=node, then=None if as_of is None else utc(as_of))

    @strawberry.field(
        description="Several points' samples over one window, in one read: raw, at most "
        "`first` per point, without `every`; with `every`, one `aggregate` per step. Points "
        "by id, at most max_history_points."
    )
    async def history(
        self,
        info: GraphInfo,
        points: list[strawberry.ID],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        every: str | None = None,
        aggregate: Aggregate = Aggregate.AVERAGE,
        first: int | None = None,
    ) -> list[PointHistory]:
        require_role(info, Role.VIEWER)
        settings = services(info).settings
        if len(points) > settings.max_history_points:
            raise BadUserInput(
                f"history: {len(points):,} points asked for, at most "
                f"{settings.max_history_points:,} (max_history_points, "
                "KGTWIN_MAX_HISTORY_POINTS)",
                bound="max_history_points",
                limit=settings.max_history_points,
            )
        query = history_query(settings, from_, to, every, aggregate, first)
        nodes = [await find_node(info, str(point), None, what="point") for point in points]
        for node in nodes:
            if "Point" not in node.labels:
                raise BadUserInput(f"history: {node.id!r} is not a point")
        series = await asyncio.gather(*(samples_of(info, node, query) for node in nodes))
        return [
            PointHistory(point=Point(node=node), samples=samples)
            for node, samples in zip(nodes, series, strict=True)
        ]

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
            page_of_class, reader(info), class_, filters, after=position, first=first
        )
        return AssetConnection(page=page, reader=reader(info), class_name=class_, filters=filters)

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

    @strawberry.field(
        description="What happens if these assets (and relationships) fail: every asset "
        "that goes down with the path that explains why, the assets that stay up on less "
        "redundancy, and in CAPACITY mode the suppliers that trip under moved load."
    )
    async def what_if(
        self,
        info: GraphInfo,
        fail: FailArgument = None,
        fail_relationships: FailRelationshipsArgument = None,
        mode: WhatIfMode = WhatIfMode.TOPOLOGY,
        loads: LoadsArgument = None,
        from_live_state: FromLiveStateArgument = False,
        as_of: AsOfArgument = None,
    ) -> WhatIfResult:
        require_role(info, Role.VIEWER)
        return await what_if(
            info, fail or [], fail_relationships or [], mode, loads or [], from_live_state, as_of
        )

    @strawberry.field(
        description="How well the capacity what-if predicts a real failure: the what-if of a "
        "saved `scenario` (or of `fail`), from the loads measured at `baselineAt` (default "
        "`from`: just before the failure), beside the loads history observed from `from` to "
        "`to`, per asset it moved load onto, with the mean absolute percentage error."
    )
    async def compare_with_observed(
        self,
        info: GraphInfo,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        scenario: strawberry.ID | None = None,
        fail: FailArgument = None,
        baseline_at: datetime | None = None,
    ) -> ObservedComparison:
        require_role(info, Role.VIEWER)
        return await compare_with_observed(
            info, None if scenario is None else str(scenario), fail or [], from_, to, baseline_at
        )

    @strawberry.field(
        description="The assets the live telemetry reports failed: a status point reads the "
        "value the model gives as failed (kgt:failedWhen), and is neither stale nor of bad "
        "quality. In asset id order."
    )
    async def reported_failures(self, info: GraphInfo) -> list[ReportedFailure]:
        require_role(info, Role.VIEWER)
        return [reported_failure(row) for row in await read_failures(info)]

    @strawberry.field(
        description="The twin's risk now: what the failures the telemetry reports (and the "
        "live loads) put at risk — assets down, redundancy lost, new single points of "
        "failure, capacity at risk — with explanation paths; `riskChanged` streams its "
        "changes. Only the risks of one asset, or of assets of a class, when asked."
    )
    async def risks(
        self,
        info: GraphInfo,
        asset_id: str | None = None,
        class_: ClassArgument = None,
        first: int = DEFAULT_PAGE,
    ) -> RiskReport:
        wanted = await checked_filter(info, asset_id, class_)
        return await risks_now(info, wanted, first)

    @strawberry.field(
        description="The assets whose single failure takes down a target (or any asset "
        "of a class), and a ranking of assets by how many targets they take down."
    )
    async def single_points_of_failure(
        self,
        info: GraphInfo,
        target: str | None = None,
        class_: ClassArgument = None,
        first: int = DEFAULT_PAGE,
    ) -> SinglePointsAnswer:
        require_role(info, Role.VIEWER)
        return await single_points(info, target, class_, first)

    @strawberry.field(
        description="Monte Carlo availability of targets (or every asset of a class), "
        "with a 95% confidence interval; the same seed gives the same answer."
    )
    async def availability(
        self,
        info: GraphInfo,
        targets: list[str] | None = None,
        class_: ClassArgument = None,
        trials: int = DEFAULT_TRIALS,
        seed: int = 0,
        probabilities: list[ProbabilityInput] | None = None,
        first: int = DEFAULT_PAGE,
    ) -> AvailabilityAnswer:
        require_role(info, Role.VIEWER)
        return await availability_of(
            info, targets, class_, trials, seed, probabilities or [], first
        )

    @strawberry.field(description="Saved what-if scenarios, newest first.")
    async def scenarios(self, info: GraphInfo, first: int = DEFAULT_PAGE) -> list[Scenario]:
        require_role(info, Role.VIEWER)
        return await recent(info, first)

    @strawberry.field(description="What differs between two saved scenarios.")
    async def compare_scenarios(
        self, info: GraphInfo, a: strawberry.ID, b: strawberry.ID
    ) -> ScenarioComparison:
        require_role(info, Role.VIEWER)
        return await compare(info, str(a), str(b))
