"""Whether ingestion is making progress: :class:`Progress` counts the messages received and
those finished (acknowledged, or dropped for the broker to send again), and says how long
messages have waited with none finished. :class:`IngestHealth` is what the worker reports
(``IngestWorker.health()``): the server's ``/healthz`` and ``kgtwin ingest``'s metrics
port answer with it, and the metrics expose its numbers.

A pipeline is **stalled** when messages are pending, or were given back to the broker
(dropped, to be delivered again), and none has been finished for ``stall_after`` seconds:
Neo4j down, the broker refusing dead letters, a write that hangs. An idle worker (nothing
pending, nothing given back since its last progress) is never stalled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IngestHealth:
    """A snapshot of the worker's health; ``ok`` unless stalled or failed."""

    ok: bool
    connected: bool
    pending: int  # messages received and not finished
    seconds_without_progress: float  # while messages are pending; 0 otherwise
    stalled: bool
    failed: bool  # the worker gave up (the process should exit)
    problem: str | None  # the last problem not yet overcome

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else ("failed" if self.failed else "stalled"),
            "connected": self.connected,
            "pending": self.pending,
            "secondsWithoutProgress": round(self.seconds_without_progress, 1),
            "problem": self.problem,
        }


class Progress:
    """Counts received and finished messages; ``clock`` is ``time.monotonic`` (tests give
    their own). :meth:`received` is called by one thread (the MQTT network thread), the
    rest by any."""

    def __init__(self, stall_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after = stall_after
        self.clock = clock
        self._received = 0
        self._finished = 0
        self._owing = False  # messages were given back since the last progress
        self._waiting_since = clock()
        self._progress_at = self._waiting_since
        self._problem: str | None = None
        self._lock = threading.Lock()

    def received(self) -> None:
        if self._received == self._finished and not self._owing:  # the wait starts now
            self._waiting_since = self.clock()
        self._received += 1

    def finished(self, count: int, *, progress: bool = True) -> None:
        """``count`` messages finished: acknowledged (``progress``), or dropped for the
        broker to deliver again (not progress: they are still owed)."""
        if not count:
            return
        with self._lock:
            self._finished += count
            if progress:
                self._progress_at = self.clock()
                self._problem = None
                self._owing = False
            else:
                self._owing = True

    def problem(self, text: str) -> None:
        """What holds ingestion up now (cleared by the next progress)."""
        self._problem = text

    @property
    def pending(self) -> int:
        return self._received - self._finished

    def waiting(self) -> float:
        """Seconds pending (or owed) messages have gone without any finished (0 if none)."""
        if self.pending <= 0 and not self._owing:
            return 0.0
        return max(0.0, self.clock() - max(self._waiting_since, self._progress_at))

    def health(self, *, connected: bool, failure: str | None) -> IngestHealth:
        waiting = self.waiting()
        stalled = waiting > self.stall_after
        return IngestHealth(
            ok=not stalled and failure is None,
            connected=connected,
            pending=max(self.pending, 0),
            seconds_without_progress=waiting,
            stalled=stalled,
            failed=failure is not None,
            problem=failure or self._problem,
        )
