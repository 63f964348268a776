"""Prometheus metrics of the server: GraphQL requests and latency per operation, errors by
code, Neo4j round trips. One registry per app (no process-global state), served at
``/metrics`` in the Prometheus text format.

Operation names come from clients, so only those of requests with a valid token become
labels (at most :data:`MAX_OPERATIONS` of them); anonymous requests all count as
``anonymous``, so strangers cannot take the label slots that dashboards need."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from kgtwin.ingest.metrics import IngestMetrics

# Latency buckets for an interactive API, in seconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ANONYMOUS_OPERATION = "anonymous"
OTHER_OPERATION = "other"
MAX_OPERATIONS = 200
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class Metrics:
    """The server's metrics, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kgtwin_graphql_requests",
            "GraphQL operations executed, by operation name.",
            ["operation"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kgtwin_graphql_request_seconds",
            "Time to execute a GraphQL operation, by operation name.",
            ["operation"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "kgtwin_graphql_errors",
            "GraphQL errors returned, by extensions.code.",
            ["code"],
            registry=self.registry,
        )
        self.neo4j_round_trips = Counter(
            "kgtwin_neo4j_round_trips",
            "Cypher statements sent to Neo4j by the server.",
            registry=self.registry,
        )
        self.history_statements = Counter(
            "kgtwin_history_statements",
            "SQL statements sent to QuestDB by the server (history reads).",
            registry=self.registry,
        )
        self._operations: set[str] = set()

    def ingest(self) -> IngestMetrics:
        """The ingestion worker's metrics, in this registry (served on the same /metrics)."""
        return IngestMetrics(self.registry)

    def observe(
        self,
        operation: str | None,
        seconds: float | None,
        codes: list[str],
        authenticated: bool = True,
    ) -> None:
        """One operation; ``seconds`` None for one without a latency (a subscription or
        one refused before it ran); ``authenticated``: sent with a valid token."""
        name = self._label(operation) if authenticated else ANONYMOUS_OPERATION
        self.requests.labels(name).inc()
        if seconds is not None:
            self.latency.labels(name).observe(seconds)
        for code in codes:
            self.errors.labels(code).inc()

    def _label(self, operation: str | None) -> str:
        """Operation names come from clients: a label only for well-formed names and only
        for the first ``MAX_OPERATIONS`` of them, so a client cannot blow up the series."""
        if not operation:
            return ANONYMOUS_OPERATION
        if operation in self._operations:
            return operation
        if len(self._operations) >= MAX_OPERATIONS or not _NAME.fullmatch(operation):
            return OTHER_OPERATION
        self._operations.add(operation)
        return operation

    def refused(self, operation: str | None, authenticated: bool, errors: list[Any]) -> None:
        """An operation refused before its document was parsed (or stopped at its
        deadline)."""
        self.observe(operation, None, [_code(e) for e in errors], authenticated)

    def extension(self) -> Callable[..., SchemaExtension]:
        """A Strawberry extension class that records every operation into these metrics.

        A streamed operation (over WebSocket) has the errors of each result it sends
        counted as they go; a subscription's lifetime is not a latency, so it is counted
        as an operation without one."""
        metrics = self

        class _Observe(SchemaExtension):
            _streamed_codes: list[str] | None = None

            def on_operation(self) -> Iterator[None]:
                start = time.perf_counter()
                try:
                    yield
                finally:  # a subscription ends by being cancelled
                    self._record(time.perf_counter() - start)

            def _record(self, seconds: float) -> None:
                context = self.execution_context
                if self._streamed_codes is not None:
                    codes = self._streamed_codes
                else:
                    # the result's errors, coded; pre_execution_errors holds the same ones
                    # uncoded (Strawberry puts every error there), so it counts only when
                    # there is no result
                    result = context.result
                    errors = context.pre_execution_errors if result is None else result.errors
                    codes = [_code(e) for e in errors or []]
                latency = None if _is_subscription(context) else seconds
                request = context.context
                authenticated = isinstance(request, dict) and request.get("principal") is not None
                metrics.observe(context.operation_name, latency, codes, authenticated)

            def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
                if self._streamed_codes is None:
                    self._streamed_codes = []
                try:
                    yield
                finally:  # after the error-code extension has coded them
                    errors = getattr(result, "errors", None) or []
                    self._streamed_codes.extend(_code(e) for e in errors)

        return _Observe

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _is_subscription(context: ExecutionContext) -> bool:
    if context.graphql_document is None:
        return False
    try:
        return context.operation_type is OperationType.SUBSCRIPTION
    except RuntimeError:  # the operation cannot be told (no or an unknown operation name)
        return False


def _code(error: Any) -> str:
    extensions = getattr(error, "extensions", None) or {}
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return str(code) if code else "GRAPHQL_VALIDATION_FAILED"
