"""CPU accounting for benchmarks on a shared machine (Linux ``/proc``): CPU seconds of each
process and of this process's threads between two moments, and how busy the whole machine
was, so that other work on the machine shows up next to the numbers."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return 100


def process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of ``pid`` so far (Linux ``/proc``), else None."""
    return None if pid is None else process_cpu_path(Path(f"/proc/{pid}/stat"))


def process_cpu_path(stat: Path) -> float | None:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _clock_ticks()


def resident_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory in MiB (Linux ``/proc``): now (``VmRSS``), or its peak
    so far (``VmHWM``); NaN if it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


THREAD_LABELS = (
    ("paho-mqtt-client-", "paho thread"),
    ("kgtwin-ingest-writer", "writer thread"),
    ("kgtwin-ingest-finisher", "finisher thread"),
    ("MainThread", "bench thread"),
)


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads, by role (Linux ``/proc``)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for tid, name in names.items():
        seconds = process_cpu_path(Path(f"/proc/self/task/{tid}/stat"))
        if seconds is None:
            continue
        label = next((lab for prefix, lab in THREAD_LABELS if name.startswith(prefix)), "other")
        out[label] = out.get(label, 0.0) + seconds
    return out


def machine_busy() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, all cores."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / _clock_ticks(), sum(fields) / _clock_ticks()


@dataclass(slots=True)
class CpuMeter:
    """CPU seconds spent by each party between :meth:`start` and :meth:`stop`."""

    pids: dict[str, int | None]
    before: dict[str, float | None] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)
    machine: tuple[float, float] | None = None  # (busy, total) seconds
    threads: dict[str, float] = field(default_factory=dict)  # of the worker process
    wall: float = 0.0
    _started: float = 0.0
    _machine: tuple[float, float] | None = None
    _threads: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.before = {name: process_cpu(pid) for name, pid in self.pids.items()}
        self.before["this process"] = time.process_time()
        self._threads = thread_cpu()
        self._machine = machine_busy()
        self._started = time.perf_counter()

    def stop(self, publisher_cpu: float | None) -> None:
        self.wall = time.perf_counter() - self._started
        now = {name: process_cpu(pid) for name, pid in self.pids.items()}
        now["this process"] = time.process_time()
        for name, value in now.items():
            was = self.before.get(name)
            if value is not None and was is not None:
                self.spent[name] = value - was
        if publisher_cpu is not None:
            self.spent["publisher"] = publisher_cpu
        threads = thread_cpu()
        self.threads = {
            label: seconds - self._threads.get(label, 0.0) for label, seconds in threads.items()
        }
        machine = machine_busy()
        if machine is not None and self._machine is not None:
            self.machine = (machine[0] - self._machine[0], machine[1] - self._machine[1])

    def describe(self) -> str:
        parts = [f"{name} {seconds:.1f}" for name, seconds in self.spent.items()]
        text = f"CPU s over {self.wall:.1f} s wall: " + ", ".join(parts)
        if self.machine is not None:
            busy, total = self.machine
            others = busy - sum(self.spent.values())
            text += f"; machine busy {busy:.1f} of {total:.1f} (others ~{max(others, 0):.1f})"
        if self.threads:
            by_thread = ", ".join(f"{k} {v:.1f}" for k, v in sorted(self.threads.items()))
            text += f"\n  this process, CPU s by thread: {by_thread}"
        return text
