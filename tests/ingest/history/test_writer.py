"""The history writer against a real QuestDB: the tables it creates, what it does with a
row QuestDB refuses, rows spooled while QuestDB was out of reach, and the rollup."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from kgtwin.devkit.launcher import free_ports
from kgtwin.ingest.history.metrics import HistoryMetrics
from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.ingest.history.rows import HistoryRow
from kgtwin.ingest.history.table import ROLLUP, TABLE, Retention
from kgtwin.ingest.history.writer import HistoryConfig, HistoryWriter
from tests.ingest.mqtt_clients import wait_until
from tests.questdb_service import QuestDBService

MINUTE_US = 60_000_000
T0 = 1_765_000_000 // 60 * 60 * 1_000_000  # a whole minute, in microseconds


def row(ts_us: int, value: float | None = 1.0, text: str | None = None) -> HistoryRow:
    return HistoryRow(ts_us, "urn:p", "p", "a", "UPS", "KiloW", "good", value, text, ts_us + 1_000)


def writer(
    db: QuestDB, spool: Path, retention: Retention | None = None
) -> tuple[HistoryWriter, CollectorRegistry]:
    registry = CollectorRegistry()
    config = HistoryConfig(db, spool, 2**30, retention or Retention())
    return HistoryWriter(config, HistoryMetrics(registry)), registry


def store(service: QuestDBService) -> QuestDB:
    return QuestDB(service.url, service.user, service.password, service.pg_port)


def count(db: QuestDB, where: str = "") -> int:
    return int(db.execute(f"SELECT count() FROM {TABLE} {where}")["dataset"][0][0])


def test_the_tables_have_dedup_ttl_and_a_rollup_and_a_new_retention_applies_at_start(
    questdb: QuestDBService, tmp_path: Path
) -> None:
    db = store(questdb)
    for raw, rollup in ((5, 90), (12, 100)):  # (QuestDB shows 7 days as 1 week)
        history, _ = writer(db, tmp_path / "s.sqlite", Retention(raw, rollup))
        history.start()
        history.spool.append([row(T0)])
        assert history.wait_sent(30)
        history.stop()
        tables = {
            name: (ttl, unit, dedup)
            for name, ttl, unit, dedup in db.execute(
                "SELECT table_name, ttlValue, ttlUnit, dedup FROM tables()"
            )["dataset"]
        }
        assert tables[TABLE] == (raw, "DAY", True)
        assert tables[ROLLUP][:2] == (rollup, "DAY")


def test_a_row_questdb_refuses_is_dropped_and_counted_and_the_rest_written(
    questdb: QuestDBService, tmp_path: Path
) -> None:
    db = store(questdb)
    db.execute(  # altered by hand: strings can no longer be stored
        f"CREATE TABLE {TABLE} (point SYMBOL, point_id SYMBOL, asset SYMBOL, class SYMBOL, "
        "unit SYMBOL, quality SYMBOL, value DOUBLE, text DOUBLE, received TIMESTAMP, "
        "ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, point)"
    )
    history, registry = writer(db, tmp_path / "s.sqlite")
    history.start()
    try:
        rows = [row(T0 + i) for i in range(10)]
        rows[4] = row(T0 + 4, value=None, text="tripped")
        history.spool.append(rows)
        assert history.wait_sent(30)
        wait_until(lambda: count(db) == 9, 30, lambda: f"{count(db)} rows")
        assert (
            registry.get_sample_value("kgtwin_history_rows_dropped_total", {"reason": "refused"})
            == 1
        )
        assert registry.get_sample_value("kgtwin_history_rows_written_total") == 9
    finally:
        history.stop()


def test_rows_spooled_while_questdb_was_out_of_reach_are_sent_by_the_next_start(
    questdb: QuestDBService, tmp_path: Path
) -> None:
    (closed,) = free_ports(1)
    away = QuestDB(f"http://127.0.0.1:{closed}", questdb.user, questdb.password)
    history, registry = writer(away, tmp_path / "s.sqlite")
    history.start()
    history.spool.append([row(T0 + i) for i in range(100)])
    failures = "kgtwin_history_write_failures_total"
    wait_until(lambda: (registry.get_sample_value(failures) or 0) > 0, 30)
    assert registry.get_sample_value("kgtwin_history_up") == 0
    history.stop()  # as a worker stopped (or killed) while QuestDB was away
    again, _ = writer(store(questdb), tmp_path / "s.sqlite")
    again.start()
    try:
        assert again.wait_sent(30)
        wait_until(lambda: count(store(questdb)) == 100, 30)
    finally:
        again.stop()


def test_the_rollup_holds_each_minutes_aggregates(questdb: QuestDBService, tmp_path: Path) -> None:
    db = store(questdb)
    history, _ = writer(db, tmp_path / "s.sqlite")
    history.start()
    try:
        values = {0: [1.0, 5.0, 3.0], 1: [10.0, 20.0]}
        history.spool.append(
            [
                row(T0 + minute * MINUTE_US + i * 1_000_000, value)
                for minute, vs in values.items()
                for i, value in enumerate(vs)
            ]
        )
        assert history.wait_sent(30)

        def minutes() -> list[list[Any]]:
            return db.execute(
                f"SELECT average, minimum, maximum, first, last, count FROM {ROLLUP} ORDER BY ts"
            )["dataset"]

        wait_until(lambda: len(minutes()) == 2, 30, lambda: str(minutes()))
        time.sleep(0.5)
        assert minutes() == [[3.0, 1.0, 5.0, 1.0, 3.0, 3], [15.0, 10.0, 20.0, 10.0, 20.0, 2]]
    finally:
        history.stop()
