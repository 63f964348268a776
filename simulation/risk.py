"""The live risk watch: what the failures the telemetry reports (and, in capacity mode, the
live loads) put at risk, as a state of :class:`Risk` keyed by (kind, node), and the events
(:class:`RiskChange`) between two states. Pure and in memory; the definitions, what is
cached and what it costs are in ``docs/risk.md``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from kgtwin.simulation.deadline import NO_DEADLINE, Deadline
from kgtwin.simulation.propagation import Outcome, propagate
from kgtwin.simulation.risk_capacity import CapacityRisks
from kgtwin.simulation.risk_spof import NewSinglePoints
from kgtwin.simulation.snapshot import Snapshot

__all__ = [
    "Change",
    "Overload",
    "Redundancy",
    "Risk",
    "RiskChange",
    "RiskKind",
    "RiskState",
    "RiskWatch",
    "SinglePoint",
    "assess",
    "changes",
]

DEFAULT_KEEP = 20  # targets listed per single point of failure


class RiskKind(Enum):
    """What is at risk; the order is the order of events."""

    ASSET_DOWN = "assetDown"
    REDUNDANCY_LOST = "redundancyLost"
    SINGLE_POINT_OF_FAILURE = "newSinglePointOfFailure"
    CAPACITY_AT_RISK = "capacityAtRisk"


@dataclass(frozen=True, slots=True)
class Redundancy:
    """An up node that lost suppliers: how many it has, how many still work, how many it
    needs, how many more it can lose (working - required), and those it lost (rank order)."""

    suppliers: int
    working: int
    required: int
    spare: int
    lost: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SinglePoint:
    """An up node whose failure alone would now take ``count`` up nodes down that its
    failure alone would not take down in the healthy design; the first of them in rank
    order (at most ``keep``)."""

    count: int
    targets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Overload:
    """A rated node that would trip (in the first round of the cascade) if one of
    ``peers`` failed beside the reported failures (rank order: the assets whose failure
    alone would trip it, sharing a consumer with it or not, with another load than the
    reported failures alone would): the load it would then carry (``loads[i]`` when
    ``peers[i]`` fails) and its rated capacity, in its capacity unit."""

    peers: tuple[int, ...]
    loads: tuple[float, ...]
    capacity: float


Details = Redundancy | SinglePoint | Overload | None


@dataclass(frozen=True, slots=True)
class Risk:
    """One entry of the present risk state, about one node. ``path`` explains it (nodes
    from supplier to consumer, each an edge of the snapshot) and takes no part in equality:
    a risk whose explanation alone changed has not changed."""

    kind: RiskKind
    node: int
    details: Details = None
    path: tuple[int, ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[RiskKind, int]:
        return self.kind, self.node


RiskState = Mapping[tuple[RiskKind, int], Risk]


class Change(Enum):
    """The kind of an event: a risk that appeared or changed, or one that went away."""

    ASSET_DOWN = "assetDown"
    ASSET_UP = "assetUp"
    REDUNDANCY_LOST = "redundancyLost"
    REDUNDANCY_RESTORED = "redundancyRestored"
    NEW_SINGLE_POINT_OF_FAILURE = "newSinglePointOfFailure"
    SINGLE_POINT_OF_FAILURE_CLEARED = "singlePointOfFailureCleared"
    CAPACITY_AT_RISK = "capacityAtRisk"
    CAPACITY_RISK_CLEARED = "capacityRiskCleared"


ON = {
    RiskKind.ASSET_DOWN: Change.ASSET_DOWN,
    RiskKind.REDUNDANCY_LOST: Change.REDUNDANCY_LOST,
    RiskKind.SINGLE_POINT_OF_FAILURE: Change.NEW_SINGLE_POINT_OF_FAILURE,
    RiskKind.CAPACITY_AT_RISK: Change.CAPACITY_AT_RISK,
}
OFF = {
    RiskKind.ASSET_DOWN: Change.ASSET_UP,
    RiskKind.REDUNDANCY_LOST: Change.REDUNDANCY_RESTORED,
    RiskKind.SINGLE_POINT_OF_FAILURE: Change.SINGLE_POINT_OF_FAILURE_CLEARED,
    RiskKind.CAPACITY_AT_RISK: Change.CAPACITY_RISK_CLEARED,
}
KIND_ORDER = {kind: at for at, kind in enumerate(RiskKind)}


@dataclass(frozen=True, slots=True)
class RiskChange:
    """An event: the risk that appeared or changed (its new value), or that went away (its
    last value)."""

    change: Change
    risk: Risk

    @property
    def cleared(self) -> bool:
        return self.change is OFF[self.risk.kind]


def changes(before: RiskState, after: RiskState, snapshot: Snapshot) -> tuple[RiskChange, ...]:
    """The events from ``before`` to ``after``: each risk that entered or changed (its
    details; not its path alone), then each that left, in the order of kind, then of the
    node's rank."""
    found: list[RiskChange] = []
    for key, risk in after.items():
        if before.get(key) != risk:
            found.append(RiskChange(ON[risk.kind], risk))
    found.extend(
        RiskChange(OFF[risk.kind], risk) for key, risk in before.items() if key not in after
    )
    rank = snapshot.rank
    found.sort(key=lambda event: (KIND_ORDER[event.risk.kind], rank[event.risk.node]))
    return tuple(found)


