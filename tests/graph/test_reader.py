"""The read side's statement runner: observed statements, fast failure when Neo4j is away."""

from __future__ import annotations

import time

import pytest
from neo4j import Driver

from kgtwin.devkit.launcher import free_ports
from kgtwin.graph.connection import open_driver
from kgtwin.graph.errors import Neo4jUnavailable, QueryFailed, ReadTimedOut
from kgtwin.graph.reader import Reader


def test_rows_are_dicts_and_every_statement_is_observed(driver: Driver) -> None:
    seen: list[str] = []
    reader = Reader(driver, observer=seen.append)
    assert reader.rows("RETURN $x AS x, [1, 2] AS xs", "echoing", x=41) == [{"x": 41, "xs": [1, 2]}]
    assert reader.server_version().startswith("5.")
    assert seen == [
        "RETURN $x AS x, [1, 2] AS xs",
        "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS version, edition",
    ]


def test_plain_rows_are_the_same_dicts_and_keep_the_deadline_and_the_observer(
    driver: Driver,
) -> None:
    seen: list[str] = []
    reader = Reader(driver, observer=seen.append)
    query = "RETURN $x AS x, [1, 2.5, null, 'a'] AS xs, [[1], []] AS nested"
    assert reader.plain_rows(query, "echoing", x=41) == reader.rows(query, "echoing", x=41)
    assert seen == [query, query]
    with pytest.raises(ReadTimedOut, match="no time was left"):
        reader.with_timeout(lambda: 0.0).plain_rows("RETURN 1 AS one", "echoing")
    with pytest.raises(QueryFailed, match="reading nonsense"):
        reader.plain_rows("RETURN nonsense(", "reading nonsense")


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


SLOW: str = "UNWIND range(1, 200000000) AS x WITH x WHERE x % 7 = 0 RETURN count(x) AS n"


def test_a_statement_past_its_timeout_is_stopped_by_neo4j(driver: Driver) -> None:
    """Regression: API reads had no transaction timeout, so a costly read ran on in Neo4j
    long after its request was given up."""
    reader = Reader(driver).with_timeout(0.3)
    with pytest.raises(ReadTimedOut, match="transaction timeout"):
        reader.rows(SLOW, "counting")  # type: ignore[arg-type]
    # a function gives the seconds left when each statement is sent: none left, none sent
    seen: list[str] = []
    spent = Reader(driver, observer=seen.append).with_timeout(lambda: 0.0)
    with pytest.raises(ReadTimedOut, match="no time was left"):
        spent.rows("RETURN 1 AS one", "echoing")
    assert seen == []
    assert Reader(driver).with_timeout(lambda: 5.0).rows("RETURN 1 AS one", "echoing") == [
        {"one": 1}
    ]
