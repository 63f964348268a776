"""The read side's statement runner: observed statements, fast failure when Neo4j is away."""

from __future__ import annotations

import time

import pytest
from neo4j import Driver

from graph.connection import open_driver
from graph.errors import Neo4jUnavailable, QueryFailed
from graph.launcher import free_ports
from graph.reader import Reader


def test_rows_are_dicts_and_every_statement_is_observed(driver: Driver) -> None:
    seen: list[str] = []
    reader = Reader(driver, observer=seen.append)
    assert reader.rows("RETURN $x AS x, [1, 2] AS xs", "echoing", x=41) == [{"x": 41, "xs": [1, 2]}]
    assert reader.server_version().startswith("5.")
    assert seen == [
        "RETURN $x AS x, [1, 2] AS xs",
        "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS version, edition",
    ]


def test_an_unreachable_server_fails_at_once_not_after_retries() -> None:
    (port,) = free_ports(1)
    driver = open_driver(f"bolt://127.0.0.1:{port}", "neo4j", "secret")
    try:
        started = time.monotonic()
        with pytest.raises(Neo4jUnavailable, match="checking Neo4j: Neo4j is not reachable"):
            Reader(driver).server_version()
        # the driver's managed transactions would retry for 30 s; auto-commit does not
        assert time.monotonic() - started < 25
    finally:
        driver.close()


def test_a_refused_statement_is_query_failed(driver: Driver) -> None:
    with pytest.raises(QueryFailed, match=r"^reading nonsense: Neo4j answered Neo\.ClientError"):
        Reader(driver).rows("RETURN nonsense(", "reading nonsense")
