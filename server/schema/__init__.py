"""The GraphQL schema: topology, live state and the ontology of the twin.

Modules: ``query`` and ``mutation`` (root fields), ``subscription`` (live values and
staleness), ``whatif`` (failure propagation and capacity cascades, with
``whatif_inputs``), ``reliability`` (single points of failure, Monte Carlo
availability), ``scenarios`` (saved what-ifs),
``assets`` (nodes, points, relationships), ``pagination`` (``assets`` connection, filters,
cursors), ``topology`` (walks and paths), ``ontology`` (classes and relationship types),
``loaders`` (per-request dataloaders), ``context`` (services and request context, renewed
per operation on a WebSocket), ``permissions``, ``caching`` (parsed and validated
documents), ``operations`` (which operation runs), ``limits`` (depth and complexity),
``errors`` (error classes and codes), ``values`` (value conversions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, SchemaExtension, ValidationCache
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from server.schema.caching import CACHED_DOCUMENTS, ParseCache
from server.schema.context import PerOperation
from server.schema.errors import ErrorCodes, format_error, log_errors
from server.schema.limits import query_limits
from server.schema.mutation import Mutation
from server.schema.operations import OneOperation
from server.schema.query import Query
from server.schema.subscription import Subscription
from server.settings import Settings

MAX_TOKENS = 10_000  # a parser guard well above any sensible query

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


class TwinSchema(strawberry.Schema):
    """Logs errors by kind: unexpected ones with their traceback, expected ones briefly;
    every error it answers has ``extensions.code``, unexpected ones masked.

    :meth:`execute` runs no subscription (it raises ``InvalidOperationTypeError``): run one
    once, it would answer a stream instead of a value; only :meth:`stream`, over WebSocket,
    serves them."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )
        if result.errors:
            # an exception that escaped an extension before execution skipped ErrorCodes:
            # code it here too, so nothing reaches a client unmasked
            result.errors = [
                e if (e.extensions or {}).get("code") else format_error(e) for e in result.errors
            ]
        return result


def build_schema(settings: Settings, extensions: Sequence[ExtensionFactory] = ()) -> TwinSchema:
    """The schema with the limits of ``settings``. ``extensions`` (e.g. metrics) run
    outside the error-code extension, so they see the final codes. Every extension applies
    to subscriptions and to operations over WebSocket as well (limits, codes, metrics)."""

    def max_tokens() -> SchemaExtension:
        return MaxTokensLimiter(max_token_count=MAX_TOKENS)

    def validation_cache() -> SchemaExtension:
        return ValidationCache(maxsize=CACHED_DOCUMENTS)

    return TwinSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            PerOperation,  # first: the others may read the context
            *extensions,
            max_tokens,
            ParseCache,  # after max_tokens, whose limit is one of the parse options
            validation_cache,  # the standard rules, per document; before query_limits
            OneOperation,
            query_limits(settings.max_query_depth, settings.max_complexity, settings.max_page_size),
            ErrorCodes,
        ],
    )


__all__ = ["TwinSchema", "build_schema"]
