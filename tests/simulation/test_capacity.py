"""The capacity cascade: hand-built sites whose answers can be worked out on paper, and
random graphs against a plain re-implementation of the rounds (the oracle)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.dependencies import AssetRow, Edges
from simulation.capacity import Cascade, cascade
from simulation.propagation import propagate
from simulation.snapshot import Snapshot, build_snapshot

# ---------------------------------------------------------------------------- hand-built


def asset(
    name: str, capacity: float | None = None, unit: str | None = "KiloW", policy: str = "all"
) -> AssetRow:
    return AssetRow(
        f"urn:t:{name}", name, frozenset(), policy, None, capacity, unit, None, None, None
    )


def site(feeds: Iterable[tuple[str, str]], *assets: AssetRow) -> Snapshot:
    """The snapshot of ``assets`` where each (supplier, consumer) of ``feeds`` feeds."""
    pairs = list(feeds)
    edges = Edges(
        sources=[f"urn:t:{a}" for a, _b in pairs],
        source_ids=[a for a, _b in pairs],
        targets=[f"urn:t:{b}" for _a, b in pairs],
        target_ids=[b for _a, b in pairs],
        types=["FEEDS"] * len(pairs),
    )
    return build_snapshot(edges, ["FEEDS"], (), "v", assets)


def node(snapshot: Snapshot, name: str) -> int:
    return snapshot.index[f"urn:t:{name}"]


def run(
    snapshot: Snapshot,
    failed: Iterable[str],
    load: Mapping[str, float],
    cut: Iterable[tuple[str, str]] = (),
) -> Cascade:
    values: list[float | None] = [None] * len(snapshot)
    for name, value in load.items():
        values[node(snapshot, name)] = value
    return cascade(
        snapshot,
        [node(snapshot, name) for name in failed],
        [(node(snapshot, a), node(snapshot, b)) for a, b in cut],
        values,
    )


def names(snapshot: Snapshot, nodes: Iterable[int]) -> list[str]:
    return [snapshot.ids[n] for n in nodes]


def trips(snapshot: Snapshot, result: Cascade) -> list[tuple[str, int, float, float, list[str]]]:
    return [
        (snapshot.ids[t.node], t.round, t.load, t.capacity, names(snapshot, t.sources))
        for t in result.trips
    ]


def moves(snapshot: Snapshot, result: Cascade) -> list[tuple[str, str, float]]:
    return [(snapshot.ids[m.source], snapshot.ids[m.target], m.amount) for m in result.moved]


def by_name(snapshot: Snapshot, values: Mapping[int, float]) -> dict[str, float]:
    return {snapshot.ids[n]: value for n, value in values.items()}


def down(snapshot: Snapshot, result: Cascade) -> set[str]:
    return set(names(snapshot, result.outcome.down))


def test_the_only_peer_takes_all_the_load_and_the_consumer_stays_up_degraded() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 300),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 60, "ups-b": 60})
    assert moves(snapshot, result) == [("ups-a", "ups-b", 60)]
    assert by_name(snapshot, result.loads) == {"ups-b": 120}
    assert result.trips == ()
    assert result.shed == {}
    assert result.rounds == 1
    assert down(snapshot, result) == {"ups-a"}
    assert names(snapshot, result.outcome.degraded(snapshot)) == ["swb"]


def test_a_peer_loaded_exactly_to_its_capacity_does_not_trip() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 120),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 60, "ups-b": 60})
    assert by_name(snapshot, result.loads) == {"ups-b": 120}
    assert result.trips == ()


def test_both_surviving_peers_trip_together_and_take_the_consumer_down() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb"), ("ups-c", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("ups-c", 100),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 80, "ups-b": 80, "ups-c": 80})
    assert trips(snapshot, result) == [
        ("ups-b", 1, 120, 100, ["ups-a"]),
        ("ups-c", 1, 120, 100, ["ups-a"]),
    ]
    assert down(snapshot, result) == {"ups-a", "ups-b", "ups-c", "swb"}
    # the last round: the switchboard is down, so no one carries the UPSs' loads any more
    assert result.moved == ()
    assert result.loads == {}
    assert by_name(snapshot, result.shed) == {"ups-a": 80, "ups-b": 80, "ups-c": 80}
    assert result.rounds == 2


def test_the_first_trip_pushes_the_next_peer_over_in_a_second_round() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb"), ("ups-c", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("ups-c", 300),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 90, "ups-b": 90, "ups-c": 200})
    # round 1: a's 90 splits 1:3, b takes 22.5 (112.5 > 100), c 67.5 (267.5 <= 300);
    # round 2: a's and b's 90 each all go to c: 380 > 300
    assert trips(snapshot, result) == [
        ("ups-b", 1, 112.5, 100, ["ups-a"]),
        ("ups-c", 2, 380, 300, ["ups-a", "ups-b"]),
    ]
    assert result.rounds == 3
    assert "swb" in down(snapshot, result)


def test_trips_of_one_round_come_most_overloaded_first() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb"), ("ups-c", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("ups-c", 100),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 80, "ups-b": 70, "ups-c": 90})
    assert [(name, load) for name, _r, load, _c, _s in trips(snapshot, result)] == [
        ("ups-c", 130),
        ("ups-b", 110),
    ]


def test_the_load_splits_in_proportion_to_the_peers_capacities() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb"), ("ups-c", "swb")],
        asset("ups-a", 50),
        asset("ups-b", 100),
        asset("ups-c", 300),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 100, "ups-b": 10})  # c's load unknown: 0
    assert moves(snapshot, result) == [("ups-a", "ups-b", 25), ("ups-a", "ups-c", 75)]
    assert by_name(snapshot, result.loads) == {"ups-b": 35, "ups-c": 75}


def test_peers_in_another_unit_or_without_a_rating_take_nothing() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb"), ("pdu", "swb"), ("meter", "swb"), ("ups-c", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 100, unit="KiloVA"),
        asset("pdu", 100, unit="A"),
        asset("meter", None),
        asset("ups-c", 100),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 60})
    assert moves(snapshot, result) == [("ups-a", "ups-c", 60)]
    alone = run(snapshot, ["ups-a", "ups-c"], {"ups-a": 60, "ups-c": 10})
    assert alone.moved == ()
    assert by_name(snapshot, alone.shed) == {"ups-a": 60, "ups-c": 10}
    assert "swb" not in down(snapshot, alone)  # the others still feed it


def test_a_peer_whose_relationship_is_cut_takes_nothing() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb"), ("ups-c", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("ups-c", 100),
        asset("swb", policy="any"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 60}, cut=[("ups-b", "swb")])
    assert moves(snapshot, result) == [("ups-a", "ups-c", 60)]


def test_a_supplier_cut_off_from_all_its_consumers_moves_its_load() -> None:
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("swb", policy="any"),
    )
    result = run(snapshot, [], {"ups-a": 60, "ups-b": 60}, cut=[("ups-a", "swb")])
    assert trips(snapshot, result) == [("ups-b", 1, 120, 100, ["ups-a"])]
    assert down(snapshot, result) == {"ups-b", "swb"}  # a stays up, cut off


def test_a_supplier_cut_off_from_some_of_its_consumers_keeps_its_load() -> None:
    # how much of ups-a's load went to swb-1 is not known: it all stays with ups-a
    snapshot = site(
        [("ups-a", "swb-1"), ("ups-a", "swb-2"), ("ups-b", "swb-1")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("swb-1", policy="any"),
        asset("swb-2"),
    )
    result = run(snapshot, [], {"ups-a": 60, "ups-b": 60}, cut=[("ups-a", "swb-1")])
    assert result.moved == ()
    assert result.outcome.down == frozenset()


def test_the_load_of_an_asset_brought_down_by_its_supplier_moves_too() -> None:
    # utility -> transformer -> switchgear <- generator: the failed utility feed takes the
    # transformer down, whose load moves to the generator that shares the switchgear
    snapshot = site(
        [("utility", "transformer"), ("transformer", "switchgear"), ("generator", "switchgear")],
        asset("utility", 2000),
        asset("transformer", 1000),
        asset("generator", 800),
        asset("switchgear", policy="any"),
    )
    result = run(snapshot, ["utility"], {"utility": 500, "transformer": 500})
    assert moves(snapshot, result) == [("transformer", "generator", 500)]
    assert by_name(snapshot, result.loads) == {"generator": 500}
    assert by_name(snapshot, result.shed) == {"utility": 500}  # its transformer is down
    assert down(snapshot, result) == {"utility", "transformer"}

    too_small = run(snapshot, ["utility"], {"utility": 900, "transformer": 900})
    assert trips(snapshot, too_small) == [("generator", 1, 900, 800, ["transformer"])]
    assert down(snapshot, too_small) == {"utility", "transformer", "generator", "switchgear"}


def test_a_consumer_that_trips_takes_no_more_load_from_its_suppliers() -> None:
    # round 1: ups-a's 50 moves to ups-b through pdu-1, pdu-2's 80 to pdu-1 (80 > 50);
    # round 2: pdu-1 has tripped, so ups-a's load has no up consumer left to go through
    snapshot = site(
        [("ups-a", "pdu-1"), ("ups-b", "pdu-1"), ("pdu-1", "rack"), ("pdu-2", "rack")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("pdu-1", 50, policy="any"),
        asset("pdu-2", 50),
        asset("rack", policy="any"),
    )
    result = run(snapshot, ["ups-a", "pdu-2"], {"ups-a": 50, "pdu-2": 80, "pdu-1": 10})
    assert trips(snapshot, result) == [("pdu-1", 1, 90, 50, ["pdu-2"])]
    assert result.moved == ()
    assert result.loads == {}
    assert by_name(snapshot, result.shed) == {"ups-a": 50, "pdu-1": 10, "pdu-2": 80}
    assert down(snapshot, result) == {"ups-a", "pdu-1", "pdu-2", "rack"}


def test_a_node_over_its_rating_on_its_own_load_does_not_trip() -> None:
    # the baseline (ups-c already above its rating) is not the scenario's doing
    snapshot = site(
        [("ups-a", "swb"), ("ups-b", "swb"), ("ups-c", "pdu")],
        asset("ups-a", 100),
        asset("ups-b", 100),
        asset("ups-c", 100),
        asset("swb", policy="any"),
        asset("pdu"),
    )
    result = run(snapshot, ["ups-a"], {"ups-a": 10, "ups-b": 10, "ups-c": 150})
    assert result.trips == ()
    assert down(snapshot, result) == {"ups-a"}


def test_a_load_of_the_wrong_length_is_refused() -> None:
    snapshot = site([("ups-a", "swb")], asset("ups-a", 100), asset("swb"))
    with pytest.raises(ValueError, match="expected 2 values, found 1"):
        cascade(snapshot, [0], (), [1.0])


# ------------------------------------------------------------------- random, vs an oracle

# strategies built once (building them per draw costs more than the tests themselves)
SIZE = 12
# mostly redundant, rated and in one unit: that is where load moves and peers trip; few
# distinct ratings and loads, so that ties in load/capacity come up
TENS = tuple(float(x) for x in range(10, 101, 10))
NODE = st.tuples(
    st.sampled_from(("any", "any", "any", "k-of-n", "all")),  # policy
    st.none() | st.integers(0, 4),  # required suppliers
    st.sampled_from((None, None, 0.0, *TENS, *TENS)),  # rated capacity
    st.sampled_from(("KiloW",) * 6 + ("A", None)),  # capacity unit
    st.sampled_from((None, -5.0, 0.0, 5.0, 15.0, 25.0, *TENS)),  # load
)
NODES = st.lists(NODE, min_size=3, max_size=SIZE)
NODE_INDEX = st.integers(0, SIZE - 1)
FAILED = st.lists(NODE_INDEX, min_size=1, max_size=3)
CUT = st.lists(st.integers(0, 39), max_size=2)  # the cut relationships' places in PAIRS
HUBS = 3  # nodes 0..2 are switchboards fed by many (each needs any one): peers
HUB = st.tuples(NODE_INDEX, st.integers(0, HUBS - 1))
PAIRS = st.lists(st.tuples(NODE_INDEX, NODE_INDEX) | HUB, min_size=6, max_size=40)


@dataclasses.dataclass(frozen=True)
class Scenario:
    snapshot: Snapshot
    load: list[float | None]
    failed: list[int]
    cut: list[tuple[int, int]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    nodes = draw(NODES)
    n = len(nodes)
    pairs = [(a % n, b % n) for a, b in draw(PAIRS)]
    rows = [
        AssetRow(
            f"urn:t:{i}",
            f"n{i}",  # n10 < n2: rank differs from the index
            frozenset(),
            "any" if i < HUBS else policy,
            k,
            capacity,
            unit,
            None,
            None,
            None,
        )
        for i, (policy, k, capacity, unit, _load) in enumerate(nodes)
    ]
    edges = Edges(
        sources=[f"urn:t:{a}" for a, _b in pairs],
        source_ids=[f"n{a}" for a, _b in pairs],
        targets=[f"urn:t:{b}" for _a, b in pairs],
        target_ids=[f"n{b}" for _a, b in pairs],
        types=["FEEDS"] * len(pairs),
    )
    snapshot = build_snapshot(edges, ["FEEDS"], (), "v", rows)
    assert snapshot.iris == tuple(row.iri for row in rows)  # index i is node i
    failed = [i % n for i in draw(FAILED)]
    # relationships of the graph only: propagate counts any cut pair as a lost supplier
    cut = [pairs[i % len(pairs)] for i in draw(CUT)]
    return Scenario(snapshot, [node[-1] for node in nodes], failed, cut)


@dataclasses.dataclass
class Round:
    down: set[int]
    received: dict[int, float]  # peer -> load moved onto it
    sources: dict[int, set[int]]  # peer -> sources whose load moved onto it
    shed: dict[int, float]


def plain_down(snapshot: Snapshot, failed: set[int], cut: set[tuple[int, int]]) -> set[int]:
    """The greatest fixed point by brute force: mark down until nothing changes."""
    down = set(failed)
    changed = True
    while changed:
        changed = False
        for c in range(len(snapshot)):
            working = sum(1 for s in snapshot.suppliers[c] if s not in down and (s, c) not in cut)
            if c not in down and working < snapshot.required[c]:
                down.add(c)
                changed = True
    return down


def plain_round(
    snapshot: Snapshot, failed: set[int], cut: set[tuple[int, int]], load: Sequence[float | None]
) -> Round:
    down = plain_down(snapshot, failed, cut)
    result = Round(down, {}, {}, {})
    for s in range(len(snapshot)):
        consumers = snapshot.consumers[s]
        cut_off = bool(consumers) and all((s, c) in cut for c in consumers)
        amount = load[s]
        if not (s in down or cut_off) or amount is None or amount <= 0:
            continue
        peers = {
            p
            for c in consumers
            if c not in down
            for p in snapshot.suppliers[c]
            if p != s
            and p not in down
            and (p, c) not in cut
            and (snapshot.capacity[p] or 0) > 0
            and snapshot.capacity_unit[p] == snapshot.capacity_unit[s]
        }
        if not peers:
            result.shed[s] = amount
        total = sum(snapshot.capacity[p] or 0 for p in peers)
        for p in peers:
            share = amount * (snapshot.capacity[p] or 0) / total
            result.received[p] = result.received.get(p, 0.0) + share
            result.sources.setdefault(p, set()).add(s)
    return result


def own(load: Sequence[float | None], node: int) -> float:
    return load[node] or 0.0


def oracle(scenario: Scenario) -> tuple[list[dict[int, float]], Round]:
    """Each round's trips (node -> the load that tripped it), and the last round."""
    snapshot, load, cut = scenario.snapshot, scenario.load, set(scenario.cut)
    tripped: set[int] = set()
    rounds: list[dict[int, float]] = []
    while True:
        state = plain_round(snapshot, set(scenario.failed) | tripped, cut, load)
        carried = {p: own(load, p) + moved for p, moved in state.received.items()}
        new = {p: value for p, value in carried.items() if value > (snapshot.capacity[p] or 0)}
        if not new:
            return rounds, state
        rounds.append(new)
        tripped |= set(new)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(scenarios())
