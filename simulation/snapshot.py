"""The dependency graph in memory: who supplies whom, by integer index, and what each
asset needs of its suppliers.

Built from Neo4j's dependency edges (:func:`graph.dependencies.read_edges`) and assets
(:func:`graph.dependencies.read_assets`) by :func:`build_snapshot`, a pure function;
rebuilt only when the graph's models change, never per request. Every edge is stored
supplier to consumer: a ``dependsOn``-like type (consumer to supplier in Neo4j) is turned
round, so ``consumers[s]`` are the nodes that depend on ``s`` (downstream) and
``suppliers[c]`` those ``c`` depends on (upstream).

Redundancy (the ontology's ``kgt:redundancyPolicy``) is resolved against the number of
suppliers into ``required[i]``, the fewest working suppliers node ``i`` needs: ``all``
(the default) needs every one, ``any`` one, ``k-of-n`` k (capped at the number it has).
A node without suppliers needs none.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from kgtwin.graph.dependencies import AssetRow, Edges
from kgtwin.graph.topology import DEFAULT_NODE_BUDGET, Reach, Reached

logger = logging.getLogger(__name__)


class Policy(Enum):
    """An asset's redundancy policy, as the ontology spells it."""

    ALL = "all"
    ANY = "any"
    K_OF_N = "k-of-n"


