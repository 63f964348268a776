"""Single points of failure and the ranking by targets taken down, against failing each
node alone in the brute-force oracle (tests/simulation/graphs.py) on thousands of random
graphs with every redundancy policy; then a 2N power train with readable ids."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kgtwin.simulation.spof import Ranked, rank_by_targets, single_points_of_failure, upstream
from tests.conftest import examples
from tests.simulation.graphs import SMALL_SITE, Graph, Oracle, at, graphs, named, names, node_id


@settings(max_examples=examples(2000), deadline=None, derandomize=True)
@given(graphs(), st.data())
def test_single_points_of_failure_equal_the_oracle(graph: Graph, data: st.DataObject) -> None:
    target = data.draw(st.integers(0, graph.size - 1))
    snapshot, oracle = graph.snapshot(), Oracle.of(graph)
    expected = (n for n in range(graph.size) if n != target and target in oracle.down({n}))
    assert single_points_of_failure(snapshot, target) == graph.by_id(expected)
    assert upstream(snapshot, {target}) == oracle.ancestors({target})


@settings(max_examples=examples(1000), deadline=None, derandomize=True)
@given(graphs(), st.data())
def test_ranking_equals_the_oracle(graph: Graph, data: st.DataObject) -> None:
    targets = data.draw(st.frozensets(st.integers(0, graph.size - 1), min_size=1))
    snapshot, oracle = graph.snapshot(), Oracle.of(graph)
    expected = []
    for n in range(graph.size):
        taken = (targets & oracle.down({n})) - {n}
        if taken:
            expected.append(Ranked(n, len(taken), graph.by_id(taken)))
    expected.sort(key=lambda r: (-r.count, node_id(r.node)))
    assert rank_by_targets(snapshot, targets) == tuple(expected)
    kept = tuple(Ranked(r.node, r.count, r.taken[:1]) for r in expected)
    assert rank_by_targets(snapshot, targets, keep=1) == kept


SITE = SMALL_SITE


def test_a_2n_rack_has_no_pdu_as_single_point_but_the_common_switchgear() -> None:
    (rack,) = at(SITE, "rack-1")
    assert names(SITE, single_points_of_failure(SITE, rack)) == ("swg",)


def test_a_rack_on_one_pdu_has_its_whole_train_as_single_points() -> None:
    (web,) = at(SITE, "web")
    assert names(SITE, single_points_of_failure(SITE, web)) == ("pdu-a", "rack-3", "swg", "ups-a")


def test_a_node_without_suppliers_has_no_single_point() -> None:
    (feed,) = at(SITE, "feed-1")
    assert single_points_of_failure(SITE, feed) == ()


def test_the_ranking_counts_the_targets_taken() -> None:
    racks = at(SITE, "rack-1", "rack-2", "rack-3")
    ranking = [(SITE.ids[r.node], names(SITE, r.taken)) for r in rank_by_targets(SITE, racks)]
    assert ranking == [
        ("swg", ("rack-1", "rack-2", "rack-3")),
        ("pdu-a", ("rack-3",)),
        ("ups-a", ("rack-3",)),
    ]


def test_a_target_counts_only_for_the_other_targets() -> None:
    ranking = rank_by_targets(SITE, at(SITE, "rack-3", "web"))
    assert [(SITE.ids[r.node], names(SITE, r.taken)) for r in ranking] == [
        ("pdu-a", ("rack-3", "web")),
        ("swg", ("rack-3", "web")),
        ("ups-a", ("rack-3", "web")),
        ("rack-3", ("web",)),
    ]


def test_more_candidates_than_one_pass_holds() -> None:
    # 5000 nodes in a chain: each fails the end, over two passes of 4096 scenarios
    chain = [(f"c{i:04d}", f"c{i + 1:04d}") for i in range(4999)]
    site = named(chain)
    (end,) = at(site, "c4999")
    assert single_points_of_failure(site, end) == tuple(
        at(site, *(f"c{i:04d}" for i in range(4999)))
    )
    ranking = rank_by_targets(site, at(site, "c4999", "c0000"))
    assert [(site.ids[r.node], names(site, r.taken)) for r in ranking[:2]] == [
        ("c0000", ("c4999",)),
        ("c0001", ("c4999",)),
    ]
    assert len(ranking) == 4999


def test_a_cycle_feeding_a_vote() -> None:
    # the two chillers cool each other's plant room (a cycle) and run off one feed; the
    # cooling needs 2 of 3 chillers: either chiller of the cycle takes the other with it
    site = named(
        [
            ("feed", "chiller-a"),
            ("chiller-a", "chiller-b"),
            ("chiller-b", "chiller-a"),
            ("chiller-a", "cooling"),
            ("chiller-b", "cooling"),
            ("chiller-c", "cooling"),
        ],
        {"cooling": ("k-of-n", 2)},
    )
    (cooling,) = at(site, "cooling")
    assert names(site, single_points_of_failure(site, cooling)) == (
        "chiller-a",
        "chiller-b",
        "feed",
    )
