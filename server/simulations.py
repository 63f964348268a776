"""Where simulations run: :class:`Simulations`, threads that compute what-ifs, Monte Carlo
availability and single points of failure in the background of the server's other work.

At most ``threads`` simulations run at once; the others wait their turn (and one whose
request is cancelled while it waits never starts). A simulation holds Python's
interpreter for as long as it computes, so while any other operation of the server is in
flight, each simulation sleeps a millisecond at each look at its deadline (every pass of
trials, every few thousand nodes walked): the cheap requests keep their latency, and a
simulation slows down only while there is other work to do.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kgtwin.simulation.deadline import Deadline

T = TypeVar("T")
GIVE_WAY = 0.001  # seconds a simulation sleeps at a deadline check while others wait

Busy = Callable[[], int]  # operations in flight on the server


class Simulations:
    """``threads`` simulation threads; ``busy`` tells how many operations are in flight."""

    def __init__(self, threads: int = 2, busy: Busy | None = None) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kgtwin-simulation")
        self._busy = busy
        self._running = 0  # operations waiting on a simulation
        self._lock = threading.Lock()

    async def run(self, function: Callable[..., T], *args: object, deadline: Deadline) -> T:
        """``function(*args, deadline)`` on a simulation thread, with ``deadline`` giving
        way to the server's other operations."""
        polite = deadline.with_pause(self._give_way)
        with self._lock:
            self._running += 1
        try:
            return await asyncio.wrap_future(self._pool.submit(function, *args, polite))
        finally:
            with self._lock:
                self._running -= 1

    def _give_way(self) -> None:
        if self._busy is not None and self._busy() > self._running:
            time.sleep(GIVE_WAY)

    def shutdown(self) -> None:
        """Stop taking simulations; those waiting are dropped (running ones end at their
        deadline)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
