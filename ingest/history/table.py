"""The history tables in QuestDB, created (or brought up to the settings) at start.

``kgtwin_history``: one row per value the worker accepted, ``ts`` its source time (the
designated timestamp), partitioned by day, write-ahead logged, and deduplicated on
``(ts, point)``: a message delivered again replaces its row instead of adding one.
``kgtwin_history_1m``: a materialized view of it, one row per point and minute (average,
minimum, maximum, first, last, count), which QuestDB refreshes as rows arrive and keeps
longer. Both have a TTL: QuestDB drops a partition once it is older than that, counted
from the newest row of the table (not from the wall clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kgtwin.ingest.history.questdb import QuestDB

TABLE: Final = "kgtwin_history"
ROLLUP: Final = "kgtwin_history_1m"

# The columns a row carries, in this order (ingest.history.rows.HistoryRow).
SYMBOLS: Final = ("point", "point_id", "asset", "class", "unit", "quality")

_CREATE_TABLE: Final = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
  point SYMBOL, point_id SYMBOL, asset SYMBOL, class SYMBOL, unit SYMBOL, quality SYMBOL,
  value DOUBLE, text VARCHAR, received TIMESTAMP, ts TIMESTAMP
) TIMESTAMP(ts) PARTITION BY DAY TTL {{days}} DAYS WAL DEDUP UPSERT KEYS(ts, point)
"""
_CREATE_ROLLUP: Final = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {ROLLUP} AS (
  SELECT ts, point, avg(value) AS average, min(value) AS minimum, max(value) AS maximum,
         first(value) AS first, last(value) AS last, count() AS count
  FROM {TABLE} SAMPLE BY 1m
) PARTITION BY DAY TTL {{days}} DAYS
"""


@dataclass(frozen=True, slots=True)
class Retention:
    """Days raw rows are kept, and days the one-minute rollup is kept (no fewer)."""

    raw_days: int = 30
    rollup_days: int = 365

    def __post_init__(self) -> None:
        if self.raw_days < 1 or self.rollup_days < 1:
            raise ValueError("history retention is at least 1 day")
        if self.rollup_days < self.raw_days:
            raise ValueError(
                f"the one-minute rollup is kept at least as long as raw rows: "
                f"rollup_retention_days ({self.rollup_days}) < retention_days ({self.raw_days})"
            )


def ensure_tables(db: QuestDB, retention: Retention) -> None:
    """Create the table and its rollup if missing, and set both TTLs to ``retention``
    (a retention changed in the settings applies at the next start)."""
    db.execute(_CREATE_TABLE.format(days=retention.raw_days))
    db.execute(f"ALTER TABLE {TABLE} SET TTL {retention.raw_days} DAYS")
    db.execute(_CREATE_ROLLUP.format(days=retention.rollup_days))
    db.execute(f"ALTER MATERIALIZED VIEW {ROLLUP} SET TTL {retention.rollup_days} DAYS")
