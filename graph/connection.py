"""Opening the Neo4j driver and converting the driver's exceptions into ``GraphError``s.

This is the one place that catches ``neo4j.exceptions``; everything else in ``graph`` runs
its driver calls inside :func:`neo4j_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import neo4j
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import (
    AuthError,
    DriverError,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from kgtwin.graph.errors import (
    CommitUnknown,
    GraphError,
    Neo4jUnavailable,
    QueryFailed,
    ReadTimedOut,
    ValueRefused,
)

_TIMED_OUT = "Neo.ClientError.Transaction.TransactionTimedOut"  # ...ClientConfiguration too

REFUSED_VALUE_CODES = frozenset(
    {
        "Neo.ClientError.Statement.TypeError",
        "Neo.ClientError.Statement.ArgumentError",
        "Neo.ClientError.Statement.ArithmeticError",
        "Neo.ClientError.Schema.ConstraintValidationFailed",
    }
)
"""Neo4j's answers that blame a value a statement was given rather than the statement
(a constraint a value breaks included: one an operator added by hand, say)."""

ENCODING_ERRORS = (OverflowError, UnicodeError, ValueError, TypeError)
"""What the driver raises for a parameter it cannot encode (an int past 64 bits, a string
with a lone surrogate, an unsupported type), before anything is sent."""


def open_driver(uri: str, user: str, password: str | None) -> Driver:
    """A driver for ``uri``; it connects lazily, so call :func:`ping` to check it answers."""
    auth = (user, password) if password is not None else None
    try:
        return GraphDatabase.driver(
            uri,
            auth=auth,
            connection_acquisition_timeout=15.0,
            notifications_min_severity="OFF",
        )
    except (ValueError, DriverError) as exc:
        raise GraphError(f"cannot use Neo4j URI {uri!r}: {exc}") from exc


@contextmanager
def neo4j_errors(action: str) -> Iterator[None]:
    """Run driver calls, turning the driver's exceptions into ``GraphError``s naming ``action``."""
    try:
        yield
    except IncompleteCommit as exc:
        raise CommitUnknown(
            f"{action}: the connection to Neo4j was lost while the commit was under way, so "
            f"whether it was saved is unknown ({exc})"
        ) from exc
    except AuthError as exc:
        raise GraphError(
            f"{action}: Neo4j refused the credentials ({exc.message}); "
            "check NEO4J_USER / NEO4J_PASSWORD"
        ) from exc
    except (ServiceUnavailable, SessionExpired) as exc:
        raise Neo4jUnavailable(f"{action}: Neo4j is not reachable ({exc})") from exc
    except Neo4jError as exc:
        if exc.code is not None and exc.code.startswith(_TIMED_OUT):
            raise ReadTimedOut(
                f"{action}: Neo4j stopped the statement at its transaction timeout"
            ) from exc
        message = f"{action}: Neo4j answered {exc.code}: {exc.message}"
        if exc.code in REFUSED_VALUE_CODES:
            raise ValueRefused(message) from exc
        error = QueryFailed(message)
        error.retryable = exc.is_retryable()
        raise error from exc
    except DriverError as exc:
        raise GraphError(f"{action}: {exc}") from exc


@contextmanager
def encoding_errors(action: str) -> Iterator[None]:
    """Run a driver call whose parameters may hold a value the driver cannot encode, turning
    that into ``ValueRefused``. Only around the call that sends them: the same Python
    exceptions raised by our own code elsewhere are bugs, not refused values."""
    try:
        yield
    except ENCODING_ERRORS as exc:
        raise ValueRefused(f"{action}: the Neo4j driver cannot send a value: {exc}") from exc


def ping(driver: Driver, database: str | None = None) -> str:
    """The server's version string; raises ``Neo4jUnavailable`` at once if it does not
    answer (one try: a command says so rather than retrying for half a minute)."""
    with (
        neo4j_errors("checking Neo4j"),
        driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session,
    ):
        record = session.run(
            "CALL dbms.components() YIELD name, versions, edition "
            "RETURN versions[0] AS version, edition"
        ).single(strict=True)
        return f"{record['version']} {record['edition']}"
