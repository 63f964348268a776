"""``whatIf``: what goes down when assets (and relationships) fail, why, and what stays up
on less redundancy; in capacity mode also which suppliers trip under the load moved onto
them. Computed on the server's dependency snapshot (no Neo4j round trip, except one read
of the live loads in capacity mode, and one of the reported failures when the what-if
starts from the live state)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from kgtwin.ingest.history.reads import utc
from kgtwin.server.live_loads import LoadSource
from kgtwin.server.schema.as_of import failures_then
from kgtwin.server.schema.assets import Asset
from kgtwin.server.schema.context import GraphInfo, loaders, services, simulate
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.live_failures import ReportedFailure, read_failures, reported_failure
from kgtwin.server.schema.values import check_first
from kgtwin.server.schema.whatif_inputs import (
    LoadInput,
    Loads,
    RelationshipInput,
    loads_of,
    nodes_of,
    pairs_of,
    snapshot_of,
)
from kgtwin.simulation.capacity import Cascade, Moved, cascade
from kgtwin.simulation.deadline import Deadline
from kgtwin.simulation.propagation import Outcome, Pair, propagate
from kgtwin.simulation.snapshot import Policy, Snapshot, measured

DEFAULT_ITEMS = 100


@strawberry.enum(
    description="TOPOLOGY: redundancy only. CAPACITY: also moves the load of "
    "what is down onto surviving peers, which trip when pushed over capacity."
)
class WhatIfMode(Enum):
    TOPOLOGY = "topology"
    CAPACITY = "capacity"


@strawberry.enum(description="What an explanation path starts from.")
class RootCause(Enum):
    FAILED_ASSET = "failed asset"
    FAILED_RELATIONSHIP = "failed relationship"
    TRIPPED = "tripped on overload"


@strawberry.type(
    description="An asset that goes down, with why: the path from a root "
    "cause to it (ids), and the suppliers it lost against the number it needs."
)
class ImpactedAsset:
    id: str
    iri: str
    depth: int = strawberry.field(description="Steps from the root cause.")
    path: list[str] = strawberry.field(description="Ids from the root cause to this asset.")
    root_cause: RootCause
    policy: str = strawberry.field(description="Its redundancy policy: all, any or k-of-n.")
    required: int = strawberry.field(description="Working suppliers it needs.")
    suppliers: int = strawberry.field(description="Suppliers it has.")
    lost_suppliers: list[str]
    explanation: str

    @strawberry.field(description="The node (read only when asked for, in one batch).")
    async def asset(self, info: GraphInfo) -> Asset | None:
        return await _asset(info, self.iri)


@strawberry.type(
    description="An asset that stays up on fewer suppliers than it has: "
    "`spare` is how many more it could lose (0: a single point of failure now)."
)
class DegradedAsset:
    id: str
    iri: str
    policy: str
    required: int
    suppliers: int
    working: int
    spare: int
    lost_suppliers: list[str]
    explanation: str

    @strawberry.field(description="The node (read only when asked for, in one batch).")
    async def asset(self, info: GraphInfo) -> Asset | None:
        return await _asset(info, self.iri)


@strawberry.type(
    description="A supplier that tripped: the load moved onto it exceeded its "
    "rated capacity. `round` 1 trips come from the failures given, later rounds "
    "from earlier trips."
)
class Trip:
    order: int
    round: int
    id: str
    iri: str
    load: float
    capacity: float
    unit: str | None
    sources: list[str] = strawberry.field(
        description="The down assets whose load reached it (moved onto it, or up through "
        "the assets it supplies)."
    )
    explanation: str


@strawberry.type(
    description="Load moved from an asset that is down to a surviving peer (loadShifts), "
    "or passed up from a peer to its own supplier (loadFlows)."
)
class LoadShift:
    from_: str = strawberry.field(name="from")
    to: str
    amount: float
    unit: str | None


@strawberry.type(description="An asset's load and where it came from.")
class AssetLoad:
    id: str
    load: float = strawberry.field(
        description="After the cascade: own load plus load moved onto it."
    )
    own_load: float | None
    capacity: float | None
    unit: str | None
    source: LoadSource
    point: str | None = strawberry.field(description="The load point read (telemetry).")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A what-if run, before it is turned into GraphQL fields."""

    snapshot: Snapshot
    mode: WhatIfMode
    failed: tuple[int, ...]
    cut: tuple[Pair, ...]
    outcome: Outcome
    cascade: Cascade | None
    loads: Loads | None
    reported: tuple[ReportedFailure, ...] = ()  # failed because the telemetry says so
    as_of: datetime | None = None  # the live state it started from was this moment's


