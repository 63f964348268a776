"""``kgtwin history export`` against the real stores: the points of a class (or given by
id) from Neo4j, their history from QuestDB, one wide table in CSV or Parquet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from neo4j import Driver
from prometheus_client import CollectorRegistry

from kgtwin.graph.live import read_points
from kgtwin.graph.reader import Reader
from kgtwin.ingest.history.metrics import HistoryMetrics
from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.ingest.history.rows import HistoryRow
from kgtwin.ingest.history.table import TABLE, Retention
from kgtwin.ingest.history.writer import HistoryConfig, HistoryWriter
from kgtwin.server.cli import main
from tests.ingest.mqtt_clients import wait_until
from tests.questdb_service import QuestDBService

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
POWER = ("ups-a1.output-power", "ups-b1.output-power")


@pytest.fixture
def kept(
    dc1: Driver,
    questdb: QuestDBService,
    neo4j_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> QuestDB:
    """History of UPS A1's and B1's output power: A1 every 20 s, B1 every 30 s, for 4
    minutes (value: the second it was measured at); the CLI pointed at both stores."""
    db = QuestDB(questdb.url, questdb.user, questdb.password, questdb.pg_port)
    for key, value in {
        "QUESTDB_URL": questdb.url,
        "QUESTDB_USER": questdb.user,
        "QUESTDB_PASSWORD": questdb.password,
        "QUESTDB_PG_PORT": str(questdb.pg_port),
    }.items():
        monkeypatch.setenv(key, value)
    points = {p.id: p for p in read_points(Reader(dc1))}
    rows = [
        HistoryRow(
            round((T0 + timedelta(seconds=s)).timestamp() * 1e6),
            points[point].iri,
            point,
            None,
            None,
            "KiloW",
            "good",
            float(s),
            None,
            0,
        )
        for point, every in zip(POWER, (20, 30), strict=True)
        for s in range(0, 240, every)
    ]
    writer = HistoryWriter(
        HistoryConfig(db, tmp_path / "s.sqlite", 2**20, Retention()),
        HistoryMetrics(CollectorRegistry()),
    )
    writer.start()
    writer.spool.append(rows)
    assert writer.wait_sent(30)
    writer.stop()
    count = f"SELECT count() FROM {TABLE}"
    wait_until(lambda: db.execute(count)["dataset"][0][0] == len(rows), 30)
    return db


def window(minutes: int = 4) -> list[str]:
    end = T0 + timedelta(minutes=minutes)
    return ["--from", T0.isoformat(), "--to", end.isoformat()]


def test_raw_samples_of_given_points_joined_on_their_times_as_csv(
    kept: QuestDB, tmp_path: Path
) -> None:
    out = tmp_path / "power.csv"
    assert main(["history", "export", "--points", *POWER, *window(), "-o", str(out), "-q"]) == 0
    table = pd.read_csv(out, index_col="time")
    assert list(table.columns) == list(POWER)
    assert len(table) == 16  # 12 times of A1, 8 of B1, 4 shared (each whole minute)
    assert table["ups-a1.output-power"].count() == 12
    assert table["ups-b1.output-power"].count() == 8
    assert table.loc["2026-03-01T10:01:00.000000Z"].tolist() == [60.0, 60.0]


def test_a_class_one_row_a_minute_as_parquet(kept: QuestDB, tmp_path: Path) -> None:
    out = tmp_path / "ups.parquet"
    argv = ["history", "export", "--class", "UPS", *window(), "--every", "1m"]
    assert main([*argv, "--aggregate", "max", "-o", str(out), "-q"]) == 0
    table = pd.read_parquet(out)
    assert len(table) == 4
    assert table["ups-a1.output-power"].tolist() == [40.0, 100.0, 160.0, 220.0]
    assert table["ups-b1.output-power"].tolist() == [30.0, 90.0, 150.0, 210.0]
    assert {c.split(".")[0] for c in table.columns} >= {"ups-a1", "ups-b1", "ups-a2"}


def test_a_table_past_its_bound_is_refused_and_nothing_written(
    kept: QuestDB, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "power.csv"
    argv = ["history", "export", "--points", *POWER, *window(), "-o", str(out), "-q"]
    assert main([*argv, "--max-rows", "10"]) == 2
    assert "more than --max-rows (10)" in capsys.readouterr().err
    assert not out.exists()


def test_without_a_history_store_it_says_where_to_get_one(
    dc1: Driver,
    neo4j_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KGTWIN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUESTDB_URL", raising=False)
    argv = ["history", "export", "--points", POWER[0], *window(), "-o", str(tmp_path / "x.csv")]
    assert main(argv) == 2
    assert "kgtwin questdb start" in capsys.readouterr().err


def test_an_unknown_class_or_point_is_named(
    kept: QuestDB, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.csv")
    assert main(["history", "export", "--class", "Nope", *window(), "-o", out]) != 0
    assert "Nope" in capsys.readouterr().err
    assert main(["history", "export", "--points", "nope.power", *window(), "-o", out]) == 2
    assert "'nope.power'" in capsys.readouterr().err
