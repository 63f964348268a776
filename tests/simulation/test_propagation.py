"""Failure propagation against the brute-force oracle (tests/simulation/graphs.py) on
thousands of random graphs with every redundancy policy, failed assets and cut
relationships; then small sites with readable ids, one per policy."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from kgtwin.simulation.propagation import Outcome, propagate
from kgtwin.simulation.snapshot import Snapshot
from tests.conftest import examples
from tests.simulation.graphs import Graph, Oracle, Pair, at, graphs, named, names


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Graph, frozenset[int], frozenset[Pair]]:
    graph = draw(graphs())
    failed = draw(st.frozensets(st.integers(0, graph.size - 1), max_size=4))
    pairs = graph.pairs()
    cut = draw(st.frozensets(st.sampled_from(pairs), max_size=4)) if pairs else frozenset()
    return graph, failed, cut


def check_paths(outcome: Outcome, oracle: Oracle, failed: frozenset[int]) -> None:
    for node in outcome.impacted:
        path, along_cut = outcome.path(node)
        assert path[-1] == node
        assert len(set(path[1:])) == len(path) - 1  # the root of a cut may fall later
        for supplier, consumer in pairwise(path):
            assert supplier in oracle.suppliers[consumer]
        assert all(n in outcome.down for n in path[1:])
        if along_cut:
            assert len(path) >= 2
            assert (path[0], path[1]) in outcome.cut
        else:
            assert path[0] in failed
    for node in failed:
        assert outcome.path(node) == ((node,), False)


@settings(max_examples=examples(2000), deadline=None, derandomize=True)
@given(scenarios())
def test_propagation_equals_the_oracle(
    scenario: tuple[Graph, frozenset[int], frozenset[Pair]],
) -> None:
    graph, failed, cut = scenario
    snapshot, oracle = graph.snapshot(), Oracle.of(graph)
    assert tuple(snapshot.required) == oracle.required
    assert tuple(map(frozenset, snapshot.suppliers)) == oracle.suppliers

    outcome = propagate(snapshot, failed, cut)
    down = oracle.down(failed, cut)
    assert outcome.down == down
    assert outcome.failed == graph.by_id(failed)
    assert outcome.cut == cut
    assert len(outcome.impacted) == len(set(outcome.impacted))
    assert set(outcome.impacted) == down - failed
    check_paths(outcome, oracle, failed)

    lost = {n: oracle.lost(n, down, cut) for n in range(graph.size)}
    assert outcome.degraded(snapshot) == graph.by_id(n for n in lost if lost[n] and n not in down)
    for n in range(graph.size):
        assert len(outcome.lost_suppliers(snapshot, n)) == len(lost[n])
        assert set(outcome.lost_suppliers(snapshot, n)) == lost[n]
        if n not in down:
            assert outcome.lost.get(n, 0) == len(lost[n])


@settings(max_examples=examples(1000), deadline=None, derandomize=True)
@given(scenarios(), st.data())
def test_within_the_ancestors_a_target_falls_as_in_the_whole_graph(
    scenario: tuple[Graph, frozenset[int], frozenset[Pair]], data: st.DataObject
) -> None:
    graph, failed, cut = scenario
    target = data.draw(st.integers(0, graph.size - 1))
    snapshot, oracle = graph.snapshot(), Oracle.of(graph)
    down = oracle.down(failed, cut)
    within = oracle.ancestors({target})

    inside = propagate(snapshot, failed, cut, within=within)
    assert inside.down & within == down & within
    assert inside.down - within <= failed  # nothing outside is walked
    stopped = propagate(snapshot, failed, cut, within=within, stop_at=target)
    assert (target in stopped.down) == (target in down)
    assert stopped.down <= down


# hand-built sites


def fail(snapshot: Snapshot, *nodes: str, cut: tuple[tuple[str, str], ...] = ()) -> Outcome:
    return propagate(snapshot, at(snapshot, *nodes), [at(snapshot, *pair) for pair in cut])


def down(snapshot: Snapshot, outcome: Outcome) -> set[str]:
    return set(names(snapshot, outcome.down))


def test_all_goes_down_with_any_supplier() -> None:
    site = named([("swg-a", "ups"), ("swg-b", "ups")], {"ups": ("all", None)})
    outcome = fail(site, "swg-a")
    assert down(site, outcome) == {"swg-a", "ups"}
    assert outcome.path(*at(site, "ups")) == (at(site, "swg-a", "ups"), False)
    assert outcome.degraded(site) == ()


def test_no_policy_reads_as_all() -> None:
    site = named([("swg-a", "ups"), ("swg-b", "ups")])
    assert down(site, fail(site, "swg-b")) == {"swg-b", "ups"}


def test_any_stays_up_degraded_until_every_supplier_is_lost() -> None:
    site = named([("pdu-a", "rack"), ("pdu-b", "rack")], {"rack": ("any", None)})
    one = fail(site, "pdu-a")
    assert down(site, one) == {"pdu-a"}
    assert names(site, one.degraded(site)) == ("rack",)
    assert names(site, one.lost_suppliers(site, *at(site, "rack"))) == ("pdu-a",)

    both = fail(site, "pdu-a", "pdu-b")
    assert down(site, both) == {"pdu-a", "pdu-b", "rack"}
    assert both.degraded(site) == ()
    path, along_cut = both.path(*at(site, "rack"))
    assert not along_cut
    assert names(site, path) in {("pdu-a", "rack"), ("pdu-b", "rack")}


def test_two_of_three() -> None:
    chillers = [("chiller-1", "cooling"), ("chiller-2", "cooling"), ("chiller-3", "cooling")]
    site = named(chillers, {"cooling": ("k-of-n", 2)})
    one = fail(site, "chiller-2")
    assert down(site, one) == {"chiller-2"}
    assert names(site, one.degraded(site)) == ("cooling",)
    two = fail(site, "chiller-1", "chiller-3")
    assert down(site, two) == {"chiller-1", "chiller-3", "cooling"}


def test_k_above_the_suppliers_needs_them_all() -> None:
    site = named([("a", "b"), ("c", "b")], {"b": ("k-of-n", 5)})
    assert site.required[at(site, "b")[0]] == 2
    assert down(site, fail(site, "c")) == {"b", "c"}


def test_a_cut_relationship() -> None:
    site = named(
        [("pdu-a", "rack"), ("pdu-b", "rack"), ("rack", "server")], {"rack": ("all", None)}
    )
    outcome = fail(site, cut=(("pdu-a", "rack"),))
    assert down(site, outcome) == {"rack", "server"}
    assert outcome.path(*at(site, "server")) == (at(site, "pdu-a", "rack", "server"), True)
    assert names(site, outcome.lost_suppliers(site, *at(site, "rack"))) == ("pdu-a",)
    assert outcome.degraded(site) == ()


def test_a_cut_under_any_degrades() -> None:
    site = named([("pdu-a", "rack"), ("pdu-b", "rack")], {"rack": ("any", None)})
    outcome = fail(site, cut=(("pdu-b", "rack"),))
    assert down(site, outcome) == set()
    assert names(site, outcome.degraded(site)) == ("rack",)


def test_a_cycle_falls_together() -> None:
    # the chillers cool each other's plant room; both need the feed
    site = named(
        [("feed", "chiller-a"), ("chiller-a", "chiller-b"), ("chiller-b", "chiller-a")],
        {"chiller-a": ("all", None)},
    )
    assert down(site, fail(site)) == set()  # a cycle holds itself up
    outcome = fail(site, "feed")
    assert down(site, outcome) == {"feed", "chiller-a", "chiller-b"}
    assert outcome.path(*at(site, "chiller-b")) == (
        at(site, "feed", "chiller-a", "chiller-b"),
        False,
    )


def test_a_cut_relationship_inside_a_cycle_is_its_own_explanation() -> None:
    # regression: the supplier of the cut went down too (through the cycle), and the
    # explanation followed causes round the cycle for ever
    site = named([("x", "s"), ("s", "x")])
    outcome = fail(site, cut=(("s", "x"),))
    assert down(site, outcome) == {"s", "x"}
    assert outcome.path(*at(site, "x")) == (at(site, "s", "x"), True)
    assert outcome.path(*at(site, "s")) == (at(site, "s", "x", "s"), True)


def test_a_chain_explains_itself_from_the_root() -> None:
    site = named(
        [("utility", "switchgear"), ("switchgear", "ups"), ("ups", "pdu"), ("pdu", "rack")],
        depends=[("service", "rack")],
    )
    outcome = fail(site, "utility")
    chain = ("utility", "switchgear", "ups", "pdu", "rack", "service")
    assert down(site, outcome) == set(chain)
    assert names(site, outcome.impacted) == chain[1:]
    path, along_cut = outcome.path(*at(site, "service"))
    assert names(site, path) == chain
    assert not along_cut


def test_stop_at_ends_the_walk_at_the_target() -> None:
    site = named([("utility", "switchgear"), ("switchgear", "ups"), ("ups", "pdu")])
    outcome = propagate(site, at(site, "utility"), stop_at=at(site, "switchgear")[0])
    assert down(site, outcome) == {"utility", "switchgear"}
