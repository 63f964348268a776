"""Random and hand-built dependency graphs for the simulation tests, and a brute-force
oracle that reads them without the snapshot.

A random :class:`Graph` is nodes ``0..size-1`` with FEEDS and DEPENDS_ON edges (cycles,
self-loops and parallel edges allowed) and a redundancy policy per node. Its snapshot
interns the nodes in that order, so node ``n`` is snapshot index ``n``.

The oracle is the definition, computed the slow way: start with every node up but the
failed; repeat over all nodes until nothing changes, a node staying up only while enough
of its suppliers are up and reach it over a relationship that is not cut.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import product

from hypothesis import strategies as st

from kgtwin.graph.dependencies import AssetRow, Edges
from kgtwin.simulation.snapshot import Snapshot, build_snapshot

TYPES = ("FEEDS", "DEPENDS_ON")  # DEPENDS_ON points from consumer to supplier
REVERSED = frozenset({"DEPENDS_ON"})

Pair = tuple[int, int]  # (supplier, consumer)
Triple = tuple[int, int, str]  # an edge as Neo4j holds it: source, target, type
PolicySpec = tuple[str | None, int | None]  # kgt:redundancyPolicy, kgt:requiredSuppliers


def iri(node: int | str) -> str:
    return f"urn:t:{node}"


def node_id(n: int) -> str:
    return f"n{n:02d}"


def asset(
    name: str,
    node: str,
    spec: PolicySpec = (None, None),
    mtbf: float | None = None,
    mttr: float | None = None,
) -> AssetRow:
    policy, k = spec
    return AssetRow(iri(name), node, frozenset({"Asset"}), policy, k, None, None, None, mtbf, mttr)


@dataclass(frozen=True, slots=True)
class Graph:
    """A random dependency graph as a model would state it."""

    size: int
    triples: tuple[Triple, ...]
    policies: tuple[PolicySpec, ...]

    def snapshot(self) -> Snapshot:
        edges = Edges.of(
            sources=[iri(a) for a, _b, _t in self.triples],
            source_ids=[node_id(a) for a, _b, _t in self.triples],
            targets=[iri(b) for _a, b, _t in self.triples],
            target_ids=[node_id(b) for _a, b, _t in self.triples],
            types=[t for _a, _b, t in self.triples],
        )
        rows = [asset(str(n), node_id(n), self.policies[n]) for n in range(self.size)]
        snapshot = build_snapshot(edges, TYPES, REVERSED, "v1", rows)
        assert [snapshot.index[iri(str(n))] for n in range(self.size)] == list(range(self.size))
        return snapshot

    def pairs(self) -> list[Pair]:
        """Every (supplier, consumer) relationship, once, sorted."""
        return sorted({(b, a) if t in REVERSED else (a, b) for a, b, t in self.triples})

    def by_id(self, nodes: Iterable[int]) -> tuple[int, ...]:
        """``nodes`` in the order of their ids (the snapshot's rank, read independently)."""
        return tuple(sorted(nodes, key=node_id))


@dataclass(frozen=True, slots=True)
class Oracle:
    """The definition of failure propagation, on plain sets."""

    suppliers: tuple[frozenset[int], ...]
    required: tuple[int, ...]

    @classmethod
    def of(cls, graph: Graph) -> Oracle:
        suppliers: list[set[int]] = [set() for _ in range(graph.size)]
        for supplier, consumer in graph.pairs():
            suppliers[consumer].add(supplier)
        return cls(
            tuple(map(frozenset, suppliers)),
            tuple(
                needs(spec, len(own)) for spec, own in zip(graph.policies, suppliers, strict=True)
            ),
        )

    def down(self, failed: Collection[int], cut: Collection[Pair] = ()) -> frozenset[int]:
        up = [n not in failed for n in range(len(self.required))]
        changed = True
        while changed:
            changed = False
            for n, own in enumerate(self.suppliers):
                working = sum(1 for s in own if up[s] and (s, n) not in cut)
                if up[n] and working < self.required[n]:
                    up[n], changed = False, True
        return frozenset(n for n, alive in enumerate(up) if not alive)

    def lost(self, node: int, down: Collection[int], cut: Collection[Pair]) -> frozenset[int]:
        return frozenset(s for s in self.suppliers[node] if s in down or (s, node) in cut)

    def ancestors(self, nodes: Iterable[int]) -> frozenset[int]:
        """``nodes`` and every node they depend on, directly or not."""
        seen = set(nodes)
        stack = list(seen)
        while stack:
            for s in self.suppliers[stack.pop()]:
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
        return frozenset(seen)

    def availability(self, target: int, probability: Mapping[int, float]) -> float:
        """The exact chance that ``target`` is up when each node of ``probability`` fails
        independently with its probability: every combination of failures, weighed."""
        nodes = [n for n, p in probability.items() if p > 0]
        total = 0.0
        for fails in product((False, True), repeat=len(nodes)):
            weight = 1.0
            for n, fail in zip(nodes, fails, strict=True):
                weight *= probability[n] if fail else 1 - probability[n]
            failed = {n for n, fail in zip(nodes, fails, strict=True) if fail}
            if weight and target not in self.down(failed):
                total += weight
        return total


def needs(spec: PolicySpec, suppliers: int) -> int:
    """The fewest working suppliers a node of ``spec`` needs, from the ontology's wording:
    all of them (also the default, and a k-of-n without k), any one, or k of them."""
    policy, k = spec
    if policy == "any":
        return 1 if suppliers else 0
    if policy == "k-of-n" and k is not None:
        return k if k < suppliers else suppliers
    return suppliers


POLICY_SPECS: tuple[PolicySpec, ...] = (
    (None, None),
    ("all", None),
    ("any", None),
    ("k-of-n", None),
    *(("k-of-n", k) for k in range(7)),
)


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 25, max_edges: int = 80) -> Graph:
    # one draw per edge and per node: hypothesis spends its time on draws, not the test
    size = draw(st.integers(1, max_nodes))
    count = draw(st.integers(0, max_edges))  # lists alone stay short: most graphs sparse
    edge = st.integers(0, 2 * size * size - 1)
    codes = draw(st.lists(edge, min_size=count, max_size=count))
    triples = tuple((c // 2 // size, c // 2 % size, TYPES[c % 2]) for c in codes)
    policies = draw(st.lists(st.sampled_from(POLICY_SPECS), min_size=size, max_size=size))
    return Graph(size, triples, tuple(policies))


def named(
    feeds: Iterable[tuple[str, str]],
    policies: Mapping[str, PolicySpec] | None = None,
    *,
    depends: Iterable[tuple[str, str]] = (),
    reliability: Mapping[str, tuple[float, float]] | None = None,
) -> Snapshot:
    """A snapshot with readable ids: ``feeds`` (supplier, consumer) and ``depends``
    (consumer, supplier) edges; each named node's id is its name. ``reliability`` gives
    (MTBF, MTTR) hours."""
    feeds, depends = list(feeds), list(depends)
    policies, reliability = policies or {}, reliability or {}
    names = sorted({n for pair in feeds + depends for n in pair} | set(policies) | set(reliability))
    triples = [(a, b, "FEEDS") for a, b in feeds] + [(a, b, "DEPENDS_ON") for a, b in depends]
    edges = Edges.of(
        sources=[iri(a) for a, _b, _t in triples],
        source_ids=[a for a, _b, _t in triples],
        targets=[iri(b) for _a, b, _t in triples],
        target_ids=[b for _a, b, _t in triples],
        types=[t for _a, _b, t in triples],
    )
    rows = [
        asset(n, n, policies.get(n, (None, None)), *reliability.get(n, (None, None))) for n in names
    ]
    return build_snapshot(edges, TYPES, REVERSED, "v1", rows)


def at(snapshot: Snapshot, *names: str) -> tuple[int, ...]:
    """The indices of the named nodes of a :func:`named` snapshot."""
    return tuple(snapshot.index[iri(n)] for n in names)


def names(snapshot: Snapshot, nodes: Iterable[int]) -> tuple[str, ...]:
    return tuple(snapshot.ids[n] for n in nodes)


# two utility feeds into one switchgear (any), two UPS off it, one PDU per UPS; racks 1
# and 2 are 2N (both PDUs, any), rack 3 hangs off PDU A alone, web runs on rack 3
SMALL_SITE = named(
    [
        ("feed-1", "swg"),
        ("feed-2", "swg"),
        ("swg", "ups-a"),
        ("swg", "ups-b"),
        ("ups-a", "pdu-a"),
        ("ups-b", "pdu-b"),
        ("pdu-a", "rack-1"),
        ("pdu-b", "rack-1"),
        ("pdu-a", "rack-2"),
        ("pdu-b", "rack-2"),
        ("pdu-a", "rack-3"),
    ],
    {"swg": ("any", None), "rack-1": ("any", None), "rack-2": ("any", None)},
    depends=[("web", "rack-3")],
)