def test_the_cascade_agrees_with_a_plain_reimplementation(scenario: Scenario) -> None:
    snapshot, load = scenario.snapshot, scenario.load
    result = cascade(snapshot, scenario.failed, scenario.cut, load)
    expected_rounds, last = oracle(scenario)

    got_rounds = [
        {t.node: t.load for t in result.trips if t.round == r} for r in range(1, result.rounds + 1)
    ]
    assert got_rounds == [*map(pytest.approx, expected_rounds), {}]
    assert result.outcome.down == last.down
    assert result.loads == pytest.approx({p: own(load, p) + m for p, m in last.received.items()})
    assert result.shed == pytest.approx(last.shed)
    assert {(m.source, m.target) for m in result.moved} == {
        (s, p) for p, sources in last.sources.items() for s in sources
    }


@settings(max_examples=300, deadline=None, derandomize=True)
@given(scenarios())
def test_where_the_cascade_settles_and_that_it_settles_there_every_time(
    scenario: Scenario,
) -> None:
    snapshot, load = scenario.snapshot, scenario.load
    result = cascade(snapshot, scenario.failed, scenario.cut, load)
    again = cascade(snapshot, reversed(scenario.failed), list(reversed(scenario.cut)), load)
    assert again == result
    assert (list(again.loads), list(again.shed)) == (list(result.loads), list(result.shed))
    tripped = {t.node for t in result.trips}
    down = result.outcome.down

    # the final outcome is the propagation of the failed and the tripped assets
    assert result.outcome == propagate(snapshot, set(scenario.failed) | tripped, scenario.cut)
    assert tripped <= down
    assert len(tripped) == len(result.trips)
    for trip in result.trips:
        assert trip.capacity == snapshot.capacity[trip.node]
        assert trip.load > trip.capacity
        assert trip.sources
    # by round, then most overloaded first, then rank
    order = [(t.round, -t.load / t.capacity, snapshot.rank[t.node]) for t in result.trips]
    assert order == sorted(order)
    assert result.rounds == max((t.round for t in result.trips), default=0) + 1

    # recomputed from the final moves: every moved amount goes to an up rated peer of the
    # source's unit, the sources' loads are accounted for, and no up rated node is over
    # its capacity, but for one already over it on its own load that took nothing
    received: dict[int, float] = {}
    sent: dict[int, float] = {}
    for move in result.moved:
        assert move.target not in down
        assert snapshot.capacity_unit[move.target] == snapshot.capacity_unit[move.source]
        received[move.target] = received.get(move.target, 0.0) + move.amount
        sent[move.source] = sent.get(move.source, 0.0) + move.amount
    for source, amount in sent.items():
        assert amount == pytest.approx(load[source])
        assert source not in result.shed
    for node in range(len(snapshot)):
        rating = snapshot.capacity[node]
        if node in down or rating is None:
            continue
        carried = own(load, node) + received.get(node, 0.0)
        assert carried <= rating or (node not in received and own(load, node) > rating)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(scenarios())
def test_without_capacities_the_cascade_is_the_propagation(scenario: Scenario) -> None:
    unrated = dataclasses.replace(scenario.snapshot, capacity=(None,) * len(scenario.snapshot))
    result = cascade(unrated, scenario.failed, scenario.cut, scenario.load)
    assert result.outcome.down == propagate(unrated, scenario.failed, scenario.cut).down
    assert result.trips == ()
    assert result.moved == ()
    assert result.rounds == 1
