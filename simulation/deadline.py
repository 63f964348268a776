"""When a computation must stop: :class:`Deadline`, checked by the simulation loops.

A what-if, an availability estimate or a single-points search can run for seconds on a big
graph; the server gives each request a deadline, and the loops call :meth:`Deadline.check`
now and then (every pass of trials, every few thousand nodes of a walk), which raises
:class:`DeadlineExceeded` once the time is up, so the work stops instead of running on for
a client that has been answered already. A deadline may also carry a ``pause``, called at
each check: the server uses it to let a long computation give way to its other work.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kgtwin.simulation.errors import DeadlineExceeded

Clock = Callable[[], float]


class Deadline:
    """A moment on ``clock`` (monotonic seconds) after which work must stop."""

    __slots__ = ("_clock", "_pause", "at", "seconds")

    def __init__(
        self,
        seconds: float,
        clock: Clock = time.monotonic,
        pause: Callable[[], None] | None = None,
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._pause = pause
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

    def with_pause(self, pause: Callable[[], None]) -> Deadline:
        """The same deadline, calling ``pause`` at each check."""
        paused = Deadline(self.seconds, self._clock, pause)
        paused.at = self.at
        return paused

    def check(self) -> None:
        """Raises :class:`DeadlineExceeded` when the time is up (after the pause, if any)."""
        if self._pause is not None:
            self._pause()
        if self._clock() >= self.at:
            raise DeadlineExceeded(
                f"the computation ran past its deadline ({self.seconds:g} s) and was stopped"
            )


NO_DEADLINE = Deadline.never()
