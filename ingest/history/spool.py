"""Rows QuestDB has not taken yet, on disk: a SQLite file per worker (client id).

The worker appends each batch's rows before it acknowledges the batch, and the sender
removes them once QuestDB has them, so what a crash, a QuestDB outage or a restart
interrupts is still here (or with the broker) afterwards. An entry holds up to
:data:`ENTRY_ROWS` rows as one JSON array: appends are one insert, sends one request.

Bounded: an append that would take the rows held past ``max_bytes`` is refused (the caller
counts those rows as dropped); the live state never waits for room. The file is opened in
SQLite's exclusive locking mode, so a second worker with the same client id cannot share
it, and with ``synchronous=FULL``: an append is on disk when it returns.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kgtwin.ingest.history.rows import HistoryRow

ENTRY_ROWS = 2_000  # rows per entry, at most (one request to QuestDB each)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, spooled_at REAL NOT NULL, "
    "rows INTEGER NOT NULL, data BLOB NOT NULL)"
)


class SpoolError(Exception):
    """The spool file cannot be opened or used (held by another worker, unreadable)."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    spooled_at: float  # epoch seconds
    rows: list[HistoryRow]


class Spool:
    """Thread-safe: the worker appends while the sender reads and removes."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
            self._db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, and keeps it
            self._db.execute("COMMIT")
            count, rows, size = self._db.execute(
                "SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(length(data)), 0) "
                "FROM entries"
            ).fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(_explain(path, exc)) from None
        self.entries, self.rows, self.bytes = int(count), int(rows), int(size)

    def append(self, rows: Sequence[HistoryRow]) -> bool:
        """Keep ``rows`` (on disk when this returns); False, keeping none, when they do not
        fit under ``max_bytes``. Raises :class:`SpoolError` when the file fails."""
        chunks = [
            json.dumps(rows[i : i + ENTRY_ROWS], separators=(",", ":")).encode()
            for i in range(0, len(rows), ENTRY_ROWS)
        ]
        size = sum(map(len, chunks))
        now = time.time()
        with self._lock:
            if self.bytes + size > self.max_bytes:
                return False
            try:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO entries (spooled_at, rows, data) VALUES (?, ?, ?)",
                    [
                        (now, min(ENTRY_ROWS, len(rows) - i * ENTRY_ROWS), chunk)
                        for i, chunk in enumerate(chunks)
                    ],
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(_explain(self.path, exc)) from None
            self.entries += len(chunks)
            self.rows += len(rows)
            self.bytes += size
        return True

    def oldest(self) -> Entry | None:
        """The entry spooled first, or None when the spool is empty."""
        with self._lock:
            try:
                found = self._db.execute(
                    "SELECT id, spooled_at, data FROM entries ORDER BY id LIMIT 1"
                ).fetchone()
            except sqlite3.Error as exc:
                raise SpoolError(_explain(self.path, exc)) from None
        if found is None:
            return None
        entry_id, spooled_at, data = found
        return Entry(entry_id, spooled_at, [HistoryRow(*row) for row in json.loads(data)])

    def oldest_spooled_at(self) -> float | None:
        """When the oldest entry was spooled (epoch seconds); None when empty."""
        with self._lock:
            try:
                found = self._db.execute("SELECT min(spooled_at) FROM entries").fetchone()
            except sqlite3.Error as exc:
                raise SpoolError(_explain(self.path, exc)) from None
        return None if found is None else found[0]

    def remove(self, entry_id: int) -> None:
        """Forget an entry QuestDB has taken."""
        with self._lock:
            try:
                found = self._db.execute(
                    "DELETE FROM entries WHERE id = ? RETURNING rows, length(data)", (entry_id,)
                ).fetchone()
            except sqlite3.Error as exc:
                raise SpoolError(_explain(self.path, exc)) from None
            if found is not None:
                self.entries -= 1
                self.rows -= found[0]
                self.bytes -= found[1]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # no transaction was open
            self._db.execute("ROLLBACK")


def _explain(path: Path, exc: Exception) -> str:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return (
            f"the history spool {path} is held by another process: each ingestion worker "
            "needs a client id (and so a spool) of its own"
        )
    return f"the history spool {path} cannot be used: {exc}"
