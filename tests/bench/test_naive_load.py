"""The naive loader's time for a whole model, from what it was measured taking."""

from __future__ import annotations

import pytest

from bench.load import NaiveLoad


def test_the_steady_rate_is_the_second_halfs() -> None:
    # slow while Neo4j compiles its code, then twice as fast
    naive = NaiveLoad.of([1.0, 1.0, 0.5, 0.5])
    assert naive.nodes == 4
    assert naive.seconds == pytest.approx(3.0)
    assert naive.steady_rate == pytest.approx(2.0)


def test_nodes_beyond_the_measured_ones_take_the_steady_rate() -> None:
    naive = NaiveLoad.of([1.0, 1.0, 0.5, 0.5])
    # the measured 3 s, then 6 more nodes at 2 nodes/s
    assert naive.seconds_for(10) == pytest.approx(6.0)
    assert naive.seconds_for(4) == pytest.approx(3.0)
    assert naive.seconds_for(2) == pytest.approx(1.5)


def test_an_odd_count_puts_the_middle_statement_in_the_second_half() -> None:
    naive = NaiveLoad.of([2.0, 1.0, 1.0])
    assert naive.steady_rate == pytest.approx(1.0)


def test_one_statement_is_not_a_measure() -> None:
    with pytest.raises(ValueError, match="at least two"):
        NaiveLoad.of([0.1])
