"""The queued-bytes limit (issue 21: 4,000 messages of 100 KB took the worker from 1.1 to
1.7 GB): the network thread waits while it is spent, and stops waiting when told to."""

from __future__ import annotations

import threading

from kgtwin.ingest.budget import ByteBudget


def test_bytes_past_the_limit_wait_for_a_release() -> None:
    budget = ByteBudget(100)
    assert budget.acquire(60, lambda: False)
    taken = threading.Event()
    waiter = threading.Thread(target=lambda: budget.acquire(60, lambda: False) and taken.set())
    waiter.start()
    assert not taken.wait(0.3)  # 120 > 100: it waits
    budget.release(60)
    assert taken.wait(5)
    waiter.join(5)
    assert budget.used == 60


def test_one_message_alone_always_passes() -> None:
    budget = ByteBudget(100)
    assert budget.acquire(500, lambda: False)
    assert budget.used == 500


def test_a_wait_ends_when_told_to_give_up() -> None:
    budget = ByteBudget(100)
    budget.acquire(100, lambda: False)
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(budget.acquire(1, stop.is_set, 0.01)))
    waiter.start()
    stop.set()
    waiter.join(5)
    assert result == [False]
    assert budget.used == 100