NO_LABELS: frozenset[str] = frozenset()
AMBIGUOUS = -1  # Snapshot.by_id of an id that several models use


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The dependency graph at one graph version, with each node's redundancy, capacity
    and reliability (None where the model does not give them)."""

    version: str  # graph.versions.graph_version when it was read
    types: tuple[str, ...]  # the relationship types it holds
    iris: tuple[str, ...]  # node i's IRI
    ids: tuple[str, ...]  # node i's id
    index: Mapping[str, int]  # IRI -> i
    by_id: Mapping[str, int]  # id -> i; AMBIGUOUS when several models use the id
    consumers: tuple[tuple[int, ...], ...]  # i -> the nodes that depend on i
    suppliers: tuple[tuple[int, ...], ...]  # i -> the nodes i depends on
    # i -> for each of suppliers[i], the relationship types it supplies i over
    supplied_over: tuple[tuple[frozenset[str], ...], ...]
    serves_over: tuple[frozenset[str], ...]  # i -> the types it supplies its consumers over
    rank: tuple[int, ...]  # i -> its place in the order of (id, iri)
    labels: tuple[frozenset[str], ...]  # i -> its class labels (those of every superclass)
    policies: tuple[Policy, ...]
    required: tuple[int, ...]  # i -> the fewest working suppliers it needs
    slack: tuple[int, ...]  # i -> how many suppliers it can lose and stay up
    capacity: tuple[float | None, ...]  # rated capacity, in capacity_unit
    capacity_unit: tuple[str | None, ...]  # QUDT unit local name, e.g. "KiloW"
    design_load: tuple[float | None, ...]  # in capacity_unit
    mtbf_hours: tuple[float | None, ...]
    mttr_hours: tuple[float | None, ...]

    def __len__(self) -> int:
        return len(self.iris)

    def reach(
        self,
        start: str,
        max_depth: int,
        *,
        downstream: bool,
        node_budget: int = DEFAULT_NODE_BUDGET,
        first: int | None = None,
    ) -> Reach:
        """What :func:`graph.topology.breadth_first` answers over this snapshot (the same
        depths, paths, order and truncation), computed on integer indices: a walk over
        16k nodes takes milliseconds. ``start`` is an IRI; a node outside the dependency
        graph reaches nothing."""
        origin = self.index.get(start)
        if origin is None:
            return Reach((), 0, False)
        neighbours = self.consumers if downstream else self.suppliers
        rank = self.rank
        parent: dict[int, int] = {}
        depth = {origin: 0}
        reached: list[int] = []
        frontier = [origin]
        truncated = False
        for level in range(1, max_depth + 1):
            if not frontier:
                break
            # node -> its parent; the frontier is in rank order, so the first parent found
            # is the one of smallest id, as breadth_first picks it
            found: dict[int, int] = {}
            for u in frontier:
                for v in neighbours[u]:
                    if v not in depth and v not in found:
                        found[v] = u
            fresh = sorted(found, key=rank.__getitem__)
            room = max(node_budget - len(reached), 0)
            if len(fresh) > room:
                fresh, truncated = fresh[:room], True
            for v in fresh:
                parent[v], depth[v] = found[v], level
            reached.extend(fresh)
            frontier = fresh
            if truncated:
                break
        shown = reached if first is None else reached[:first]
        return Reach(
            tuple(self._reached(v, depth[v], parent) for v in shown), len(reached), truncated
        )

    def _reached(self, node: int, depth: int, parent: Mapping[int, int]) -> Reached:
        path = [self.ids[node]]
        at = node
        while at in parent:
            at = parent[at]
            path.append(self.ids[at])
        return Reached(self.iris[node], self.ids[node], depth, tuple(reversed(path)))


def build_snapshot(
    edges: Edges,
    types: Collection[str],
    reversed_types: Collection[str],
    version: str,
    assets: Iterable[AssetRow] = (),
) -> Snapshot:
    """The snapshot of ``edges`` (of ``types``) and of ``assets`` (those without any
    dependency are nodes too, so that they can be failed and found by class); edges of
    ``reversed_types`` point from consumer to supplier. Parallel edges (two types between
    the same pair) count once. A node of an edge that is not among ``assets`` (e.g. a
    system) has no labels and the default policy."""
    index: dict[str, int] = {}
    iris: list[str] = []
    ids: list[str] = []
    rows: list[AssetRow | None] = []

    def intern(iri: str, node_id: str, row: AssetRow | None = None) -> int:
        i = index.get(iri)
        if i is None:
            i = index[iri] = len(iris)
            iris.append(iri)
            ids.append(node_id)
            rows.append(row)
        return i

    for row in assets:
        intern(row.iri, row.id, row)

    pairs: dict[tuple[int, int], set[str]] = {}
    for source, source_id, target, target_id, rel_type in zip(
        edges.sources, edges.source_ids, edges.targets, edges.target_ids, edges.types, strict=True
    ):
        a, b = intern(source, source_id), intern(target, target_id)
        pairs.setdefault((b, a) if rel_type in reversed_types else (a, b), set()).add(rel_type)
    consumers: list[list[int]] = [[] for _ in iris]
    suppliers: list[list[int]] = [[] for _ in iris]
    supplied_over: list[list[frozenset[str]]] = [[] for _ in iris]
    serves_over: list[set[str]] = [set() for _ in iris]
    kinds: dict[frozenset[str], frozenset[str]] = {}  # one object per set of types
    for (supplier, consumer), over in sorted(pairs.items()):
        consumers[supplier].append(consumer)
        suppliers[consumer].append(supplier)
        kind = frozenset(over)
        supplied_over[consumer].append(kinds.setdefault(kind, kind))
        serves_over[supplier] |= over
    rank = [0] * len(iris)
    for place, i in enumerate(sorted(range(len(iris)), key=lambda i: (ids[i], iris[i]))):
        rank[i] = place
    policies = [_policy(row) for row in rows]
    required = [
        required_suppliers(policy, len(own), None if row is None else row.required_suppliers)
        for policy, own, row in zip(policies, suppliers, rows, strict=True)
    ]
    by_id: dict[str, int] = {}
    for i, node_id in enumerate(ids):
        by_id[node_id] = AMBIGUOUS if node_id in by_id else i
    return Snapshot(
        version=version,
        types=tuple(sorted(types)),
        iris=tuple(iris),
        ids=tuple(ids),
        index=index,
        by_id=by_id,
        consumers=tuple(map(tuple, consumers)),
        suppliers=tuple(map(tuple, suppliers)),
        supplied_over=tuple(map(tuple, supplied_over)),
        serves_over=tuple(kinds.setdefault(k, k) for k in map(frozenset, serves_over)),
        rank=tuple(rank),
        labels=tuple(NO_LABELS if row is None else row.labels for row in rows),
        policies=tuple(policies),
        required=tuple(required),
        slack=tuple(len(own) - k for own, k in zip(suppliers, required, strict=True)),
        capacity=tuple(None if row is None else row.rated_capacity for row in rows),
        capacity_unit=tuple(None if row is None else row.capacity_unit for row in rows),
        design_load=tuple(None if row is None else row.design_load for row in rows),
        mtbf_hours=tuple(None if row is None else row.mtbf_hours for row in rows),
        mttr_hours=tuple(None if row is None else row.mttr_hours for row in rows),
    )


def required_suppliers(policy: Policy, suppliers: int, k: int | None) -> int:
    """How many of its ``suppliers`` a node with ``policy`` needs working."""
    if policy is Policy.ANY:
        return min(1, suppliers)
    if policy is Policy.K_OF_N and k is not None:
        return max(0, min(k, suppliers))
    return suppliers  # all, and a k-of-n without k (SHACL refuses it): the safe reading


def _policy(row: AssetRow | None) -> Policy:
    if row is None or row.policy is None:
        return Policy.ALL
    try:
        return Policy(row.policy)
    except ValueError:
        # the shapes only allow the three; a graph written by other means may hold others
        logger.warning(
            "asset %s has unknown redundancy policy %r: read as 'all'", row.id, row.policy
        )
        return Policy.ALL
