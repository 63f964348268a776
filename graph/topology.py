"""Walking the twin graph: what is reachable from a node, and the paths between two nodes.

A walk follows a set of relationship types, each in a direction: ``forward`` types along
their edges, ``backward`` types against them (the caller decides, e.g. from the
ontology's dependency direction). The graph is walked breadth first, one statement per
level (``UNWIND`` over the whole frontier), so each node's depth is its shortest distance
and each path a shortest one; Cypher cannot take the depth bound as a parameter, and one
level at a time lets a walk mix edge directions per type. :func:`reachable` reads only
IRIs and ids while it walks, as one row of lists per level (decoding a row per edge, with
every property of the node, cost the driver far more than Neo4j took to walk); the
caller reads the few nodes it shows.

Relationship types must have been checked against the ontology; they reach Cypher as a
parameter only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import LiteralString

from kgtwin.graph.nodes import TwinNode
from kgtwin.graph.reader import Reader

NEIGHBOURS: LiteralString = """
UNWIND $frontier AS key
MATCH (a:Twin {iri: key})
CALL (a) {
  MATCH (a)-[r]->(b:Twin) WHERE type(r) IN $forward
  RETURN type(r) AS type, b
  UNION
  MATCH (a)<-[r]-(b:Twin) WHERE type(r) IN $backward
  RETURN type(r) AS type, b
}
RETURN key AS source, type, b {.*} AS props, labels(b) AS labels
"""

REACH_STEP: LiteralString = """
UNWIND $frontier AS key
MATCH (a:Twin {iri: key})
CALL (a) {
  MATCH (a)-[r]->(b:Twin) WHERE type(r) IN $forward
  RETURN b
  UNION
  MATCH (a)<-[r]-(b:Twin) WHERE type(r) IN $backward
  RETURN b
}
RETURN collect(key) AS sources, collect(b.iri) AS targets, collect(b.id) AS ids
"""

DEFAULT_NODE_BUDGET = 20_000  # nodes a walk may discover before it stops, truncated
DEFAULT_STEP_BUDGET = 200_000  # partial paths a path search may extend


@dataclass(frozen=True, slots=True)
class Direction:
    """Which types a walk follows along their edges and which against them."""

    forward: frozenset[str]
    backward: frozenset[str]

    def reversed(self) -> Direction:
        return Direction(self.backward, self.forward)


@dataclass(frozen=True, slots=True)
class Reached:
    """A node reached from the start (its IRI and id): its depth and one shortest path
    (ids, start first)."""

    iri: str
    id: str
    depth: int
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reach:
    """What a walk reached within the depth bound, start excluded: how many nodes, and the
    first of them (all unless the caller asked for fewer) by depth, then id."""

    items: tuple[Reached, ...]
    count: int
    truncated: bool  # the node budget ran out: deeper or later nodes are missing


@dataclass(frozen=True, slots=True)
class Path:
    """A path between two nodes: the nodes (both ends included) and the type of each hop."""

    nodes: tuple[TwinNode, ...]
    types: tuple[str, ...]

    @property
    def length(self) -> int:
        return len(self.types)


@dataclass(frozen=True, slots=True)
class _Edge:
    type: str
    target: str  # iri


def _expand(
    reader: Reader, frontier: list[str], direction: Direction
) -> Iterator[tuple[str, str, TwinNode]]:
    """``(source iri, type, target)`` for every edge the walk may take out of ``frontier``."""
    rows = reader.rows(
        NEIGHBOURS,
        "walking the graph",
        frontier=frontier,
        forward=sorted(direction.forward),
        backward=sorted(direction.backward),
    )
    for row in rows:
        yield row["source"], row["type"], TwinNode.from_row(row["props"], row["labels"])


def _step(
    reader: Reader, frontier: list[str], direction: Direction
) -> Iterator[tuple[str, str, str]]:
    """``(source iri, target iri, target id)`` for every edge the walk may take out of
    ``frontier``."""
    (row,) = reader.rows(
        REACH_STEP,
        "walking the graph",
        frontier=frontier,
        forward=sorted(direction.forward),
        backward=sorted(direction.backward),
    )
    return zip(row["sources"], row["targets"], row["ids"], strict=True)


Step = Callable[[list[str]], Iterable[tuple[str, str, str]]]
"""One level of a walk: ``(source iri, target iri, target id)`` for every edge the walk may
take out of the frontier (IRIs). Neo4j's is :func:`neo4j_step`; an in-memory graph can
give its own."""


def neo4j_step(reader: Reader, direction: Direction) -> Step:
    """Each level as one statement to Neo4j."""
    return lambda frontier: _step(reader, frontier, direction)


def reachable(
    reader: Reader,
    start: TwinNode,
    direction: Direction,
    max_depth: int,
    *,
    node_budget: int = DEFAULT_NODE_BUDGET,
    first: int | None = None,
) -> Reach:
    """The nodes reachable from ``start`` in Neo4j in at most ``max_depth`` steps; ``items``
    holds the first ``first`` of them (None: all)."""
    return breadth_first(
        neo4j_step(reader, direction),
        start.iri,
        start.id,
        max_depth,
        node_budget=node_budget,
        first=first,
    )


def breadth_first(
    step: Step,
    start_iri: str,
    start_id: str,
    max_depth: int,
    *,
    node_budget: int = DEFAULT_NODE_BUDGET,
    first: int | None = None,
) -> Reach:
    """The nodes ``step`` reaches from the start in at most ``max_depth`` levels, each with
    its depth and one shortest path: of several parents at the same depth, the one with
    the smallest id, so the same graph always gives the same answer."""
    parent: dict[str, str] = {}
    ids: dict[str, str] = {start_iri: start_id}
    depth = {start_iri: 0}
    reached: list[str] = []  # iris by depth, then id: the order of the answer
    frontier = [start_iri]
    truncated = False
    for level in range(1, max_depth + 1):
        if not frontier:
            break
        found: dict[str, str] = {}  # target iri -> its parent iri
        found_ids: dict[str, str] = {}
        for source, iri, node_id in step(frontier):
            if iri in depth:
                continue
            best = found.get(iri)
            if best is None or ids[source] < ids[best]:
                found[iri] = source
                found_ids[iri] = node_id
        fresh = sorted((node_id, iri) for iri, node_id in found_ids.items())
        room = max(node_budget + 1 - len(ids), 0)
        if len(fresh) > room:
            fresh, truncated = fresh[:room], True
        frontier = [iri for _node_id, iri in fresh]
        for node_id, iri in fresh:
            parent[iri], ids[iri], depth[iri] = found[iri], node_id, level
        reached.extend(frontier)
        if truncated:
            break

    def path_to(iri: str) -> tuple[str, ...]:
        path = [ids[iri]]
        while iri in parent:
            iri = parent[iri]
            path.append(ids[iri])
        return tuple(reversed(path))

    shown = reached if first is None else reached[:first]
    items = tuple(Reached(iri, ids[iri], depth[iri], path_to(iri)) for iri in shown)
    return Reach(items, len(reached), truncated)


def paths_between(
    reader: Reader,
    source: TwinNode,
    target: TwinNode,
    direction: Direction,
    max_depth: int,
    first: int,
    *,
    node_budget: int = DEFAULT_NODE_BUDGET,
    step_budget: int = DEFAULT_STEP_BUDGET,
) -> tuple[list[Path], bool]:
    """Up to ``first`` simple paths from ``source`` to ``target`` of at most ``max_depth``
    hops, shortest first (then by the ids along them); and whether a budget ran out."""
    edges, nodes, truncated = _neighbourhood(reader, source, direction, max_depth, node_budget)
    remaining = _distances_to(target.iri, edges)
    found: list[Path] = []
    steps = 0
    for length in range(1, max_depth + 1):
        if remaining.get(source.iri, max_depth + 1) > length:
            continue
        stack: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
            (source.iri, (source.iri,), ())
        ]
        while stack and len(found) < first:
            steps += 1
            if steps > step_budget:
                return found, True
            iri, trail, types = stack.pop()
            if len(types) == length:
                if iri == target.iri:
                    found.append(Path(tuple(nodes[i] for i in trail), types))
                continue
            left = length - len(types) - 1
            options = [
                e
                for e in edges.get(iri, ())
                if e.target not in trail and remaining.get(e.target, max_depth + 1) <= left
            ]
            # popped last-in first-out: push in reverse so the smallest id comes out first
            for edge in sorted(options, key=lambda e: (nodes[e.target].id, e.type), reverse=True):
                stack.append((edge.target, (*trail, edge.target), (*types, edge.type)))
        if len(found) >= first:
            break
    return found, truncated


def _neighbourhood(
    reader: Reader, start: TwinNode, direction: Direction, max_depth: int, node_budget: int
) -> tuple[dict[str, list[_Edge]], dict[str, TwinNode], bool]:
    """Every edge the walk may take out of the nodes within ``max_depth - 1`` steps."""
    edges: dict[str, list[_Edge]] = {}
    nodes = {start.iri: start}
    frontier = [start.iri]
    for _level in range(max_depth):
        if not frontier:
            break
        fresh: list[str] = []
        for source, rel_type, node in _expand(reader, frontier, direction):
            edges.setdefault(source, []).append(_Edge(rel_type, node.iri))
            if node.iri not in nodes:
                nodes[node.iri] = node
                fresh.append(node.iri)
        if len(nodes) > node_budget:
            return edges, nodes, True
        frontier = sorted(set(fresh))
    return edges, nodes, False


def _distances_to(target: str, edges: dict[str, list[_Edge]]) -> dict[str, int]:
    """Shortest number of hops from each node to ``target`` over ``edges``."""
    into: dict[str, list[str]] = {}
    for source, out in edges.items():
        for edge in out:
            into.setdefault(edge.target, []).append(source)
    distance = {target: 0}
    level = [target]
    while level:
        nxt = []
        for node in level:
            for source in into.get(node, ()):
                if source not in distance:
                    distance[source] = distance[node] + 1
                    nxt.append(source)
        level = nxt
    return distance


def direction_for(
    types: Collection[str], reversed_types: Collection[str], *, downstream: bool
) -> Direction:
    """Downstream follows ``types`` along their edges, except ``reversed_types`` (edges that
    point from consumer to supplier), which it follows backwards; upstream the opposite."""
    forward = frozenset(t for t in types if t not in reversed_types)
    backward = frozenset(t for t in types if t in reversed_types)
    direction = Direction(forward, backward)
    return direction if downstream else direction.reversed()
