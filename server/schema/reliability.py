"""``singlePointsOfFailure`` and ``availability``: which assets alone take targets down,
and how often targets are up when assets fail at random (Monte Carlo)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import strawberry

from kgtwin.server.schema.assets import Asset
from kgtwin.server.schema.context import GraphInfo, loaders, services, simulate
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.values import check_first
from kgtwin.server.schema.whatif_inputs import node_of, nodes_of, nodes_of_class, snapshot_of
from kgtwin.simulation.availability import monte_carlo, unavailability
from kgtwin.simulation.deadline import Deadline
from kgtwin.simulation.snapshot import Snapshot
from kgtwin.simulation.spof import rank_by_targets, single_points_of_failure

DEFAULT_TRIALS = 1_000
MAX_TRIALS = 100_000

ClassArgument = Annotated[
    str | None,
    strawberry.argument(name="class", description="Every asset of this class (and subclasses)."),
]


@strawberry.type(description="An asset named in a reliability answer.")
class AssetRef:
    id: str
    iri: str

    @strawberry.field(description="The node (read only when asked for, in one batch).")
    async def asset(self, info: GraphInfo) -> Asset | None:
        node = await loaders(info).nodes.load(self.iri)
        return None if node is None else Asset(node=node)


@strawberry.type(description="A target and the assets whose single failure takes it down.")
class TargetWeakness:
    target: AssetRef
    single_points: list[AssetRef] = strawberry.field(description="In id order.")


@strawberry.type(description="An asset and the targets its single failure takes down.")
class RankedAsset:
    asset: AssetRef
    takes_down: int
    targets: list[str] = strawberry.field(description="Their ids (at most `first`).")


@strawberry.type(
    description="Single points of failure for one target or a class of them; each part is "
    "computed only when asked for."
)
class SinglePointsAnswer:
    snapshot: strawberry.Private[Snapshot]
    nodes: strawberry.Private[list[int]]
    first: strawberry.Private[int]
    model_version: str
    target_count: int

    @strawberry.field(description="Per target (at most `first`, in id order).")
    async def targets(self, info: GraphInfo) -> list[TargetWeakness]:
        snapshot = self.snapshot
        shown = self.nodes[: self.first]

        def each(deadline: Deadline) -> list[tuple[int, tuple[int, ...]]]:
            return [(t, single_points_of_failure(snapshot, t, deadline)) for t in shown]

        per_target = await simulate(info, each)
        return [
            TargetWeakness(target=_ref(snapshot, t), single_points=[_ref(snapshot, n) for n in s])
            for t, s in per_target
        ]

    @strawberry.field(
        description="Assets by how many targets they take down, most first (at most `first`)."
    )
    async def ranking(self, info: GraphInfo) -> list[RankedAsset]:
        snapshot = self.snapshot
        ranking = await simulate(info, rank_by_targets, snapshot, self.nodes, self.first)
        return [
            RankedAsset(
                asset=_ref(snapshot, r.node),
                takes_down=r.count,
                targets=[snapshot.ids[t] for t in r.taken],
            )
            for r in ranking[: self.first]
        ]


@strawberry.input(description="A failure probability to use instead of the asset's MTBF/MTTR.")
class ProbabilityInput:
    asset: str = strawberry.field(description="Id or IRI.")
    unavailability: float = strawberry.field(
        description="Probability that the asset is down at a random moment, 0 to 1."
    )


@strawberry.type(
    description="A target's estimated availability with its 95% confidence interval (Wilson score)."
)
class TargetAvailability:
    target: AssetRef
    availability: float
    low: float
    high: float
    up_trials: int
    trials: int


@strawberry.type(
    description="Monte Carlo availability: each trial fails every asset at "
    "random with its unavailability (MTTR / (MTBF + MTTR) from the ontology, "
    "or as given), then propagates the failures."
)
class AvailabilityAnswer:
    model_version: str
    trials: int
    seed: int
    assets_that_can_fail: int = strawberry.field(
        description="Assets with an unavailability above 0 (the others never fail)."
    )
    targets: list[TargetAvailability] = strawberry.field(
        description="Least available first (at most `first`)."
    )


def _ref(snapshot: Snapshot, node: int) -> AssetRef:
    return AssetRef(id=snapshot.ids[node], iri=snapshot.iris[node])


async def _targets(
    info: GraphInfo, snapshot: Snapshot, targets: Sequence[str] | None, class_: str | None
) -> list[int]:
    if (targets is None) == (class_ is None):
        raise BadUserInput("give the targets by exactly one of `target(s)` and `class`")
    if class_ is not None:
        return nodes_of_class(snapshot, await loaders(info).terms(), class_)
    assert targets is not None
    return list(dict.fromkeys(nodes_of(snapshot, targets, "targets")))


async def single_points(
    info: GraphInfo, target: str | None, class_: str | None, first: int
) -> SinglePointsAnswer:
    check_first(first, services(info).settings)
    snapshot = snapshot_of(info)
    targets = await _targets(info, snapshot, None if target is None else [target], class_)
    return SinglePointsAnswer(
        snapshot=snapshot,
        nodes=targets,
        first=first,
        model_version=snapshot.version,
        target_count=len(targets),
    )


async def availability_of(
    info: GraphInfo,
    targets: Sequence[str] | None,
    class_: str | None,
    trials: int,
    seed: int,
    probabilities: Sequence[ProbabilityInput],
    first: int,
) -> AvailabilityAnswer:
    check_first(first, services(info).settings)
    if not 1 <= trials <= MAX_TRIALS:
        raise BadUserInput(f"trials must be between 1 and {MAX_TRIALS}, got {trials}")
    if seed < 0:
        raise BadUserInput(f"seed must be 0 or more, got {seed}")
    snapshot = snapshot_of(info)
    nodes = await _targets(info, snapshot, targets, class_)
    probability = list(unavailability(snapshot))
    for given in probabilities:
        if not 0.0 <= given.unavailability <= 1.0:
            raise BadUserInput(
                f"probabilities: the unavailability of {given.asset!r} must be between 0 and 1"
            )
        probability[node_of(snapshot, given.asset, "probabilities.asset")] = given.unavailability
    answers = await simulate(info, monte_carlo, snapshot, nodes, probability, trials, seed)
    ordered = sorted(answers, key=lambda a: (a.estimate, snapshot.rank[a.target]))
    return AvailabilityAnswer(
        model_version=snapshot.version,
        trials=trials,
        seed=seed,
        assets_that_can_fail=sum(1 for p in probability if p > 0),
        targets=[
            TargetAvailability(
                target=_ref(snapshot, a.target),
                availability=a.estimate,
                low=a.low,
                high=a.high,
                up_trials=a.up,
                trials=a.trials,
            )
            for a in ordered[:first]
        ],
    )
