"""Isolating the values a write refuses (pure: the write is a function given here)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kgtwin.graph.errors import Neo4jUnavailable, ValueRefused
from kgtwin.graph.live import Applied, LiveValue
from kgtwin.ingest.writes import write_isolating


def values(count: int) -> list[LiveValue]:
    return [LiveValue(f"urn:{n}", float(n), 1, 1, "good") for n in range(count)]


class RefusingWrite:
    """Applies everything unless a value in ``poison`` is in the write; counts calls."""

    def __init__(self, poison: set[str]) -> None:
        self.poison = poison
        self.calls = 0

    def __call__(self, batch: Sequence[LiveValue]) -> Applied:
        self.calls += 1
        if any(v.iri in self.poison for v in batch):
            raise ValueRefused("refused")
        return Applied(tuple(v.iri for v in batch), ())


def test_a_clean_write_is_one_call() -> None:
    write = RefusingWrite(set())
    applied, refused = write_isolating(write, values(1000))
    assert len(applied.applied) == 1000
    assert (refused, write.calls) == ([], 1)


@pytest.mark.parametrize("poison", [{"urn:0"}, {"urn:999"}, {"urn:3", "urn:500", "urn:501"}])
def test_the_refused_values_are_split_out_and_the_rest_applied(poison: set[str]) -> None:
    write = RefusingWrite(poison)
    applied, refused = write_isolating(write, values(1000))
    assert {r.value.iri for r in refused} == poison
    assert set(applied.applied) == {f"urn:{n}" for n in range(1000)} - poison
    assert write.calls <= 1 + 2 * len(poison) * 10  # two writes per halving, 10 halvings


def test_other_failures_are_not_the_values_fault() -> None:
    def unavailable(_batch: Sequence[LiveValue]) -> Applied:
        raise Neo4jUnavailable("down")

    with pytest.raises(Neo4jUnavailable):
        write_isolating(unavailable, values(4))