class RiskWatch:
    """The risk state of the last failures (and loads) it was given, and what it keeps of
    the snapshot between updates: the bit-parallel layers for single points of failure
    (built at the first degraded state) and the capacity candidates, their zones and
    their last answers (see ``docs/risk.md``)."""

    def __init__(self, snapshot: Snapshot, keep: int = DEFAULT_KEEP) -> None:
        self.snapshot = snapshot
        self.keep = keep
        self.state: RiskState = {}
        self._single_points = NewSinglePoints(snapshot)
        self._capacity = CapacityRisks(snapshot)

    def prepare(self) -> None:
        """Build now what the first updates would otherwise build: the layers of the
        snapshot and what the capacity ceilings are summed over (about a second at 100k
        nodes)."""
        self._single_points.layers()
        self._capacity.prepare()

    def update(
        self,
        failed: Collection[int],
        load: Sequence[float | None] | None = None,
        deadline: Deadline = NO_DEADLINE,
    ) -> tuple[RiskChange, ...]:
        """The events from the last state to that of ``failed`` (and ``load``), which it
        remembers. On :class:`DeadlineExceeded` the last state stays."""
        state = self.assess(failed, load, deadline)
        events = changes(self.state, state, self.snapshot)
        self.state = state
        return events

    def assess(
        self,
        failed: Collection[int],
        load: Sequence[float | None] | None = None,
        deadline: Deadline = NO_DEADLINE,
    ) -> RiskState:
        """The risk state of ``failed`` (and ``load``), without remembering it."""
        snapshot = self.snapshot
        if load is not None and len(load) != len(snapshot):
            raise ValueError(
                f"the capacity risk needs one load per node of the snapshot: "
                f"expected {len(snapshot)} values, found {len(load)}"
            )
        roots = frozenset(failed)
        outcome = propagate(snapshot, roots, deadline=deadline)
        risks: list[Risk] = [*_down(outcome), *_redundancy(snapshot, outcome)]
        for node, (count, targets, path) in self._single_points.find(
            outcome, self.keep, deadline
        ).items():
            point = SinglePoint(count, targets)
            risks.append(Risk(RiskKind.SINGLE_POINT_OF_FAILURE, node, point, path))
        if load is not None:
            for node, (peers, loads, path) in self._capacity.find(outcome, load, deadline).items():
                overload = Overload(peers, loads, snapshot.capacity[node])
                risks.append(Risk(RiskKind.CAPACITY_AT_RISK, node, overload, path))
        rank, order = snapshot.rank, KIND_ORDER
        risks.sort(key=lambda risk: (order[risk.kind], rank[risk.node]))
        return {risk.key: risk for risk in risks}


def assess(
    snapshot: Snapshot,
    failed: Collection[int],
    load: Sequence[float | None] | None = None,
    *,
    keep: int = DEFAULT_KEEP,
    deadline: Deadline = NO_DEADLINE,
) -> RiskState:
    """The risk state of ``failed`` nodes (and, in capacity mode, of ``load``, one value per
    node in its capacity unit), computed from nothing: :class:`RiskWatch` keeps what it
    can between calls."""
    return RiskWatch(snapshot, keep).assess(failed, load, deadline)


def _down(outcome: Outcome) -> list[Risk]:
    return [
        Risk(RiskKind.ASSET_DOWN, node, None, outcome.path(node)[0]) for node in outcome.impacted
    ]


def _redundancy(snapshot: Snapshot, outcome: Outcome) -> list[Risk]:
    rank = snapshot.rank.__getitem__
    risks = []
    for node in outcome.degraded(snapshot):
        lost = tuple(sorted(outcome.lost_suppliers(snapshot, node), key=rank))
        count, required = snapshot.suppliers.size(node), snapshot.required[node]
        working = count - len(lost)
        details = Redundancy(count, working, required, working - required, lost)
        path = (*outcome.path(lost[0])[0], node)
        risks.append(Risk(RiskKind.REDUNDANCY_LOST, node, details, path))
    return risks
