"""Simulations stop at their deadline: each loop looks at it now and then and raises
``DeadlineExceeded``, so a request that has been answered (cancelled) stops costing CPU."""

from __future__ import annotations

import pytest

from kgtwin.simulation.availability import monte_carlo, unavailability
from kgtwin.simulation.capacity import cascade
from kgtwin.simulation.deadline import NO_DEADLINE, Deadline
from kgtwin.simulation.errors import DeadlineExceeded
from kgtwin.simulation.propagation import CHECK_EVERY, propagate
from kgtwin.simulation.spof import rank_by_targets, single_points_of_failure
from tests.simulation.graphs import Graph


class Clock:
    """A clock the test moves: every call to ``now`` advances it by ``step`` seconds."""

    def __init__(self, step: float = 0.0) -> None:
        self.at = 0.0
        self.step = step

    def __call__(self) -> float:
        self.at += self.step
        return self.at


def chain(size: int) -> Graph:
    """0 feeds 1 feeds 2 ...: failing 0 takes every other node down, one at a time."""
    return Graph(
        size,
        tuple((n, n + 1, "FEEDS") for n in range(size - 1)),
        tuple(("all", None) for _ in range(size)),
    )


def test_a_deadline_tells_what_is_left_and_raises_once_past() -> None:
    clock = Clock()
    deadline = Deadline(2.0, clock)
    assert deadline.remaining() == 2.0
    assert not deadline.expired
    deadline.check()
    clock.at = 2.5
    assert deadline.remaining() == 0.0
    assert deadline.expired
    with pytest.raises(DeadlineExceeded, match=r"past its deadline \(2 s\)"):
        deadline.check()
    assert NO_DEADLINE.remaining() == float("inf")


def expired() -> Deadline:
    clock = Clock()
    deadline = Deadline(1.0, clock)
    clock.at = 5.0
    return deadline


def test_propagation_stops_at_its_deadline_on_a_long_walk() -> None:
    snapshot = chain(3 * CHECK_EVERY).snapshot()
    assert len(propagate(snapshot, [0]).impacted) == 3 * CHECK_EVERY - 1
    with pytest.raises(DeadlineExceeded):
        propagate(snapshot, [0], deadline=expired())
    # a walk shorter than CHECK_EVERY nodes never looks: it costs less than a look
    assert len(propagate(chain(10).snapshot(), [0], deadline=expired()).impacted) == 9


def test_the_batch_simulations_stop_at_their_deadline() -> None:
    snapshot = chain(200).snapshot()
    chances = [0.01] * len(snapshot)
    assert monte_carlo(snapshot, [199], chances, 100, 1)[0].trials == 100
    with pytest.raises(DeadlineExceeded):
        monte_carlo(snapshot, [199], chances, 100, 1, expired())
    assert len(single_points_of_failure(snapshot, 199)) == 199
    with pytest.raises(DeadlineExceeded):
        single_points_of_failure(snapshot, 199, expired())
    with pytest.raises(DeadlineExceeded):
        rank_by_targets(snapshot, [199], 5, expired())
    assert unavailability(snapshot) == tuple(0.0 for _ in range(200))


def test_a_capacity_cascade_stops_at_its_deadline() -> None:
    snapshot = chain(50).snapshot()
    loads = [1.0] * len(snapshot)
    assert cascade(snapshot, [0], (), loads).outcome.impacted
    with pytest.raises(DeadlineExceeded):
        cascade(snapshot, [0], (), loads, expired())
