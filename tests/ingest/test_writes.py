"""Isolating the values a write refuses, and cutting a large write into slices written at
once (pure: the write is a function given here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from kgtwin.graph.errors import Neo4jUnavailable, ValueRefused
from kgtwin.graph.live import Applied, LiveValue
from kgtwin.ingest.writes import SLICES, write_isolating, write_sliced


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


class SlowWrite:
    """Applies everything and records each call's values. A call with a value in ``fail``
    fails at once; the others take ``seconds``, and with ``together`` set each waits until
    that many calls are running at once (10 s at most: then it raises)."""

    def __init__(
        self, seconds: float = 0.0, fail: frozenset[str] = frozenset(), together: int = 1
    ) -> None:
        self.seconds, self.fail = seconds, fail
        self.together = threading.Barrier(together)
        self.calls: list[list[str]] = []
        self.finished = 0
        self._lock = threading.Lock()

    def __call__(self, batch: Sequence[LiveValue]) -> Applied:
        with self._lock:
            self.calls.append([v.iri for v in batch])
        if any(v.iri in self.fail for v in batch):
            raise Neo4jUnavailable("down")
        self.together.wait(timeout=10)
        time.sleep(self.seconds)
        with self._lock:
            self.finished += 1
        return Applied(
            tuple(v.iri for v in batch),
            tuple(v.iri for v in batch if v.value % 2),  # the odd ones were stale
            tuple(v.iri for v in batch if v.value % 7 == 0),
        )


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(SLICES) as pool:
        yield pool


@pytest.mark.parametrize("count", [1, 999, 1999])
def test_a_write_of_fewer_than_two_slices_is_one_call(count: int, pool: ThreadPoolExecutor) -> None:
    write = SlowWrite()
    applied, refused = write_sliced(write, values(count), pool, parts=2, least=1000)
    assert write.calls == [[f"urn:{n}" for n in range(count)]]
    assert (len(applied.applied), refused) == (count, [])


@pytest.mark.parametrize(("count", "parts"), [(2000, 2), (2001, 2), (5000, 2), (7000, 3)])
def test_a_large_write_is_cut_into_slices_written_at_once_and_answered_in_order(
    count: int, parts: int
) -> None:
    write = SlowWrite(together=parts)  # one after the other, the first would wait in vain
    every = values(count)
    with ThreadPoolExecutor(parts) as pool:
        applied, refused = write_sliced(write, every, pool, parts=parts, least=1000)
    assert len(write.calls) == parts
    assert sorted(iri for call in write.calls for iri in call) == sorted(v.iri for v in every)
    assert max(map(len, write.calls)) - min(map(len, write.calls)) <= 1
    assert applied == write_isolating(SlowWrite(), every)[0]  # the same answer, in order
    assert refused == []


def test_a_value_refused_in_one_slice_is_split_out_of_that_slice_only(
    pool: ThreadPoolExecutor,
) -> None:
    write = RefusingWrite({"urn:1500"})
    applied, refused = write_sliced(write, values(2000), pool, parts=2, least=1000)
    assert [r.value.iri for r in refused] == ["urn:1500"]
    assert applied.applied == tuple(f"urn:{n}" for n in range(2000) if n != 1500)


def test_a_slice_that_fails_goes_up_once_every_slice_has_ended(
    pool: ThreadPoolExecutor,
) -> None:
    write = SlowWrite(seconds=0.5, fail=frozenset({"urn:0"}))
    with pytest.raises(Neo4jUnavailable):
        write_sliced(write, values(2000), pool, parts=2, least=1000)
    assert write.finished == 1  # the other slice committed before the failure went up
