"""Errors of the GraphQL API, and the one place that turns any error into a GraphQL error
with ``extensions.code``.

::

    ApiError                      raised by the API layer itself
    ├── BadUserInput              an argument that cannot be used (BAD_USER_INPUT)
    ├── Unauthenticated           no principal, and anonymous read is off (UNAUTHENTICATED)
    ├── Forbidden                 the principal's role is too low (FORBIDDEN)
    ├── RequestTooLarge           a document or its variables over their byte limit
    │                             (REQUEST_TOO_LARGE)
    ├── TooManyAliases            more aliased fields than max_aliases (ALIAS_LIMIT)
    ├── ListTooLong               a list argument longer than max_list_length (LIST_TOO_LONG)
    ├── IntrospectionDisabled     __schema/__type while introspection is off
    │                             (INTROSPECTION_DISABLED)
    ├── DepthLimitExceeded        the query nests deeper than allowed (DEPTH_LIMIT)
    ├── ComplexityLimitExceeded   the query would resolve too many fields (COMPLEXITY_LIMIT)
    ├── RateLimited               the client spent its budget; ``retryAfter`` (RATE_LIMITED)
    ├── Timeout                   the operation ran past request_timeout (DEADLINE_EXCEEDED)
    └── SnapshotNotReady          the what-if snapshot is not built yet (NOT_READY)

Errors from ``graph``, ``simulation`` and history's reads map by class (:data:`CODES`;
QuestDB away or not configured is HISTORY_UNAVAILABLE); a Neo4j read or a
simulation that runs past its deadline is DEADLINE_EXCEEDED too. Anything unexpected is
logged with its traceback and answered as ``INTERNAL`` with a reference to the log line,
never with the exception's text.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult, StreamExecutionResult

from kgtwin.graph.errors import (
    InvalidRead,
    Neo4jUnavailable,
    NotFound,
    ReadTimedOut,
    UnknownClass,
    UnknownRelationship,
)
from kgtwin.ingest.history.reads import HistoryUnavailable
from kgtwin.simulation.errors import DeadlineExceeded

logger = logging.getLogger(__name__)

DEADLINE_MESSAGE = (
    "the operation ran past the server's deadline (request_timeout) and was stopped: ask "
    "for less (smaller pages, fewer trials, targets or aliases) or try again later"
)
NEO4J_UNAVAILABLE_MESSAGE = (
    "the graph database (Neo4j) is not reachable right now; the server keeps trying, "
    "try again shortly"
)


class ApiError(Exception):
    """Base of the errors the API raises itself; ``details`` go into ``extensions``."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details: Mapping[str, Any] = details


class BadUserInput(ApiError):
    """An argument that cannot be used as given."""


class Unauthenticated(ApiError):
    """The request has no principal and anonymous read is switched off."""


class Forbidden(ApiError):
    """The principal's role does not allow the operation."""


class RequestTooLarge(ApiError):
    """A document or its variables are over their byte limit."""


class TooManyAliases(ApiError):
    """A document aliases more fields than ``max_aliases``."""


class ListTooLong(ApiError):
    """A list argument (or a list in a variable) is longer than ``max_list_length``."""


class IntrospectionDisabled(ApiError):
    """The document asks for ``__schema`` or ``__type`` and introspection is off."""


class RateLimited(ApiError):
    """The client has spent its budget for now; ``retry_after`` says for how long."""

    def __init__(self, message: str, *, retry_after: float, **details: Any) -> None:
        super().__init__(message, retryAfter=max(1, round(retry_after + 0.5)), **details)
        self.retry_after = max(1, round(retry_after + 0.5))


class Timeout(ApiError):
    """The operation ran past ``request_timeout`` and was stopped."""


class DepthLimitExceeded(ApiError):
    """The operation's selections nest deeper than ``max_query_depth``."""


class ComplexityLimitExceeded(ApiError):
    """The operation's estimated cost is above ``max_complexity``."""


class SnapshotNotReady(ApiError):
    """The dependency snapshot has not been built yet (start-up, or Neo4j away)."""


