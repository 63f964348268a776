"""The suite's QuestDB fixtures (tests/questdb_service.py): ``questdb`` starts every test
from an empty server, QuestDB's own tables kept; ``own_questdb`` is a server of the test's
own that stops and starts again on the same address."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from tests.questdb_service import OwnQuestDB, QuestDBService, clean_questdb, execute


def _client(service: QuestDBService) -> httpx.Client:
    return httpx.Client(base_url=service.url, auth=(service.user, service.password))


def test_questdb_empties_tables_and_materialized_views_but_keeps_questdbs_own(
    questdb: QuestDBService,
) -> None:
    with _client(questdb) as client:
        assert execute(client, "SELECT table_name FROM tables()")["dataset"] == []
        execute(
            client,
            "CREATE TABLE readings (ts TIMESTAMP, point SYMBOL, value DOUBLE) "
            "TIMESTAMP(ts) PARTITION BY DAY WAL",
        )
        execute(
            client,
            "CREATE MATERIALIZED VIEW readings_1m AS (SELECT ts, point, avg(value) AS value "
            "FROM readings SAMPLE BY 1m) PARTITION BY DAY",
        )
        execute(
            client,  # a view of a view: dropped with the table it is built on
            "CREATE MATERIALIZED VIEW readings_1h AS (SELECT ts, point, avg(value) AS value "
            "FROM readings_1m SAMPLE BY 1h) PARTITION BY DAY",
        )
        execute(client, "CREATE TABLE plain (x INT)")

        clean_questdb(questdb)

        assert execute(client, "SELECT table_name FROM tables()")["dataset"] == []
        assert execute(client, "SELECT view_name FROM materialized_views()")["dataset"] == []
        for own in ("telemetry_config", "_query_trace", "sys.text_import_log"):
            execute(client, f'SELECT count() FROM "{own}"')
        execute(client, "CREATE TABLE readings (ts TIMESTAMP, value DOUBLE) TIMESTAMP(ts)")


def test_the_service_names_its_postgres_address_and_credentials(
    questdb: QuestDBService,
) -> None:
    assert questdb.password not in repr(questdb)
    with psycopg.connect(
        host=questdb.pg_host,
        port=questdb.pg_port,
        user=questdb.user,
        password=questdb.password,
        dbname="qdb",
        connect_timeout=10,
    ) as db:
        assert db.execute("SELECT 1").fetchall() == [(1,)]


def test_own_questdb_stops_and_starts_again_on_the_same_address(
    own_questdb: OwnQuestDB, questdb_server: QuestDBService
) -> None:
    service = own_questdb.service
    assert service.url != questdb_server.url
    with _client(service) as client:
        assert execute(client, "SELECT 1")["dataset"] == [[1]]

    own_questdb.stop()
    with _client(service) as client, pytest.raises(httpx.ConnectError):
        client.get("/exec", params={"query": "SELECT 1"})

    assert own_questdb.start() == service
    with _client(service) as client:
        assert execute(client, "SELECT 1")["dataset"] == [[1]]
