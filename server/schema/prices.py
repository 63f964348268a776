"""What the expensive root fields cost, in the unit of the complexity estimate: one
resolved field, about 10 µs of the server's CPU (plain fields measure 2-35 µs each).

A plain field costs 1; these do work in proportion to their arguments and to the
dependency graph they run on, so each is priced by that work, with constants measured by
``bench/abuse.py --prices`` (which prints each price beside the time it took):

- ``availability``: laying out the assets that can take the targets down, then trials
  times those assets (bit-parallel, 64 trials to a word);
- ``singlePointsOfFailure``: for each target shown, and for the ranking, one scenario per
  asset the targets depend on, each propagated over those assets;
- ``whatIf``, ``saveScenario`` and ``compareWithObserved`` (capacity, with two reads
  more: the load points and their history): the worst case of a walk over the dependency graph,
  every node and edge (the capacity mode a few such walks: rounds of trips, and a read of
  the live loads), plus the scenario's own size;
- ``downstream`` and ``upstream``: the nodes the walk may visit (in Neo4j when ``via`` is
  given: a statement per level, and more per node than the server's snapshot);
- ``paths``: a walk in Neo4j to collect the neighbourhood (a statement per level), then
  the search of simple paths through it, bounded by its step budget.

The graph's size comes from the server's cached snapshot; without one the fields answer
NOT_READY at once, so they are priced as on an empty graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kgtwin.graph.topology import DEFAULT_NODE_BUDGET, DEFAULT_STEP_BUDGET
from kgtwin.simulation.batch import upstream
from kgtwin.simulation.snapshot import Snapshot

# Work per unit of cost (one unit ~ 10 µs), measured by `bench/abuse.py --prices`.
LAYOUT_BASE = 70  # availability and single points: setting up the bit-parallel layers
LAYOUT_PER_NODE = 0.3  # ... per asset laid out
TRIAL_NODES_PER_UNIT = 8_000  # Monte Carlo: (trial, asset) pairs
SCENARIO_NODES_PER_UNIT = 5_000  # single points: (scenario, asset) pairs
WALKED_PER_UNIT = 70  # what-if: nodes and edges walked
CAPACITY_ROUNDS = 4  # capacity mode: walks a cascade is priced at
READ_BASE = 200  # one statement sent to Neo4j and answered
ROWS_PER_UNIT = 4  # rows of a read: the capacity mode's load points, reported failures
SNAPSHOT_REACHED_PER_UNIT = 4  # downstream/upstream in the snapshot: nodes reached
NEO4J_REACHED_PER_UNIT = 2  # downstream/upstream in Neo4j (via): nodes reached
PATH_STEPS_PER_UNIT = 5  # paths: partial paths extended in Neo4j

DEFAULT_TRIALS = 1_000  # as server.schema.reliability, which imports nothing from here
DEFAULT_PAGE = 20
DEFAULT_DEPTH = 10  # a walk's maxDepth when not given: the default max_traversal_depth


@dataclass(frozen=True, slots=True)
class GraphSize:
    """What the prices read from the dependency snapshot (None: not built), with what they
    work out per class kept in ``classes`` (a dict the server keeps with its snapshot)."""

    snapshot: Snapshot | None
    edges: int
    classes: dict[str, tuple[tuple[int, ...], int]] = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        return 0 if self.snapshot is None else len(self.snapshot)

    def node(self, key: object) -> int | None:
        """The node an id or IRI names (None: no such node, or an ambiguous id)."""
        snapshot = self.snapshot
        if snapshot is None or not isinstance(key, str):
            return None
        node = snapshot.index.get(key)
        if node is None:
            node = snapshot.by_id.get(key)
        return node if node is not None and node >= 0 else None

    def exposed(self, nodes: Iterable[int]) -> int:
        """How many nodes ``nodes`` depend on, themselves included."""
        chosen = list(nodes)
        return len(upstream(self.snapshot, chosen)) if self.snapshot and chosen else 0

    def of_class(self, name: object) -> tuple[tuple[int, ...], int]:
        """The members of a class (by label, in id order) and what they depend on; worked
        out once per class and snapshot."""
        snapshot = self.snapshot
        if snapshot is None or not isinstance(name, str):
            return (), 0
        found = self.classes.get(name)
        if found is None:
            members = tuple(snapshot.with_label(name))
            found = self.classes[name] = (members, self.exposed(members))
        return found

    def exposed_by(self, args: Mapping[str, Any], key: str) -> int:
        """What the targets of a reliability field depend on: those given by id or IRI
        under ``key``, or the members of its ``class``."""
        if args.get("class") is not None:
            return self.of_class(args["class"])[1]
        given = args.get(key)
        keys = given if isinstance(given, list | tuple) else [given]
        return self.exposed(n for k in keys if (n := self.node(k)) is not None)


# (the field's arguments, its root field's arguments, the graph) -> units
Price = Callable[[Mapping[str, Any], Mapping[str, Any], GraphSize], int]


def _length(value: object) -> int:
    return len(value) if isinstance(value, list | tuple) else 0


def _layout(nodes: int) -> float:
    return LAYOUT_BASE + LAYOUT_PER_NODE * nodes


def _scenarios(exposed: int) -> float:
    """One failure scenario per exposed asset, each over all of them."""
    return _layout(exposed) + exposed * exposed / SCENARIO_NODES_PER_UNIT


def availability(args: Mapping[str, Any], _root: Mapping[str, Any], graph: GraphSize) -> int:
    trials = max(args.get("trials") or DEFAULT_TRIALS, 0)
    exposed = graph.exposed_by(args, "targets")
    work = _layout(exposed) + trials * exposed / TRIAL_NODES_PER_UNIT
    return math.ceil(work) + _length(args.get("targets")) + _length(args.get("probabilities"))


def single_points(args: Mapping[str, Any], _root: Mapping[str, Any], graph: GraphSize) -> int:
    """Finding the targets: a class's members are read off the snapshot."""
    return math.ceil(graph.nodes / SNAPSHOT_REACHED_PER_UNIT) if args.get("class") else 1


