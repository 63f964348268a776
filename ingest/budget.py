"""A bound on the bytes the ingestion worker holds: every message counts against it from
the moment it is received until it is acknowledged (or dropped, for the broker to send
again). When it is spent, the MQTT network thread waits before it takes the next
message, so the socket is not read and the broker keeps the rest: TCP's own backpressure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class ByteBudget:
    """At most ``limit`` bytes held at once; one message alone is always let through (it
    is at most the largest payload taken, which the settings keep below the limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._changed = threading.Condition()

    @property
    def used(self) -> int:
        return self._used

    def acquire(self, cost: int, give_up: Callable[[], bool], poll: float = 0.1) -> bool:
        """Take ``cost`` bytes, waiting while they would exceed the limit; False (nothing
        taken) as soon as ``give_up()`` says so, checked every ``poll`` seconds."""
        with self._changed:
            while self._used and self._used + cost > self.limit:
                if give_up():
                    return False
                self._changed.wait(poll)
            self._used += cost
            return True

    def release(self, cost: int) -> None:
        if not cost:
            return
        with self._changed:
            self._used -= cost
            self._changed.notify_all()
