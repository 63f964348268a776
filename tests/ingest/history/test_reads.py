"""Reading history back from a real QuestDB: raw rows, aggregates per step (from the raw
rows and from the one-minute rollup, which must agree), values as of a time, one statement
for many points, and an IRI that looks like SQL staying a value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from kgtwin.devkit.launcher import free_ports
from kgtwin.ingest.history.metrics import HistoryMetrics
from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.ingest.history.reads import (
    Aggregate,
    HistoryReader,
    HistoryUnavailable,
    Sample,
    Step,
    Window,
)
from kgtwin.ingest.history.rows import HistoryRow
from kgtwin.ingest.history.table import ROLLUP, TABLE, Retention
from kgtwin.ingest.history.writer import HistoryConfig, HistoryWriter
from tests.ingest.mqtt_clients import wait_until
from tests.questdb_service import QuestDBService

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SQLISH = "urn:x'); DROP TABLE kgtwin_history; --"
POINTS = ("urn:a", "urn:b", SQLISH)


def us(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def row(point: str, moment: datetime, value: float, text: str | None = None) -> HistoryRow:
    return HistoryRow(
        us(moment), point, point[-1], None, None, "KiloW", "good", value, text, us(RECEIVED)
    )


# (point, seconds after T0, value): a: every 20 s for 4 minutes; b: three values; the
# SQL-looking IRI: one
ROWS = (
    [("urn:a", 20 * i, float(i)) for i in range(12)]
    + [("urn:b", 5, 100.0), ("urn:b", 65, 200.0), ("urn:b", 125, 300.0)]
    + [(SQLISH, 30, 7.0)]
)


def db_of(service: QuestDBService) -> QuestDB:
    return QuestDB(service.url, service.user, service.password, service.pg_port)


@pytest.fixture
def history(questdb: QuestDBService, tmp_path: Path) -> Iterator[tuple[HistoryReader, list[str]]]:
    """The rows above in QuestDB, and a reader that records its statements."""
    db = db_of(questdb)
    writer = HistoryWriter(
        HistoryConfig(db, tmp_path / "s.sqlite", 2**20, Retention()),
        HistoryMetrics(CollectorRegistry()),
    )
    writer.start()
    writer.spool.append([row(p, T0 + timedelta(seconds=s), v) for p, s, v in ROWS])
    assert writer.wait_sent(30)
    writer.stop()
    wait_until(lambda: _count(db, TABLE) == len(ROWS) and _count(db, ROLLUP) >= 8, 30)
    statements: list[str] = []
    reader = HistoryReader(db, observer=statements.append)
    yield reader, statements
    reader.close()


def _count(db: QuestDB, table: str) -> int:
    try:
        return int(db.execute(f"SELECT count() FROM {table}")["dataset"][0][0])
    except Exception:
        return -1


def test_raw_rows_of_several_points_come_in_one_statement_oldest_first(
    history: tuple[HistoryReader, list[str]],
) -> None:
    reader, statements = history
    window = Window(T0, T0 + timedelta(seconds=65))  # the end is left out
    found = reader.samples(POINTS, window, limit=100)
    assert len(statements) == 1
    assert [s.value for s in found["urn:a"]] == [0.0, 1.0, 2.0, 3.0]
    assert found["urn:b"] == [Sample(T0 + timedelta(seconds=5), 100.0, None, "good", RECEIVED)]
    assert [s.value for s in found[SQLISH]] == [7.0]  # a value, not SQL
    assert _count(db_of_reader(reader), TABLE) == len(ROWS)


def db_of_reader(reader: HistoryReader) -> QuestDB:
    return reader.db


def test_a_point_over_the_limit_comes_back_with_one_row_more(
    history: tuple[HistoryReader, list[str]],
) -> None:
    reader, _ = history
    found = reader.samples(["urn:a", "urn:b"], Window(T0, T0 + timedelta(hours=1)), limit=3)
    assert len(found["urn:a"]) > 3


@pytest.mark.parametrize("aggregate", list(Aggregate))
def test_the_rollup_and_the_raw_rows_give_the_same_aggregates(
    history: tuple[HistoryReader, list[str]], aggregate: Aggregate
) -> None:
    reader, _ = history
    end = T0 + timedelta(minutes=4)
    rolled = Window(T0, end, Step.parse("2m"), aggregate)
    assert rolled.rolled_up
    raw = Window(T0 - timedelta(seconds=0.5), end, Step.parse("120s"), aggregate)
    assert not raw.rolled_up
    by_rollup = reader.samples(POINTS, rolled, limit=10)
    by_rows = reader.samples(POINTS, raw, limit=10)
    assert by_rollup == by_rows
    a = [s.value for s in by_rollup["urn:a"]]
    expected = {
        Aggregate.AVERAGE: [2.5, 8.5],
        Aggregate.MIN: [0.0, 6.0],
        Aggregate.MAX: [5.0, 11.0],
        Aggregate.FIRST: [0.0, 6.0],
        Aggregate.LAST: [5.0, 11.0],
        Aggregate.COUNT: [6.0, 6.0],
    }[aggregate]
    assert a == expected
    assert [s.time for s in by_rollup["urn:a"]] == [T0, T0 + timedelta(minutes=2)]


def test_the_value_as_of_a_time_is_the_last_at_or_before_it(
    history: tuple[HistoryReader, list[str]],
) -> None:
    reader, statements = history
    at = T0 + timedelta(seconds=65)
    found = reader.values_at([*POINTS, "urn:never"], at)
    assert len(statements) == 1
    assert found["urn:a"].value == 3.0  # reported at 60 s
    assert found["urn:b"] == Sample(at, 200.0, None, "good", RECEIVED)  # exactly at 65 s
    assert "urn:never" not in found
    assert reader.values_at(["urn:b"], T0) == {}  # before its first value


def test_a_questdb_out_of_reach_is_said_clearly(questdb: QuestDBService) -> None:
    (closed,) = free_ports(1)
    db = QuestDB(questdb.url, questdb.user, questdb.password, closed)
    reader = HistoryReader(db)
    try:
        with pytest.raises(
            HistoryUnavailable, match=f"QuestDB at 127.0.0.1:{closed}.*not answering"
        ):
            reader.values_at(["urn:a"], T0)
    finally:
        reader.close()


def test_a_step_is_a_whole_number_and_a_unit() -> None:
    assert Step.parse("15m").seconds == 900
    assert Step.parse(" 1d ").sql() == "1d"
    for bad in ("0m", "1.5m", "15", "1w", "1m; DROP TABLE x", "9999999s"):
        with pytest.raises(ValueError, match="is not a time step"):
            Step.parse(bad)


def test_a_window_counts_its_calendar_steps() -> None:
    assert Window(T0, T0 + timedelta(hours=1), Step.parse("15m")).steps() == 4
    assert (
        Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=31), Step.parse("15m")).steps()
        == 3
    )


def test_a_filtered_top_k_with_a_bound_parameter_does_not_take_questdb_down(
    history: tuple[HistoryReader, list[str]], questdb: QuestDBService
) -> None:
    """What an analyst may type in the console, and what crashed 9.2.2 (SIGSEGV) before its
    local and compose configurations turned that plan off (questdb/questdb#6526)."""
    conninfo = psycopg.conninfo.make_conninfo(
        host=questdb.pg_host,
        port=questdb.pg_port,
        user=questdb.user,
        password=questdb.password,
        dbname="qdb",
    )
    for point in ("urn:a", "urn:nowhere"):
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(
                f"SELECT point, ts, value FROM {TABLE} WHERE point IN (%s, %s) "
                "ORDER BY point, ts LIMIT 10",
                [point, "urn:b"],
            ).fetchall()
    reader, _ = history
    assert reader.values_at(["urn:a"], T0 + timedelta(hours=1))["urn:a"].value == 11.0


def test_the_average_over_a_window_per_point_in_one_statement(
    history: tuple[HistoryReader, list[str]],
) -> None:
    reader, statements = history
    found = reader.averages(["urn:a", "urn:b", "urn:none"], T0, T0 + timedelta(seconds=61))
    assert len(statements) == 1
    assert found == {"urn:a": 1.5, "urn:b": 100.0}  # a: 0, 1, 2, 3; b: 100 at 5 s
