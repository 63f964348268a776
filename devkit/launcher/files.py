"""Small file helpers of the launcher: tolerant reads, atomic writes, log tails, file locks.

Every file the launcher writes (the pom, the install marker, ``neo4j.conf``, the pid file,
the password) is written atomically, so a reader never sees half of one; the installs of
the shared jars and the starts and stops of one instance are serialised by ``flock`` locks,
which also hold across processes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TAIL_LINES = 20  # how many lines of a tool's or a log's output an error message quotes


def read_text(path: Path) -> str | None:
    """The text of ``path``, or ``None`` if it does not exist."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def read_from(path: Path, offset: int) -> str:
    """The text of ``path`` from byte ``offset`` on; empty if it does not exist."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def tail_text(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def write_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` in one step, with permissions ``mode`` (umask aside)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)
    os.replace(tmp, path)


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the block."""
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