@strawberry.type(
    description="The answer of a what-if: every impacted asset with its "
    "explanation, the degraded ones, and (capacity mode) the trips in order."
)
class WhatIfResult:
    scenario: strawberry.Private[Scenario]
    model_version: str
    mode: WhatIfMode
    failed: list[str] = strawberry.field(
        description="The failed assets: those given, then those the telemetry reports "
        "(fromLiveState)."
    )
    failed_relationships: list[str] = strawberry.field(description="'supplier -> consumer'.")
    reported_failures: list[ReportedFailure] = strawberry.field(
        description="fromLiveState: the failures the telemetry reports, each with the "
        "status point that says so (also in `failed`)."
    )
    as_of: datetime | None = strawberry.field(
        description="The moment the live state (failures, loads) was taken at; null: now."
    )
    impacted_count: int = strawberry.field(
        description="Assets brought down (not counting the failed ones)."
    )
    degraded_count: int
    summary: str

    @strawberry.field(
        description="Impacted assets in the order they fall (nearest first), "
        "optionally only those of a class."
    )
    async def impacted(
        self,
        info: GraphInfo,
        first: int = DEFAULT_ITEMS,
        class_: Annotated[str | None, strawberry.argument(name="class")] = None,
    ) -> list[ImpactedAsset]:
        check_first(first, services(info).settings)
        nodes = impacted_nodes(self.scenario)
        if class_ is not None:
            name = (await loaders(info).terms()).check_class(class_).name
            nodes = [n for n in nodes if name in self.scenario.snapshot.labels[n]]
        return [impacted_asset(self.scenario, n) for n in nodes[:first]]

    @strawberry.field(description="Assets still up that lost suppliers, in id order.")
    def degraded(self, info: GraphInfo, first: int = DEFAULT_ITEMS) -> list[DegradedAsset]:
        check_first(first, services(info).settings)
        scenario = self.scenario
        return [
            degraded_asset(scenario, n)
            for n in scenario.outcome.degraded(scenario.snapshot)[:first]
        ]

    @strawberry.field(description="Capacity mode: the suppliers that tripped, in order.")
    def trips(self) -> list[Trip]:
        return trips_of(self.scenario)

    @strawberry.field(description="Capacity mode: the load moved at the end of the cascade.")
    def load_shifts(self, info: GraphInfo, first: int = DEFAULT_ITEMS) -> list[LoadShift]:
        check_first(first, services(info).settings)
        cascade = self.scenario.cascade
        return [] if cascade is None else _shifts(self.scenario.snapshot, cascade.moved[:first])

    @strawberry.field(
        description="Capacity mode: load passed up from a node that took it on to its own "
        "suppliers (same kind of supply, same unit), in proportion to their capacity."
    )
    def load_flows(self, info: GraphInfo, first: int = DEFAULT_ITEMS) -> list[LoadShift]:
        check_first(first, services(info).settings)
        cascade = self.scenario.cascade
        return [] if cascade is None else _shifts(self.scenario.snapshot, cascade.flowed[:first])

    @strawberry.field(
        description="Capacity mode: the assets that took on load, with their "
        "final load against capacity, most loaded first."
    )
    def loads(self, info: GraphInfo, first: int = DEFAULT_ITEMS) -> list[AssetLoad]:
        check_first(first, services(info).settings)
        scenario = self.scenario
        if scenario.cascade is None or scenario.loads is None:
            return []
        snapshot, loads, final = scenario.snapshot, scenario.loads, scenario.cascade.loads

        def utilisation(node: int) -> float:
            capacity = measured(snapshot.capacity[node])
            return final[node] / capacity if capacity else 0.0

        nodes = sorted(final, key=lambda n: (-utilisation(n), snapshot.rank[n]))
        return [
            AssetLoad(
                id=snapshot.ids[n],
                load=final[n],
                own_load=loads.values[n],
                capacity=measured(snapshot.capacity[n]),
                unit=snapshot.capacity_unit[n],
                source=loads.sources[n],
                point=loads.points.get(n),
            )
            for n in nodes[:first]
        ]


