"""The dependency graph in memory: who supplies whom, by integer index.

Built from Neo4j's dependency edges (:func:`graph.dependencies.read_edges`) by
:func:`build_snapshot`, a pure function; rebuilt only when the graph's models change,
never per request. Every edge is stored supplier to consumer: a ``dependsOn``-like type
(consumer to supplier in Neo4j) is turned round, so ``consumers[s]`` are the nodes that
depend on ``s`` (downstream) and ``suppliers[c]`` those ``c`` depends on (upstream).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from graph.dependencies import Edges
from graph.topology import DEFAULT_NODE_BUDGET, Reach, Reached


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The dependency graph at one graph version."""

    version: str  # graph.versions.graph_version when it was read
    types: tuple[str, ...]  # the relationship types it holds
    iris: tuple[str, ...]  # node i's IRI
    ids: tuple[str, ...]  # node i's id
    index: Mapping[str, int]  # IRI -> i
    consumers: tuple[tuple[int, ...], ...]  # i -> the nodes that depend on i
    suppliers: tuple[tuple[int, ...], ...]  # i -> the nodes i depends on
    rank: tuple[int, ...]  # i -> its place in the order of (id, iri)

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
    edges: Edges, types: Collection[str], reversed_types: Collection[str], version: str
) -> Snapshot:
    """The snapshot of ``edges`` (of ``types``); edges of ``reversed_types`` point from
    consumer to supplier. Parallel edges (two types between the same pair) count once."""
    index: dict[str, int] = {}
    iris: list[str] = []
    ids: list[str] = []

    def intern(iri: str, node_id: str) -> int:
        i = index.get(iri)
        if i is None:
            i = index[iri] = len(iris)
            iris.append(iri)
            ids.append(node_id)
        return i

    pairs: set[tuple[int, int]] = set()
    for source, source_id, target, target_id, rel_type in zip(
        edges.sources, edges.source_ids, edges.targets, edges.target_ids, edges.types, strict=True
    ):
        a, b = intern(source, source_id), intern(target, target_id)
        pairs.add((b, a) if rel_type in reversed_types else (a, b))
    consumers: list[list[int]] = [[] for _ in iris]
    suppliers: list[list[int]] = [[] for _ in iris]
    for supplier, consumer in sorted(pairs):
        consumers[supplier].append(consumer)
        suppliers[consumer].append(supplier)
    rank = [0] * len(iris)
    for place, i in enumerate(sorted(range(len(iris)), key=lambda i: (ids[i], iris[i]))):
        rank[i] = place
    return Snapshot(
        version=version,
        types=tuple(sorted(types)),
        iris=tuple(iris),
        ids=tuple(ids),
        index=index,
        consumers=tuple(map(tuple, consumers)),
        suppliers=tuple(map(tuple, suppliers)),
        rank=tuple(rank),
    )