# error class -> code; the first class the error is an instance of wins (specific first)
CODES: tuple[tuple[type[Exception], str], ...] = (
    (NotFound, "NOT_FOUND"),
    (UnknownClass, "UNKNOWN_CLASS"),
    (UnknownRelationship, "UNKNOWN_RELATIONSHIP"),
    (InvalidRead, "BAD_USER_INPUT"),
    (BadUserInput, "BAD_USER_INPUT"),
    (Unauthenticated, "UNAUTHENTICATED"),
    (Forbidden, "FORBIDDEN"),
    (RequestTooLarge, "REQUEST_TOO_LARGE"),
    (TooManyAliases, "ALIAS_LIMIT"),
    (ListTooLong, "LIST_TOO_LONG"),
    (IntrospectionDisabled, "INTROSPECTION_DISABLED"),
    (DepthLimitExceeded, "DEPTH_LIMIT"),
    (ComplexityLimitExceeded, "COMPLEXITY_LIMIT"),
    (RateLimited, "RATE_LIMITED"),
    (Timeout, "DEADLINE_EXCEEDED"),
    (ReadTimedOut, "DEADLINE_EXCEEDED"),
    (DeadlineExceeded, "DEADLINE_EXCEEDED"),
    (SnapshotNotReady, "NOT_READY"),
    (Neo4jUnavailable, "NEO4J_UNAVAILABLE"),
    (HistoryUnavailable, "HISTORY_UNAVAILABLE"),
)
INTERNAL = "INTERNAL"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the client is told about an error."""

    code: str
    message: str
    details: Mapping[str, Any]
    expected: bool  # a known kind of failure (no traceback in the log)


def classify(error: GraphQLError) -> Verdict:
    """The code and message for ``error``; unexpected errors get a log reference only."""
    original = error.original_error
    if original is None or (isinstance(original, GraphQLError) and original is not error):
        # graphql-core's own: syntax, validation, variable coercion
        code = PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else VALIDATION_FAILED
        known = (error.extensions or {}).get("code")
        return Verdict(str(known or code), error.message, {}, expected=True)
    for error_class, code in CODES:
        if isinstance(original, error_class):
            if isinstance(original, Neo4jUnavailable):
                return Verdict(code, NEO4J_UNAVAILABLE_MESSAGE, {}, expected=True)
            if isinstance(original, ReadTimedOut | DeadlineExceeded):
                return Verdict(code, DEADLINE_MESSAGE, {}, expected=True)
            details = original.details if isinstance(original, ApiError) else {}
            return Verdict(code, str(original), details, expected=True)
    reference = uuid.uuid4().hex[:12]
    return Verdict(
        INTERNAL,
        f"internal server error (reference {reference}); it has been logged",
        {"reference": reference},
        expected=False,
    )


def log_errors(errors: list[GraphQLError]) -> None:
    """Log expected errors briefly (unexpected ones are logged, with their traceback and
    the reference the client gets, by :func:`format_error`)."""
    for error in errors:
        verdict = classify(error)
        if verdict.code == "NEO4J_UNAVAILABLE":
            logger.warning("%s", error.original_error)
        elif verdict.expected:
            logger.debug("%s: %s", verdict.code, error.message)


def format_error(error: GraphQLError) -> GraphQLError:
    """``error`` with ``extensions.code``; an unexpected one with its text masked."""
    verdict = classify(error)
    if not verdict.expected:
        logger.error(
            "internal error (reference %s) in %s: %s",
            verdict.details["reference"],
            ".".join(map(str, error.path or [])) or "the operation",
            error.message,
            exc_info=error.original_error,
        )
    return GraphQLError(
        verdict.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error if verdict.expected else None,
        extensions={
            **((error.extensions or {}) if verdict.expected else {}),
            **verdict.details,
            "code": verdict.code,
        },
    )


class ErrorCodes(SchemaExtension):
    """Gives every error of a result its ``extensions.code`` and masks unexpected ones.

    A streamed operation (a subscription, or any operation over WebSocket) has its results
    coded one by one, before each is sent; otherwise the result is coded when the operation
    ends. List it last among the schema's extensions: its hooks then finish first, so
    extensions listed before it (metrics) see the codes."""

    _streamed = False

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if self._streamed:  # already coded, result by result
            return
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            result.errors = [format_error(e) for e in result.errors]

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [format_error(e) for e in result.errors]
        yield
