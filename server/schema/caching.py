"""Parsing and standard validation cached per query text: clients send the same few
operations again and again, and both steps cost more than a small query's resolvers.

Limits depend on the variables and run after this (:mod:`server.schema.limits`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from functools import lru_cache

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension

CACHED_DOCUMENTS = 256  # bounded: unique query texts cannot grow memory

_parse = lru_cache(maxsize=CACHED_DOCUMENTS)(parse)


class ParseCache(SchemaExtension):
    """Strawberry's ``ParserCache``, except for a text that does not parse: that is left to
    Strawberry's own parse step, which answers with an ordinary GraphQL error (the
    ``ParserCache`` raises it from the extension, past the error codes)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with suppress(GraphQLError):  # parsed again, and reported, by Strawberry
            context.graphql_document = _parse(context.query, **context.parse_options)
        yield
