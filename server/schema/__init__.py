"""The GraphQL schema: topology, live state and the ontology of the twin.

Modules: ``query`` (root fields), ``assets`` (nodes, points, relationships),
``pagination`` (``assets`` connection, filters, cursors), ``topology`` (walks and paths),
``ontology`` (classes and relationship types), ``loaders`` (per-request dataloaders),
``context`` (services and request context), ``permissions``, ``caching`` (parsed and
validated documents), ``limits`` (depth and complexity), ``errors`` (error classes and
codes), ``values`` (value conversions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, SchemaExtension, ValidationCache
from strawberry.types import ExecutionContext

from server.schema.caching import CACHED_DOCUMENTS, ParseCache
from server.schema.errors import ErrorCodes, log_errors
from server.schema.limits import query_limits
from server.schema.query import Query
from server.settings import Settings

MAX_TOKENS = 10_000  # a parser guard well above any sensible query

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


class TwinSchema(strawberry.Schema):
    """Logs errors by kind: unexpected ones with their traceback, expected ones briefly."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)


def build_schema(settings: Settings, extensions: Sequence[ExtensionFactory] = ()) -> TwinSchema:
    """The schema with the limits of ``settings``. ``extensions`` (e.g. metrics) run
    outside the error-code extension, so they see the final codes."""

    def max_tokens() -> SchemaExtension:
        return MaxTokensLimiter(max_token_count=MAX_TOKENS)

    def validation_cache() -> SchemaExtension:
        return ValidationCache(maxsize=CACHED_DOCUMENTS)

    return TwinSchema(
        query=Query,
        extensions=[
            *extensions,
            max_tokens,
            ParseCache,  # after max_tokens, whose limit is one of the parse options
            validation_cache,  # the standard rules, per document; before query_limits
            query_limits(settings.max_query_depth, settings.max_complexity, settings.max_page_size),
            ErrorCodes,
        ],
    )


__all__ = ["TwinSchema", "build_schema"]