async def what_if(
    info: GraphInfo,
    fail: Sequence[str],
    fail_relationships: Sequence[RelationshipInput],
    mode: WhatIfMode,
    load_overrides: Sequence[LoadInput],
    from_live_state: bool = False,
    as_of: datetime | None = None,
) -> WhatIfResult:
    snapshot = snapshot_of(info)
    if as_of is not None:
        if not from_live_state and mode is not WhatIfMode.CAPACITY:
            raise BadUserInput(
                "asOf starts from the live state of a past moment: give fromLiveState: true "
                "(the failures reported then) or mode: CAPACITY (the loads measured then)"
            )
        as_of = utc(as_of)
    given = nodes_of(snapshot, fail, "fail")
    cut = tuple(dict.fromkeys(await pairs_of(info, snapshot, fail_relationships)))  # each once
    if not given and not cut and not from_live_state:
        raise BadUserInput(
            "give at least one asset in `fail` or relationship in `failRelationships`, "
            "or start from the live state (`fromLiveState: true`)"
        )
    reported: list[ReportedFailure] = []
    if from_live_state:
        rows = await (read_failures(info) if as_of is None else failures_then(info, as_of))
        for row in rows:
            node = snapshot.index.get(row.asset_iri)
            if node is not None:  # an asset outside the dependency graph fails nothing
                reported.append(reported_failure(row))
                given.append(node)
    failed = tuple(dict.fromkeys(given))  # given first, each once
    if mode is WhatIfMode.CAPACITY:
        loads = await loads_of(info, snapshot, load_overrides, as_of)
        result = await simulate(info, cascade, snapshot, failed, cut, loads.values)
        scenario = Scenario(
            snapshot, mode, failed, cut, result.outcome, result, loads, tuple(reported), as_of
        )
    else:
        outcome = await simulate(info, _propagate, snapshot, failed, cut)
        scenario = Scenario(
            snapshot, mode, failed, cut, outcome, None, None, tuple(reported), as_of
        )
    return result_of(scenario)


def _propagate(
    snapshot: Snapshot, failed: tuple[int, ...], cut: tuple[Pair, ...], deadline: Deadline
) -> Outcome:
    return propagate(snapshot, failed, cut, deadline=deadline)


def result_of(scenario: Scenario) -> WhatIfResult:
    snapshot, outcome = scenario.snapshot, scenario.outcome
    impacted = impacted_nodes(scenario)
    degraded = outcome.degraded(snapshot)
    trips = scenario.cascade.trips if scenario.cascade is not None else ()
    reported = len({r.id for r in scenario.reported})
    from_telemetry = f" ({reported} reported by telemetry)" if scenario.reported else ""
    summary = (
        f"{len(scenario.failed)} failed asset(s){from_telemetry} and {len(scenario.cut)} failed "
        f"relationship(s) take down {len(impacted)} more asset(s); {len(degraded)} stay up "
        "with less redundancy"
    )
    if scenario.cascade is not None:
        summary += f"; {len(trips)} tripped on overload in {scenario.cascade.rounds} round(s)"
    if scenario.as_of is not None:
        summary += f" (from the live state as of {scenario.as_of.isoformat()})"
    return WhatIfResult(
        scenario=scenario,
        model_version=snapshot.version,
        mode=scenario.mode,
        failed=[snapshot.ids[n] for n in scenario.failed],
        failed_relationships=[f"{snapshot.ids[a]} -> {snapshot.ids[b]}" for a, b in scenario.cut],
        reported_failures=list(scenario.reported),
        as_of=scenario.as_of,
        impacted_count=len(impacted),
        degraded_count=len(degraded),
        summary=summary,
    )


