"""Monte Carlo availability against the exact availability, found by weighing every
combination of failures in the brute-force oracle (tests/simulation/graphs.py); the
Wilson interval against published values; seeds, edge cases and refused input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgtwin.simulation.availability import Availability, _rare, monte_carlo, unavailability, wilson
from kgtwin.simulation.snapshot import Snapshot
from tests.conftest import examples
from tests.simulation.graphs import Graph, Oracle, PolicySpec, at, graphs, named


def chances(snapshot: Snapshot, given: dict[str, float]) -> list[float]:
    """A probability per node: the named ones, 0 for the rest."""
    probability = [0.0] * len(snapshot)
    for name, p in given.items():
        probability[at(snapshot, name)[0]] = p
    return probability


def exact(snapshot: Snapshot, target: int, probability: list[float]) -> float:
    """The exact availability, read from the snapshot's own edges and requirements."""
    oracle = Oracle(tuple(map(frozenset, snapshot.suppliers)), snapshot.required)
    return oracle.availability(target, {n: p for n, p in enumerate(probability) if p})


Case = tuple[list[tuple[str, str]], dict[str, PolicySpec], dict[str, float], str]

CASES: dict[str, Case] = {
    "2N rack": (
        [("pdu-a", "rack"), ("pdu-b", "rack")],
        {"rack": ("any", None)},
        {"pdu-a": 0.1, "pdu-b": 0.15, "rack": 0.02},
        "rack",
    ),
    "2 of 3 chillers": (
        [("chiller-1", "cooling"), ("chiller-2", "cooling"), ("chiller-3", "cooling")],
        {"cooling": ("k-of-n", 2)},
        {"chiller-1": 0.2, "chiller-2": 0.3, "chiller-3": 0.25, "cooling": 0.01},
        "cooling",
    ),
    "power train": (
        [
            ("feed-1", "swg"),
            ("feed-2", "swg"),
            ("swg", "ups-a"),
            ("swg", "ups-b"),
            ("ups-a", "pdu-a"),
            ("ups-b", "pdu-b"),
            ("pdu-a", "rack"),
            ("pdu-b", "rack"),
        ],
        {"swg": ("any", None), "rack": ("any", None)},
        {
            "feed-1": 0.3,
            "feed-2": 0.2,
            "swg": 0.05,
            "ups-a": 0.1,
            "ups-b": 0.1,
            "pdu-a": 0.05,
            "pdu-b": 0.08,
            "rack": 0.01,
        },
        "rack",
    ),
    "cycle": (
        [("feed", "chiller-a"), ("chiller-a", "chiller-b"), ("chiller-b", "chiller-a")],
        {"chiller-a": ("all", None)},
        {"feed": 0.1, "chiller-a": 0.2, "chiller-b": 0.15},
        "chiller-b",
    ),
    "rare failures": (  # drawn as the gaps between failures
        [("feed", "ups"), ("ups", "pdu-a"), ("ups", "pdu-b"), ("pdu-a", "rack"), ("pdu-b", "rack")],
        {"rack": ("any", None)},
        {"feed": 0.0015, "ups": 0.001, "pdu-a": 0.0012, "pdu-b": 0.0015, "rack": 0.0005},
        "rack",
    ),
    "shared upstream": (
        [("ups", "pdu-a"), ("ups", "pdu-b"), ("pdu-a", "rack"), ("pdu-b", "rack")],
        {"rack": ("any", None)},
        {"ups": 0.3, "pdu-a": 0.4, "pdu-b": 0.4},
        "rack",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_exact_availability_lies_in_the_interval(case: Case) -> None:
    # a 95% interval misses one time in twenty: over 20 seeds, 5 misses or more happen
    # 0.3% of the time (each seed's answer is fixed, so this passes or fails for good)
    feeds, policies, given_chances, target_name = case
    site = named(feeds, policies)
    (target,) = at(site, target_name)
    probability = chances(site, given_chances)
    truth = exact(site, target, probability)
    runs = [monte_carlo(site, [target], probability, 20_000, seed)[0] for seed in range(20)]
    assert sum(a.low <= truth <= a.high for a in runs) >= 16
    assert all(a.low < a.estimate < a.high for a in runs)


@settings(max_examples=examples(1000), deadline=None, derandomize=True)
@given(graphs(max_nodes=8, max_edges=20), st.data())
def test_the_estimate_is_near_the_exact_availability(graph: Graph, data: st.DataObject) -> None:
    # a band of 4.5 standard deviations: a deterministic test that a wrong estimate fails
    snapshot = graph.snapshot()
    probability = data.draw(
        st.lists(
            st.sampled_from((0.0, 0.002, 0.01, 0.2, 0.5, 1.0)),  # 0.002: drawn as gaps
            min_size=graph.size,
            max_size=graph.size,
        )
    )
    targets = data.draw(st.lists(st.integers(0, graph.size - 1), min_size=1, max_size=3))
    trials = 2_000
    got = monte_carlo(snapshot, targets, probability, trials, seed=7)
    assert [a.target for a in got] == targets
    for a in got:
        truth = Oracle.of(graph).availability(a.target, dict(enumerate(probability)))
        spread = math.sqrt(max(0.0, truth * (1 - truth)) / trials)  # the sum may pass 1 a bit
        assert abs(a.estimate - truth) <= 4.5 * spread + 1e-9
        assert a.trials == trials
        assert a.estimate == a.up / trials
        assert (a.low, a.high) == wilson(a.up, trials)


def test_rare_failures_are_drawn_as_exact_gaps() -> None:
    # too small a bias to see in availability; plain here: a certain failure fails every
    # trial, the last one too, a fair coin about half of them, a tiny chance none
    chance = np.array([1.0, 0.5, 1e-320])
    rows, trials = _rare(np.random.default_rng(5), np.array([7, 9, 11]), chance, 10_000)
    assert 11 not in rows
    assert sorted(trials[rows == 7].tolist()) == list(range(10_000))
    coin = trials[rows == 9].tolist()
    assert len(set(coin)) == len(coin)
    assert abs(len(coin) - 5_000) <= 4.5 * 50
    assert min(coin) >= 0
    assert max(coin) < 10_000


SITE = named([("pdu-a", "rack"), ("pdu-b", "rack"), ("rack", "server")], {"rack": ("any", None)})


def test_the_same_seed_gives_the_same_answer() -> None:
    probability = chances(SITE, {"pdu-a": 0.3, "pdu-b": 0.3, "server": 0.1})
    targets = at(SITE, "server", "rack")
    first = monte_carlo(SITE, targets, probability, 1_000, seed=11)
    assert monte_carlo(SITE, targets, probability, 1_000, seed=11) == first
    others = {monte_carlo(SITE, targets, probability, 1_000, seed=s) for s in (12, 13, 14)}
    assert first not in others
    assert len(others) > 1


def test_nothing_that_cannot_fail_is_always_up() -> None:
    (server,) = at(SITE, "server")
    (got,) = monte_carlo(SITE, [server], [0.0] * len(SITE), 500, seed=1)
    assert got == Availability(server, 500, 500, 1.0, wilson(500, 500)[0], 1.0)
    assert got.low < 1.0


def test_a_target_that_always_fails_is_never_up() -> None:
    (rack,) = at(SITE, "rack")
    (got,) = monte_carlo(SITE, [rack], chances(SITE, {"rack": 1.0}), 500, seed=1)
    assert (got.up, got.estimate, got.low) == (0, 0.0, 0.0)
    assert got.high > 0.0


def test_only_the_ancestors_are_drawn() -> None:
    # the server's chance of failing cannot change what happens to the rack
    (rack,) = at(SITE, "rack")
    probability = chances(SITE, {"pdu-a": 0.4, "pdu-b": 0.4})
    alone = monte_carlo(SITE, [rack], probability, 2_000, seed=3)
    probability[at(SITE, "server")[0]] = 0.9
    assert monte_carlo(SITE, [rack], probability, 2_000, seed=3) == alone


def test_the_wilson_interval_matches_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (score interval)
    for up, trials, low, high in [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ]:
        got = wilson(up, trials)
        assert got == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))
    assert wilson(20, 20) == (pytest.approx(1 - 0.1611, abs=5e-5), 1.0)


def test_unavailability_from_mtbf_and_mttr() -> None:
    site = named(
        [("a", "b"), ("c", "b"), ("d", "b")],
        reliability={"a": (99.0, 1.0), "c": (0.0, 4.0), "d": (1000.0, 0.0)},
    )
    assert unavailability(site) == tuple(
        {"a": 0.01, "b": 0.0, "c": 0.0, "d": 0.0}[node] for node in site.ids
    )


@pytest.mark.parametrize(
    ("trials", "probability", "message"),
    [
        (0, [0.0] * 4, "trials must be at least 1, not 0"),
        (10, [0.0] * 3, "4 assets, 3 probabilities"),
        (10, [0.0, 1.5, 0.0, 0.0], "of pdu-b must lie between 0 and 1, not 1.5"),
        (10, [0.0, 0.0, 0.0, -0.1], "of server must lie between 0 and 1, not -0.1"),
        (10, [math.nan, 0.0, 0.0, 0.0], "of pdu-a must lie between 0 and 1, not nan"),
    ],
)
def test_refused_input(trials: int, probability: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monte_carlo(SITE, [0], probability, trials, seed=1)
