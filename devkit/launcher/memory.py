"""How much memory a local Neo4j gets: its heap, its page cache and its transactions.

Sizes are written the way ``neo4j.conf`` writes them (``512m``, ``4g``). A size not given
as a setting is sized from the machine (:func:`machine_sizes`): a quarter of its memory
each for the heap and the page cache, within bounds. Why these numbers, and what a
million-asset twin needs: the README's "Sizing for large models".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kgtwin.devkit.errors import LauncherError

KIB = 2**10
MIB = 2**20
GIB = 2**30

# A quarter of the machine each, in steps of 256 MiB, within these bounds: half of the
# memory stays for the operating system, its file cache and kgtwin's own processes.
SHARE = 4
STEP = 256 * MIB
HEAP_BOUNDS = (1 * GIB, 8 * GIB)
PAGECACHE_BOUNDS = (512 * MIB, 8 * GIB)
# What all running transactions together may hold, as a share of the heap: Neo4j's own
# default (dbms.memory.transaction.total.max), written out so that neo4j.conf and
# `kgtwin neo4j status` show the limit a large load runs into.
TRANSACTION_SHARE = 0.7

Origin = Literal["machine", "setting"]
ORIGINS: tuple[Origin, ...] = ("machine", "setting")

_SIZE = re.compile(r"([1-9][0-9]*)([kKmMgG]?)")
_UNITS = {"": 1, "k": KIB, "m": MIB, "g": GIB}
_MEMTOTAL = re.compile(r"^MemTotal:\s+([0-9]+) kB$", re.MULTILINE)
# cgroup v2, then v1: the memory limit of a container, when it has one
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


@dataclass(frozen=True, slots=True)
class Memory:
    """The memory of an instance, and where its heap and page cache sizes came from
    (``None``: not recorded, in a ``neo4j.conf`` written by an older kgtwin)."""

    heap: str
    pagecache: str
    transactions: str  # dbms.memory.transaction.total.max: all transactions together
    heap_origin: Origin | None
    pagecache_origin: Origin | None


def parse_size(text: str) -> int:
    """Bytes in a size such as ``512m`` or ``4g`` (k, m, g: KiB, MiB, GiB; none: bytes)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size like '512m' or '4g'")
    return int(match[1]) * _UNITS[match[2].lower()]


def format_size(size: int) -> str:
    """``size`` bytes in the largest unit that holds it exactly: ``4g``, ``5888m``."""
    for suffix, unit in (("g", GIB), ("m", MIB), ("k", KIB)):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def machine_sizes(memory: int) -> tuple[int, int]:
    """``(heap, page cache)`` in bytes for a machine with ``memory`` bytes: a quarter of
    it each, rounded down to 256 MiB, the heap within 1-8 GiB, the page cache within
    512 MiB-8 GiB."""
    quarter = memory // SHARE // STEP * STEP
    return _clamp(quarter, HEAP_BOUNDS), _clamp(quarter, PAGECACHE_BOUNDS)


def transaction_limit(heap: int) -> int:
    """``dbms.memory.transaction.total.max`` for ``heap`` bytes: 70% of it, in whole MiB."""
    return int(heap * TRANSACTION_SHARE) // MIB * MIB


def machine_memory() -> int:
    """The memory this machine (or its container's memory limit) allows, in bytes."""
    usable = [size for size in (_meminfo_total(), *map(_limit, _CGROUP_LIMITS)) if size]
    if not usable:
        raise LauncherError(
            "Cannot tell how much memory this machine has (no /proc/meminfo, no sysconf); "
            "give the heap and page cache sizes instead."
        )
    return min(usable)


def describe(size: int) -> str:
    """``size`` bytes for a person: ``23.6 GiB``."""
    return f"{size / GIB:.1f} GiB"


def _clamp(size: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    return max(low, min(size, high))


def _meminfo_total() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return _sysconf_total()
    match = _MEMTOTAL.search(text)
    return int(match[1]) * KIB if match else _sysconf_total()


def _sysconf_total() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _limit(path: Path) -> int | None:
    """A cgroup's memory limit; ``None`` if there is none ("max", or v1's huge number)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    if not text.isdigit() or int(text) >= 2**60:
        return None
    return int(text)
