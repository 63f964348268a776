"""The dependency snapshot: its walk against the generic breadth-first walk (the one that
walks Neo4j), on random graphs: same depths, paths, order, counts and truncation; and the
memory it holds."""

from __future__ import annotations

import gc
import random
import sys
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgtwin.graph.dependencies import AssetRow, Edges
from kgtwin.graph.topology import Reach, breadth_first
from kgtwin.simulation.arrays import distinct
from kgtwin.simulation.snapshot import Snapshot, build_snapshot
from tests.conftest import examples

TYPES = ("FEEDS", "DEPENDS_ON")  # DEPENDS_ON points from consumer to supplier
REVERSED = frozenset({"DEPENDS_ON"})
SITE = "https://w3id.org/kgtwin/site/synthetic#"


def iri(n: int) -> str:
    return f"urn:t:{n}"


def node_id(n: int) -> str:
    return f"n{n:02d}"  # ids order differently from the numbers, as in real models: n10 < n2


def edges_of(triples: list[tuple[int, int, str]]) -> Edges:
    return Edges.of(
        sources=[iri(a) for a, _b, _t in triples],
        source_ids=[node_id(a) for a, _b, _t in triples],
        targets=[iri(b) for _a, b, _t in triples],
        target_ids=[node_id(b) for _a, b, _t in triples],
        types=[t for _a, _b, t in triples],
    )


def oracle(
    triples: list[tuple[int, int, str]],
    start: int,
    depth: int,
    downstream: bool,
    budget: int,
    first: int | None,
) -> Reach:
    """breadth_first over a plain adjacency of the same edges, read as the Neo4j walk
    reads them: FEEDS along, DEPENDS_ON against the edge (downstream)."""
    out: dict[str, set[str]] = {}
    for a, b, rel_type in triples:
        supplier, consumer = (b, a) if rel_type in REVERSED else (a, b)
        source, target = (supplier, consumer) if downstream else (consumer, supplier)
        out.setdefault(iri(source), set()).add(iri(target))

    def step(frontier: list[str]) -> Iterator[tuple[str, str, str]]:
        for source in frontier:
            for target in out.get(source, ()):
                yield source, target, node_id(int(target.rsplit(":", 1)[1]))

    return breadth_first(step, iri(start), node_id(start), depth, node_budget=budget, first=first)


graphs = st.lists(
    st.tuples(st.integers(0, 15), st.integers(0, 15), st.sampled_from(TYPES)), max_size=60
)


@settings(max_examples=examples(300), deadline=None, derandomize=True)
@given(
    graphs,
    st.integers(0, 15),
    st.integers(1, 6),
    st.booleans(),
    st.integers(1, 20),
    st.none() | st.integers(1, 10),
)
def test_reach_equals_the_generic_walk(
    triples: list[tuple[int, int, str]],
    start: int,
    depth: int,
    downstream: bool,
    budget: int,
    first: int | None,
) -> None:
    snapshot = build_snapshot(edges_of(triples), TYPES, REVERSED, "v1")
    expected = oracle(triples, start, depth, downstream, budget, first)
    got = snapshot.reach(iri(start), depth, downstream=downstream, node_budget=budget, first=first)
    if iri(start) not in snapshot.index:
        assert expected == Reach((), 0, False)
    assert got == expected


def test_edges_are_stored_supplier_to_consumer_once() -> None:
    # 1 feeds 2 twice (two types in Neo4j would be two edges), 3 depends on 2
    snapshot = build_snapshot(
        edges_of([(1, 2, "FEEDS"), (1, 2, "FEEDS"), (3, 2, "DEPENDS_ON")]), TYPES, REVERSED, "v"
    )
    at = snapshot.index
    assert list(snapshot.consumers[at[iri(1)]]) == [at[iri(2)]]
    assert list(snapshot.consumers[at[iri(2)]]) == [at[iri(3)]]
    assert list(snapshot.suppliers[at[iri(3)]]) == [at[iri(2)]]
    assert list(snapshot.suppliers[at[iri(2)]]) == [at[iri(1)]]
    assert len(snapshot) == 3
    assert snapshot.types == ("DEPENDS_ON", "FEEDS")


def test_depth_and_path_through_both_directions() -> None:
    # 0 feeds 1 and 2; 3 depends on 1 and on 2: downstream of 0, 3 is two steps away and
    # its path goes through the parent of smaller id (n01)
    snapshot: Snapshot = build_snapshot(
        edges_of([(0, 1, "FEEDS"), (0, 2, "FEEDS"), (3, 2, "DEPENDS_ON"), (3, 1, "DEPENDS_ON")]),
        TYPES,
        REVERSED,
        "v",
    )
    reach = snapshot.reach(iri(0), 5, downstream=True)
    assert [(r.id, r.depth, r.path) for r in reach.items] == [
        ("n01", 1, ("n00", "n01")),
        ("n02", 1, ("n00", "n02")),
        ("n03", 2, ("n00", "n01", "n03")),
    ]
    upstream = snapshot.reach(iri(3), 5, downstream=False)
    assert [(r.id, r.depth) for r in upstream.items] == [("n01", 1), ("n02", 1), ("n00", 2)]
    assert snapshot.reach("urn:t:nowhere", 5, downstream=True) == Reach((), 0, False)


# what a snapshot may hold: 350 bytes a node (its IRI and id strings included) and 50 an
# edge, 500 MB for a million nodes and three million edges
NODE_BYTES, EDGE_BYTES = 350, 50


def test_a_snapshot_of_50k_nodes_and_150k_edges_stays_within_its_memory_budget() -> None:
    rng = random.Random(5)
    size = 50_000
    names = [f"svc-{n}" for n in range(size)]  # IRIs and ids as long as a real site's
    triples = [(rng.randrange(n), n) for n in range(1, size) for _ in range(3)]
    edges = Edges.of(
        sources=[SITE + names[a] for a, _b in triples],
        source_ids=[names[a] for a, _b in triples],
        targets=[SITE + names[b] for _a, b in triples],
        target_ids=[names[b] for _a, b in triples],
        types=["FEEDS"] * len(triples),
    )
    labels = frozenset({"Twin", "Asset", "ITService"})
    rows = [
        AssetRow(SITE + name, name, labels, "any", None, 10.0, "KiloW", 5.0, None, None)
        for name in names
    ]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        snapshot = build_snapshot(edges, TYPES, REVERSED, "v", rows)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # its strings were allocated with the rows: counted here
    held += sum(map(sys.getsizeof, snapshot.iris)) + sum(map(sys.getsizeof, snapshot.ids))
    count = len(snapshot.consumers.values)
    assert (len(snapshot), count) == (size, len(set(triples)))
    assert held <= NODE_BYTES * size + EDGE_BYTES * count
    assert snapshot.nbytes() == pytest.approx(held, rel=0.1)


@pytest.mark.parametrize("size", [0, 1, 2, 1_000])
def test_distinct_values_are_np_unique_s(size: int) -> None:
    values = np.random.default_rng(size).integers(0, max(size // 3, 1), size)
    assert np.array_equal(distinct(values), np.unique(values))