def impacted_nodes(scenario: Scenario) -> list[int]:
    """Brought down (tripped ones too, but not the failed ones given), in falling order."""
    given = set(scenario.failed)
    outcome = scenario.outcome
    tripped = [t.node for t in scenario.cascade.trips] if scenario.cascade is not None else []
    return [n for n in (*tripped, *outcome.impacted) if n not in given]


def impacted_asset(scenario: Scenario, node: int) -> ImpactedAsset:
    snapshot, outcome = scenario.snapshot, scenario.outcome
    path, by_relationship = outcome.path(node)
    tripped = {t.node for t in scenario.cascade.trips} if scenario.cascade is not None else set()
    if by_relationship:
        root = RootCause.FAILED_RELATIONSHIP
    elif path[0] in tripped:
        root = RootCause.TRIPPED
    else:
        root = RootCause.FAILED_ASSET
    ids = [snapshot.ids[n] for n in path]
    lost = [snapshot.ids[n] for n in outcome.lost_suppliers(snapshot, node)]
    suppliers, required = len(snapshot.suppliers[node]), snapshot.required[node]
    if node in tripped:
        explanation = f"{snapshot.ids[node]} tripped on overload (see trips)"
    else:
        explanation = (
            f"{snapshot.ids[node]} needs {required} of its {suppliers} supplier(s) "
            f"({_policy(snapshot, node)}); it lost {', '.join(lost)}: " + " -> ".join(ids)
        )
    return ImpactedAsset(
        id=snapshot.ids[node],
        iri=snapshot.iris[node],
        depth=len(path) - 1,
        path=ids,
        root_cause=root,
        policy=_policy(snapshot, node),
        required=required,
        suppliers=suppliers,
        lost_suppliers=lost,
        explanation=explanation,
    )


def degraded_asset(scenario: Scenario, node: int) -> DegradedAsset:
    snapshot = scenario.snapshot
    lost = [snapshot.ids[n] for n in scenario.outcome.lost_suppliers(snapshot, node)]
    suppliers, required = len(snapshot.suppliers[node]), snapshot.required[node]
    working = suppliers - len(lost)
    return DegradedAsset(
        id=snapshot.ids[node],
        iri=snapshot.iris[node],
        policy=_policy(snapshot, node),
        required=required,
        suppliers=suppliers,
        working=working,
        spare=working - required,
        lost_suppliers=lost,
        explanation=(
            f"{snapshot.ids[node]} runs on {working} of {suppliers} supplier(s) and needs "
            f"{required} ({_policy(snapshot, node)}); lost {', '.join(lost)}"
        ),
    )


def trips_of(scenario: Scenario) -> list[Trip]:
    if scenario.cascade is None:
        return []
    snapshot = scenario.snapshot
    trips = []
    for order, trip in enumerate(scenario.cascade.trips, start=1):
        unit = snapshot.capacity_unit[trip.node]
        sources = [snapshot.ids[s] for s in trip.sources]
        trips.append(
            Trip(
                order=order,
                round=trip.round,
                id=snapshot.ids[trip.node],
                iri=snapshot.iris[trip.node],
                load=trip.load,
                capacity=trip.capacity,
                unit=unit,
                sources=sources,
                explanation=(
                    f"{snapshot.ids[trip.node]} carried {trip.load:g} {unit or ''} against a "
                    f"rated {trip.capacity:g} after load from {', '.join(sources)} reached it"
                ),
            )
        )
    return trips


def _shifts(snapshot: Snapshot, moves: Sequence[Moved]) -> list[LoadShift]:
    return [
        LoadShift(
            from_=snapshot.ids[m.source],
            to=snapshot.ids[m.target],
            amount=m.amount,
            unit=snapshot.capacity_unit[m.target],
        )
        for m in moves
    ]


def _policy(snapshot: Snapshot, node: int) -> str:
    policy = snapshot.policies[node]
    if policy is Policy.K_OF_N:
        return f"{snapshot.required[node]}-of-{len(snapshot.suppliers[node])}"
    return str(policy.value)


async def _asset(info: GraphInfo, iri: str) -> Asset | None:
    node = await loaders(info).nodes.load(iri)
    return None if node is None else Asset(node=node)
