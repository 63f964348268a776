"""When a computation must stop: :class:`Deadline`, checked by the simulation loops.

A what-if, an availability estimate or a single-points search can run for seconds on a big
graph; the server gives each request a deadline, and the loops call :meth:`Deadline.check`
now and then (every pass of trials, every level of a walk), which raises
:class:`DeadlineExceeded` once the time is up, so the work stops instead of running on for
a client that has been answered already.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from simulation.errors import DeadlineExceeded

Clock = Callable[[], float]


class Deadline:
    """A moment on ``clock`` (monotonic seconds) after which work must stop."""

    __slots__ = ("_clock", "at", "seconds")

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self.at = clock() + seconds

    @classmethod
    def never(cls) -> Deadline:
        return cls(float("inf"))

    def remaining(self) -> float:
        """Seconds left, 0 when past."""
        return max(0.0, self.at - self._clock())

    @property
    def expired(self) -> bool:
        return self._clock() >= self.at

    def check(self) -> None:
        """Raises :class:`DeadlineExceeded` when the time is up."""
        if self._clock() >= self.at:
            raise DeadlineExceeded(
                f"the computation ran past its deadline ({self.seconds:g} s) and was stopped"
            )


NO_DEADLINE = Deadline.never()
