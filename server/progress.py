"""Progress of long commands (``kgtwin validate``, ``kgtwin load``), shown to a person.

:class:`ProgressDisplay` takes ``(phase, done, total)`` reports, as ``ontology.validate``
and ``graph.sync`` send them. On a terminal each phase is one line, redrawn as it goes
(at most ten times a second) with a bar, the counts and the time; elsewhere (a log, a
pipe, CI) a long phase prints a line when it starts, at each quarter and when it ends, a
short one when it ends, so the output stays readable as plain text. A phase reported
with a total of 0 has no count (reading a file, a commit): a terminal shows its time as
it goes and when it ends, plain output one line as it starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR = 24  # characters of the bar
REDRAW = 0.1  # seconds between two redraws of a terminal line
LONG = 1_000  # steps from which a plain phase also reports its quarters


class ProgressDisplay:
    """Reports of ``(phase, done, total)`` shown on ``stream`` (a terminal when ``tty``,
    else whether ``stream`` is one). Call :meth:`finish` when the work is over."""

    def __init__(
        self,
        stream: TextIO,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._clock = clock
        self._phase: str | None = None
        self._started = 0.0
        self._drawn = -REDRAW
        self._quarter = -1
        self._last = (0, 0)  # the phase's latest (done, total)
        self._open = False  # a terminal line not ended yet

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = self._clock()
        if phase != self._phase:
            self._end_line()
            self._phase, self._started, self._drawn, self._quarter = phase, now, -REDRAW, -1
        finished = total > 0 and done >= total
        self._last = (done, total)
        if self.tty:
            if finished or now - self._drawn >= REDRAW:
                self._drawn = now
                self._draw(self._line(phase, done, total, now))
                self._open = not finished
                if finished:
                    self.stream.write("\n")
        else:
            if total >= LONG:
                quarter = 4 if finished else 4 * done // total
            else:  # a short phase: its end only (a phase without a count: its start)
                quarter = 4 if finished or total <= 0 else -1
            if quarter > self._quarter:
                self._quarter = quarter
                self.stream.write(self._line(phase, done, total, now) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the line of a phase still drawn (a terminal)."""
        self._end_line()
        self._phase = None

    def _end_line(self) -> None:
        if self._open:
            if self._phase is not None:  # drawn last with the time it ended at
                self._draw(self._line(self._phase, *self._last, self._clock()))
            self.stream.write("\n")
            self.stream.flush()
            self._open = False

    def _draw(self, line: str) -> None:
        """``line`` over the terminal's current line (ESC [K clears what a longer one left)."""
        self.stream.write("\r" + line + "\x1b[K")

    def _line(self, phase: str, done: int, total: int, now: float) -> str:
        seconds = now - self._started
        if total <= 0:
            return f"  {phase:<24} {seconds:.1f} s" if self.tty else f"  {phase} ..."
        share = min(1.0, done / total)
        counts = f"{done:,}/{total:,}"
        if not self.tty:
            return f"  {phase}: {counts} ({share:.0%}, {seconds:.1f} s)"
        filled = round(share * BAR)
        bar = "#" * filled + "-" * (BAR - filled)
        return f"  {phase:<24} [{bar}] {share:>4.0%}  {counts}  {seconds:.1f} s"


def silent(_phase: str, _done: int, _total: int) -> None:
    """Reports that show nothing (``--quiet``, ``--json``)."""
    return None