def single_points_targets(
    _args: Mapping[str, Any], root: Mapping[str, Any], graph: GraphSize
) -> int:
    """The single points of each target shown: its scenarios over what it depends on."""
    if root.get("class") is None:
        return math.ceil(_scenarios(graph.exposed_by(root, "target")))
    members, _exposed = graph.of_class(root["class"])
    shown = members[: root.get("first") or DEFAULT_PAGE]
    return math.ceil(sum(_scenarios(graph.exposed([t])) for t in shown))


def single_points_ranking(
    _args: Mapping[str, Any], root: Mapping[str, Any], graph: GraphSize
) -> int:
    """The ranking: one scenario per asset any target depends on, over all of them."""
    return math.ceil(_scenarios(graph.exposed_by(root, "target")))


def what_if(args: Mapping[str, Any], _root: Mapping[str, Any], graph: GraphSize) -> int:
    mode = args.get("mode")
    capacity = str(getattr(mode, "value", mode)).lower() == "capacity"
    walked = (CAPACITY_ROUNDS if capacity else 1) * (graph.nodes + graph.edges)
    reads = int(capacity) + int(bool(args.get("fromLiveState")))  # load points, failures
    given = sum(_length(args.get(name)) for name in ("fail", "failRelationships", "loads"))
    work = walked / WALKED_PER_UNIT + reads * (READ_BASE + graph.nodes / ROWS_PER_UNIT)
    return math.ceil(work) + given


def risks(_args: Mapping[str, Any], root: Mapping[str, Any], graph: GraphSize) -> int:
    """A capacity what-if from the live state (the walks, the reads of the failures and the
    loads), and laying out the assets for the single-failure scenarios around what lost
    redundancy (bounded by the request's deadline like every simulation)."""
    live = what_if({"mode": "capacity", "fromLiveState": True}, root, graph)
    return live + math.ceil(_layout(graph.nodes))


def compare_observed(args: Mapping[str, Any], root: Mapping[str, Any], graph: GraphSize) -> int:
    """A capacity what-if, then the load points and their history: two reads more."""
    capacity = what_if({**args, "mode": "capacity"}, root, graph)
    return capacity + 2 * math.ceil(READ_BASE + graph.nodes / ROWS_PER_UNIT)


def _neo4j_walk(args: Mapping[str, Any], graph: GraphSize) -> tuple[int, float]:
    """The nodes a walk in Neo4j may reach and what reading them costs: a statement per
    level; along ``via`` (any types: points, locations...) up to the walk's node budget,
    along the dependency types at most the snapshot's nodes."""
    depth = args.get("maxDepth") or DEFAULT_DEPTH
    via = args.get("via")
    reached = DEFAULT_NODE_BUDGET if via is not None else min(graph.nodes, DEFAULT_NODE_BUDGET)
    return reached, depth * READ_BASE + reached / NEO4J_REACHED_PER_UNIT + _length(via)


def walk(args: Mapping[str, Any], _root: Mapping[str, Any], graph: GraphSize) -> int:
    if args.get("via") is not None:
        return math.ceil(_neo4j_walk(args, graph)[1])
    reached = min(graph.nodes, DEFAULT_NODE_BUDGET)
    return math.ceil(reached / SNAPSHOT_REACHED_PER_UNIT)


def paths(args: Mapping[str, Any], _root: Mapping[str, Any], graph: GraphSize) -> int:
    """The neighbourhood's walk, then partial paths through it: at most its budget, and
    about its nodes times the length of the paths sought."""
    reached, read = _neo4j_walk(args, graph)
    depth = args.get("maxDepth") or DEFAULT_DEPTH
    steps = min(DEFAULT_STEP_BUDGET, reached * depth)
    return math.ceil(read + steps / PATH_STEPS_PER_UNIT)


# (type, field) -> its price, added to the field's ordinary cost
PRICES: Mapping[tuple[str, str], Price] = {
    ("Query", "availability"): availability,
    ("Query", "singlePointsOfFailure"): single_points,
    ("SinglePointsAnswer", "targets"): single_points_targets,
    ("SinglePointsAnswer", "ranking"): single_points_ranking,
    ("Query", "whatIf"): what_if,
    ("Query", "compareWithObserved"): compare_observed,
    ("Query", "risks"): risks,
    ("Mutation", "saveScenario"): what_if,
    ("Query", "downstream"): walk,
    ("Query", "upstream"): walk,
    ("Query", "paths"): paths,
}
