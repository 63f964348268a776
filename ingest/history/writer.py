"""The history writer: each accepted batch's rows into the spool, and the spool into
QuestDB on a thread of its own.

The worker calls :meth:`HistoryWriter.append` before it acknowledges a batch. The append
only writes to the local spool, so neither a slow nor an absent QuestDB holds up the live
state. The sender thread sends the oldest entry (rows as InfluxDB line protocol, encoded
by the ``questdb`` client's ``Buffer``, posted to QuestDB's ``/write``: one request, one
transaction), removes it once QuestDB answers 204, and retries with backoff while QuestDB
is away. A crash between QuestDB's answer and the removal sends the entry again, and the
table's deduplication on ``(ts, point)`` keeps one row.

A row QuestDB refuses as invalid (HTTP 400 naming its line) is dropped, logged and counted
(``refused``), and the rest of its entry sent: one bad row never blocks the spool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from questdb.ingress import Buffer, IngressError, TimestampMicros

from kgtwin.graph.live import PointRow
from kgtwin.graph.ontology_read import Terms
from kgtwin.ingest.batch import Message
from kgtwin.ingest.history.metrics import HistoryMetrics
from kgtwin.ingest.history.questdb import QuestDB, QuestDBError
from kgtwin.ingest.history.rows import HistoryRow, PointInfo, describe_points, rows_of
from kgtwin.ingest.history.spool import Spool, SpoolError
from kgtwin.ingest.history.table import TABLE, Retention, ensure_tables

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0  # seconds for one request to QuestDB
MAX_BACKOFF = 5.0  # seconds between attempts while QuestDB is away, at most
WARN_EVERY = 60.0  # seconds between two warnings of the same kind


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    db: QuestDB
    spool: Path  # the spool's file
    spool_max_bytes: int
    retention: Retention


class HistoryWriter:
    """Call :meth:`start`, then :meth:`stop`. Raises ``SpoolError`` when the spool cannot
    be opened (another worker holds it)."""

    def __init__(self, config: HistoryConfig, metrics: HistoryMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.spool = Spool(config.spool, config.spool_max_bytes)
        self.points: Mapping[str, PointInfo] = {}
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._warned: dict[str, float] = {}
        self._failing = False
        db = config.db
        self._http = httpx.Client(
            auth=(db.user, db.password) if db.password is not None else None,
            timeout=REQUEST_TIMEOUT,
        )
        self._thread = threading.Thread(target=self._run, name="kgtwin-history", daemon=True)
        metrics.spool_rows.set_function(lambda: self.spool.rows)
        metrics.spool_bytes.set_function(lambda: self.spool.bytes)
        metrics.spool_oldest.set_function(self.lag)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        logger.info(
            "history: writing to QuestDB at %s; rows wait in %s (at most %d bytes)%s",
            self.config.db.url,
            self.config.spool,
            self.config.spool_max_bytes,
            f", {self.spool.rows} there now" if self.spool.rows else "",
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sending (what is left stays in the spool for the next start)."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._http.close()
        self.spool.close()

    def wait_sent(self, timeout: float) -> bool:
        """Whether the spool empties within ``timeout`` seconds (for tests and tools)."""
        deadline = time.monotonic() + timeout
        while self.spool.entries and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.spool.entries

    def lag(self) -> float:
        """Seconds the oldest spooled row has waited (0 when the spool is empty)."""
        try:
            oldest = self.spool.oldest_spooled_at()
        except SpoolError:
            return 0.0
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    # ------------------------------------------------------------ worker's side

    def points_read(self, rows: Iterable[PointRow], terms: Terms) -> None:
        """The points as the worker read them: what a row says about its point."""
        self.points = describe_points(rows, terms)

    def append(self, messages: Iterable[Message]) -> None:
        """Spool the rows of ``messages`` (every accepted observation). Never raises and
        never waits for QuestDB: rows that cannot be kept are counted and logged."""
        rows = rows_of(messages, self.points)
        if not rows:
            return
        try:
            kept = self.spool.append(rows)
        except SpoolError as exc:
            self.metrics.dropped.labels("spool_error").inc(len(rows))
            self._warn("spool", "history: %d row(s) lost: %s", len(rows), exc)
            return
        if not kept:
            self.metrics.dropped.labels("spool_full").inc(len(rows))
            self._warn(
                "full",
                "history: the spool is full (%d bytes of %d, the oldest %.0f s old): %d "
                "row(s) dropped; QuestDB at %s is not taking rows",
                self.spool.bytes,
                self.config.spool_max_bytes,
                self.lag(),
                len(rows),
                self.config.db.url,
            )
            return
        self._wake.set()

    # ------------------------------------------------------------ sender thread

    def _run(self) -> None:
        delay = 0.1
        ready = False  # the tables are known to exist with their settings
        while not self._stopping.is_set():
            try:
                if not ready:
                    ensure_tables(self.config.db, self.config.retention)
                    ready = True
                entry = self.spool.oldest()
                if entry is None:
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
                self._send(entry.rows)
                self.spool.remove(entry.id)
            except (QuestDBError, SpoolError) as exc:
                self._failed(exc, delay)
                ready = False  # QuestDB may have restarted empty, or the tables be gone
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            except Exception as exc:  # a bug: logged, and the thread carries on
                logger.exception("history: unexpected error while sending")
                self._failed(exc, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            if self._failing:
                logger.info("history: QuestDB takes rows again (%d waiting)", self.spool.rows)
                self._failing = False
            self.metrics.up.set(1)
            delay = 0.1

    def _send(self, rows: Sequence[HistoryRow]) -> None:
        """Write ``rows`` in one request; a row QuestDB refuses is dropped and the rest
        sent again. Raises :class:`QuestDBError` when QuestDB is away or refuses all."""
        remaining = list(rows)
        while remaining:
            body, unencodable = _encode(remaining)
            for row, why in unencodable:
                self._refused(row, why)
                remaining.remove(row)
            if not remaining:
                return
            try:
                response = self._http.post(f"{self.config.db.url}/write", content=body)
            except httpx.HTTPError as exc:
                raise QuestDBError(
                    f"QuestDB at {self.config.db.url} did not answer: {exc}"
                ) from None
            if response.status_code in (200, 204):
                self.metrics.written.inc(len(remaining))
                return
            line = _refused_line(response) if response.status_code == 400 else None
            if line is None or not 1 <= line <= len(remaining):
                raise QuestDBError(
                    f"QuestDB at {self.config.db.url} refused {len(remaining)} history row(s): "
                    f"HTTP {response.status_code} {response.text[:300]!r}",
                    response.status_code,
                )
            refused = remaining.pop(line - 1)
            self._refused(refused, response.text[:300])

    def _refused(self, row: HistoryRow, why: str) -> None:
        self.metrics.dropped.labels("refused").inc()
        logger.error(
            "history: QuestDB refused the row of point %s at %d us (dropped): %s",
            row.point,
            row.ts_us,
            why,
        )

    def _failed(self, exc: Exception, delay: float) -> None:
        self.metrics.failures.inc()
        self.metrics.up.set(0)
        self._failing = True
        self._warn(
            "send",
            "history: cannot write to QuestDB (%s); %d row(s) wait in the spool, retrying in "
            "%.1f s",
            exc,
            self.spool.rows,
            delay,
        )

    def _warn(self, kind: str, message: str, *args: object) -> None:
        """Log a warning of ``kind`` at most every :data:`WARN_EVERY` seconds."""
        now = time.monotonic()
        if now - self._warned.get(kind, -WARN_EVERY) >= WARN_EVERY:
            self._warned[kind] = now
            logger.warning(message, *args)


def _encode(rows: Sequence[HistoryRow]) -> tuple[bytes, list[tuple[HistoryRow, str]]]:
    """``rows`` as line protocol, and those the client cannot encode, with why."""
    buffer = Buffer(protocol_version=1)
    unencodable = []
    for row in rows:
        try:
            _add(buffer, row)
        except IngressError as exc:
            unencodable.append((row, str(exc)))
    return bytes(buffer), unencodable


def _add(buffer: Buffer, row: HistoryRow) -> None:
    buffer.row(
        TABLE,
        symbols={
            "point": row.point,
            "point_id": row.point_id,
            "asset": row.asset,
            "class": row.asset_class,
            "unit": row.unit,
            "quality": row.quality,
        },
        columns={
            "value": row.value,
            "text": row.text,
            "received": TimestampMicros(row.received_us),
        },
        at=TimestampMicros(row.ts_us),
    )


def _refused_line(response: httpx.Response) -> int | None:
    """The line QuestDB names in a 400 answer (1-based), if it names one."""
    try:
        line = json.loads(response.text).get("line")
    except (ValueError, AttributeError):
        return None
    return line if isinstance(line, int) else None
