"""Reading history back: raw samples, aggregates per time step, and values as of a time.

Every read is one SQL statement for any number of points (the GraphQL dataloaders batch
them), sent over QuestDB's PostgreSQL wire protocol with bound parameters: a point's IRI
never becomes SQL text. What varies the SQL itself comes from closed sets (the aggregate's
function) or is parsed into numbers first (the step, ``15m``).

No statement combines a filter with ``ORDER BY ... LIMIT``: in QuestDB 9.2.2 that plan
(parallel top-K with a JIT-compiled filter) crashes the server when a bound parameter or a
symbol it does not hold is in the filter (questdb/questdb#6526, fixed after 9.2.2). Rows
come back in time order from the table scan, and are grouped by point here.

A step that is a whole number of minutes, over minute-aligned bounds, reads the one-minute
rollup (``kgtwin_history_1m``), which is smaller and kept longer than the raw rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, LiteralString

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.ingest.history.table import ROLLUP, TABLE

CONNECT_TIMEOUT = 5  # seconds to reach QuestDB
POOL_SIZE = 4  # connections a server keeps to QuestDB, at most


class HistoryUnavailable(Exception):
    """QuestDB cannot answer (not configured, away, refusing the credentials)."""


class Aggregate(Enum):
    AVERAGE = "average"
    MIN = "min"
    MAX = "max"
    FIRST = "first"
    LAST = "last"
    COUNT = "count"


# Per aggregate: over raw rows, and over the rollup's columns (an average of averages is
# weighted by their counts).
_RAW: dict[Aggregate, LiteralString] = {
    Aggregate.AVERAGE: "avg(value)",
    Aggregate.MIN: "min(value)",
    Aggregate.MAX: "max(value)",
    Aggregate.FIRST: "first(value)",
    Aggregate.LAST: "last(value)",
    Aggregate.COUNT: "count()",
}
_ROLLED: dict[Aggregate, LiteralString] = {
    Aggregate.AVERAGE: "sum(average * count) / sum(count)",
    Aggregate.MIN: "min(minimum)",
    Aggregate.MAX: "max(maximum)",
    Aggregate.FIRST: "first(first)",
    Aggregate.LAST: "last(last)",
    Aggregate.COUNT: "sum(count)",
}

_STEP = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNITS: dict[str, tuple[int, LiteralString]] = {
    "s": (1, "s"),
    "m": (60, "m"),
    "h": (3600, "h"),
    "d": (86400, "d"),
}


@dataclass(frozen=True, slots=True)
class Step:
    """A time step such as ``15m``: a count and a unit (s, m, h or d)."""

    count: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Step:
        match = _STEP.fullmatch(text.strip())
        if not match:
            raise ValueError(
                f"`every` {text[:40]!r} is not a time step: write a whole number and s, m, h "
                "or d, like 30s, 1m, 15m, 1h or 1d"
            )
        return cls(int(match[1]), match[2])

    @property
    def seconds(self) -> int:
        return self.count * _UNITS[self.unit][0]

    def sql(self) -> str:
        """The step as SAMPLE BY takes it, made of its parsed number and unit only."""
        return f"{int(self.count)}{_UNITS[self.unit][1]}"

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)``, raw rows (``every`` None) or one aggregate per step."""

    start: datetime
    end: datetime
    every: Step | None = None
    aggregate: Aggregate = Aggregate.AVERAGE

    def steps(self) -> int:
        """How many steps the window spans (calendar-aligned: partial ones count)."""
        assert self.every is not None
        seconds = self.every.seconds
        first = int(self.start.timestamp()) // seconds
        last = -(-int(self.end.timestamp()) // seconds)
        return max(1, last - first)

    @property
    def rolled_up(self) -> bool:
        """Whether the one-minute rollup answers it."""
        return (
            self.every is not None
            and self.every.seconds % 60 == 0
            and _minute(self.start)
            and _minute(self.end)
        )


@dataclass(frozen=True, slots=True)
class Sample:
    """A raw row (``text`` for strings, ``quality``, when it was ``received``), or an
    aggregate over a step starting at ``time`` (only ``value``)."""

    time: datetime
    value: float | None
    text: str | None = None
    quality: str | None = None
    received: datetime | None = None


class HistoryReader:
    """A pool of connections to QuestDB's PostgreSQL port, opened on first use.
    ``observer`` is called once per statement sent (tests count them)."""

    def __init__(self, db: QuestDB, observer: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.observer = observer
        self._pool = ConnectionPool(
            _conninfo(db),
            min_size=0,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            open=False,
            timeout=CONNECT_TIMEOUT,
            name="kgtwin-history",
        )
        self._opened = False

    def close(self) -> None:
        if self._opened:
            self._pool.close()

    def samples(self, points: Sequence[str], window: Window, limit: int) -> dict[str, list[Sample]]:
        """Per point of ``points`` (IRIs), its samples in ``window``, oldest first; at most
        ``limit`` + 1 per point come back (a caller seeing more than ``limit`` refuses)."""
        if not points:
            return {}
        marks = _placeholders(len(points))
        if window.every is None:
            query: LiteralString = (
                f"SELECT point, ts, value, text, quality, received FROM {TABLE} "
                f"WHERE point IN ({marks}) AND ts >= %s AND ts < %s LIMIT %s"
            )
            args: list[Any] = [*points, window.start, window.end, len(points) * limit + 1]
            rows = self._rows(query, args)
            found: dict[str, list[Sample]] = {point: [] for point in points}
            for point, *values in rows:
                found[point].append(_sample(*values))
            return found
        source, column = (
            (ROLLUP, _ROLLED[window.aggregate])
            if window.rolled_up
            else (TABLE, _RAW[window.aggregate])
        )
        query = (
            f"SELECT ts, point, {column} FROM {source} "
            f"WHERE point IN ({marks}) AND ts >= %s AND ts < %s "
            f"SAMPLE BY {window.every.sql()} ALIGN TO CALENDAR"
        )
        rows = self._rows(query, [*points, window.start, window.end])
        steps: dict[str, list[Sample]] = {point: [] for point in points}
        for ts, point, value in rows:
            steps[point].append(Sample(utc(ts), None if value is None else float(value)))
        for series in steps.values():
            series.sort(key=lambda sample: sample.time)
        return steps

    def values_at(self, points: Sequence[str], at: datetime) -> dict[str, Sample]:
        """Per point of ``points``, its last row at or before ``at`` (absent: none)."""
        if not points:
            return {}
        query: LiteralString = (
            f"SELECT point, ts, value, text, quality, received FROM {TABLE} "
            f"WHERE point IN ({_placeholders(len(points))}) AND ts <= %s "
            "LATEST ON ts PARTITION BY point"
        )
        rows = self._rows(query, [*points, at])
        return {point: _sample(*values) for point, *values in rows}

    def averages(self, points: Sequence[str], start: datetime, end: datetime) -> dict[str, float]:
        """Per point of ``points``, the average of its numeric samples in ``[start, end)``
        (absent: none)."""
        if not points:
            return {}
        query: LiteralString = (
            f"SELECT point, avg(value) FROM {TABLE} "
            f"WHERE point IN ({_placeholders(len(points))}) AND ts >= %s AND ts < %s"
        )
        rows = self._rows(query, [*points, start, end])
        return {point: float(value) for point, value in rows if value is not None}

    def _rows(self, query: LiteralString, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not self._opened:
            self._pool.open(wait=False)
            self._opened = True
        if self.observer is not None:
            self.observer(query)
        try:
            with self._pool.connection() as connection:
                return connection.execute(query, args).fetchall()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise HistoryUnavailable(
                f"the history store (QuestDB at {self.db.host}:{self.db.pg_port}) is not "
                f"answering: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
            ) from None


def _conninfo(db: QuestDB) -> str:
    return psycopg.conninfo.make_conninfo(
        host=db.host,
        port=db.pg_port,
        user=db.user,
        password=db.password or "",
        dbname="qdb",
        connect_timeout=CONNECT_TIMEOUT,
        application_name="kgtwin",
    )


def _placeholders(count: int) -> LiteralString:
    marks: LiteralString = "%s"
    for _ in range(count - 1):
        marks += ", %s"
    return marks


def _sample(
    ts: datetime, value: float | None, text: str | None, quality: str | None, received: Any
) -> Sample:
    return Sample(utc(ts), value, text, quality, None if received is None else utc(received))


def _minute(moment: datetime) -> bool:
    return moment.second == 0 and moment.microsecond == 0


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; one without an offset is taken as UTC (QuestDB's timestamps come
    back so)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
