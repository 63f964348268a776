"""Stall detection with an injected clock: messages pending and none finished for
``stall_after`` seconds is a stall; an idle worker never is."""

from __future__ import annotations

from kgtwin.ingest.health import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_worker_is_never_stalled() -> None:
    clock = Clock()
    progress = Progress(10.0, clock)
    clock.now += 3600
    health = progress.health(connected=True, failure=None)
    assert (health.ok, health.stalled, health.pending) == (True, False, 0)


def test_pending_messages_with_no_progress_are_a_stall_and_progress_ends_it() -> None:
    clock = Clock()
    progress = Progress(10.0, clock)
    clock.now += 100  # idle time does not count
    progress.received()
    progress.received()
    clock.now += 9
    assert progress.health(connected=True, failure=None).ok
    progress.problem("writing live values failed: Neo4j is not reachable")
    clock.now += 2
    stalled = progress.health(connected=True, failure=None)
    assert (stalled.ok, stalled.stalled, stalled.pending) == (False, True, 2)
    assert stalled.seconds_without_progress == 11
    assert stalled.problem == "writing live values failed: Neo4j is not reachable"
    assert stalled.as_json()["status"] == "stalled"
    progress.finished(1)
    healthy = progress.health(connected=True, failure=None)
    assert (healthy.ok, healthy.pending, healthy.problem) == (True, 1, None)


def test_dropped_messages_are_not_progress() -> None:
    clock = Clock()
    progress = Progress(10.0, clock)
    progress.received()
    progress.received()
    clock.now += 11
    progress.finished(1, progress=False)  # given back to the broker
    assert progress.health(connected=True, failure=None).stalled


def test_a_failed_worker_is_not_ok() -> None:
    health = Progress(10.0, Clock()).health(connected=False, failure="gave up: bug")
    assert (health.ok, health.failed, health.problem) == (False, True, "gave up: bug")
    assert health.as_json()["status"] == "failed"


def test_messages_given_back_to_the_broker_are_still_owed() -> None:
    """A worker that keeps giving its connection up (dead letters refused) drops what is
    pending each time and gets it again: the wait goes on from the first message."""
    clock = Clock()
    progress = Progress(10.0, clock)
    for _ in range(3):
        progress.received()
        clock.now += 5
        progress.finished(1, progress=False)
    health = progress.health(connected=True, failure=None)
    assert (health.pending, health.stalled, health.seconds_without_progress) == (0, True, 15)
    progress.received()
    progress.finished(1)
    assert progress.health(connected=True, failure=None).ok
