"""The read side's one way to send Cypher: :class:`Reader`.

Every read query of ``graph`` goes through :meth:`Reader.rows`, which runs it in an
auto-commit read transaction, converts driver errors (:func:`graph.connection.neo4j_errors`)
and tells an optional observer about each statement sent, so metrics and tests can count
round trips without mocking Neo4j.

Auto-commit ``session.run`` rather than ``driver.execute_query``: the latter retries a
statement for up to 30 s while Neo4j is unreachable, and an API request should fail fast
with "Neo4j unavailable" instead of hanging. A reader with a ``timeout`` gives every
statement that transaction timeout: Neo4j stops a read that runs longer
(:class:`graph.errors.ReadTimedOut`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, LiteralString

import neo4j
from neo4j import Driver

from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.errors import ReadTimedOut

Row = dict[str, Any]
StatementObserver = Callable[[LiteralString], None]
Timeout = float | Callable[[], float] | None  # seconds, or a function giving those left

SERVER_VERSION: LiteralString = (
    "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS version, edition"
)


class Reader:
    """Runs read queries on ``driver`` (and ``database``); shared by all requests."""

    __slots__ = ("database", "driver", "observer", "timeout")

    def __init__(
        self,
        driver: Driver,
        database: str | None = None,
        observer: StatementObserver | None = None,
        timeout: Timeout = None,
    ) -> None:
        self.driver = driver
        self.database = database
        self.observer = observer
        # seconds each statement may run (None: Neo4j's default), or a function that
        # tells the seconds left when the statement is sent (a request's deadline)
        self.timeout = timeout

    def rows(self, query: LiteralString, action: str, **params: Any) -> list[Row]:
        """The rows ``query`` returns, as dicts; ``action`` names the read in errors."""
        return self._run(query, action, neo4j.Record.data, params)

    def plain_rows(self, query: LiteralString, action: str, **params: Any) -> list[Row]:
        """Like :meth:`rows`, for a query returning plain values only (lists, strings,
        numbers; no nodes or relationships): taken as the driver decoded them, without
        ``Record.data``'s look at every element (seconds for lists of a million)."""
        return self._run(query, action, _as_dict, params)

    def _run(
        self,
        query: LiteralString,
        action: str,
        convert: Callable[[neo4j.Record], Row],
        params: dict[str, Any],
    ) -> list[Row]:
        timeout = self.timeout() if callable(self.timeout) else self.timeout
        if timeout is not None and timeout <= 0:
            raise ReadTimedOut(f"{action}: no time was left before the deadline")
        if self.observer is not None:
            self.observer(query)
        with (
            neo4j_errors(action),
            self.driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS
            ) as session,
        ):
            seconds = None if timeout is None else max(timeout, 0.001)  # 0 would mean none
            return [
                convert(record)
                for record in session.run(neo4j.Query(query, timeout=seconds), params)
            ]

    def server_version(self) -> str:
        """``5.26.30 community``; raises ``Neo4jUnavailable`` at once if Neo4j does not answer."""
        (row,) = self.rows(SERVER_VERSION, "checking Neo4j")
        return f"{row['version']} {row['edition']}"

    def with_observer(self, observer: StatementObserver | None) -> Reader:
        return Reader(self.driver, self.database, observer, self.timeout)

    def with_timeout(self, timeout: Timeout) -> Reader:
        """This reader with statements limited to ``timeout``."""
        return Reader(self.driver, self.database, self.observer, timeout)


def _as_dict(record: neo4j.Record) -> Row:
    return dict(zip(record.keys(), record.values(), strict=True))
