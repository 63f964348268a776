"""Progress of long commands: a redrawn line with a bar on a terminal, plain lines
elsewhere (a phase's start, its quarters when long, its end)."""

from __future__ import annotations

import io

from kgtwin.server.progress import ProgressDisplay


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_output_has_a_line_per_long_phase_start_quarter_and_end() -> None:
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(out, tty=False, clock=clock)
    show("reading", 0, 2)
    show("reading", 1, 2)
    clock.now = 0.5
    show("reading", 2, 2)
    for done in range(0, 4001, 100):
        show("writing nodes", done, 4000)
    show.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "  reading: 2/2 (100%, 0.5 s)"  # a short phase: its end
    assert [line.split(":")[1].split(" (")[0].strip() for line in lines[1:]] == [
        "0/4,000",
        "1,000/4,000",
        "2,000/4,000",
        "3,000/4,000",
        "4,000/4,000",
    ]


def test_a_terminal_gets_one_redrawn_line_per_phase() -> None:
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(out, tty=True, clock=clock)
    for done in range(101):
        clock.now = done * 0.01  # a report every 10 ms: redrawn every 100 ms
        show("checking shapes", done, 100)
    show("mapping", 0, 1)
    show.finish()
    text = out.getvalue()
    assert text.count("\n") == 2  # one line per phase
    assert 10 <= text.count("\r") <= 13
    assert "[########################] 100%  100/100" in text
    assert text.endswith("\n")


def test_a_phase_without_a_count_shows_its_time() -> None:
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(out, tty=True, clock=clock)
    show("committing", 0, 0)
    clock.now = 2.5
    show.finish()
    drawn = out.getvalue().split("\r")
    assert drawn[1].startswith("  committing")
    assert "0.0 s" in drawn[1]
    assert "2.5 s" in drawn[-1]
    assert drawn[-1].endswith("\n")
    plain = io.StringIO()
    show = ProgressDisplay(plain, tty=False, clock=clock)
    show("committing", 0, 0)
    show("committing", 0, 0)
    show.finish()
    assert plain.getvalue() == "  committing ...\n"
