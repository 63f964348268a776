"""Parsing and standard validation cached per query text: clients send the same few
operations again and again, and both steps cost more than a small query's resolvers
(about 4 µs per byte of document together: :data:`PARSE_BYTES_PER_UNIT`).

Both caches are bounded in entries, and documents in bytes (``max_document_bytes``,
checked before anything is parsed), so unique query texts cannot grow memory: at most
:data:`CACHED_DOCUMENTS` documents of that size. A text that does not parse is not cached.
A document not cached yet is charged to its client's budget before it is parsed
(``server.schema.admission``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from functools import lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.schema.schema import validate_document

CACHED_DOCUMENTS = 256
MAX_TOKENS = 10_000  # a parser guard well above any sensible query
PARSE_BYTES_PER_UNIT = 2  # parsing and validating: about 5 µs per byte, a unit per 2 bytes


class Documents:
    """Parsed documents by query text, the ``size`` most recently used (thread-safe)."""

    def __init__(self, size: int = CACHED_DOCUMENTS) -> None:
        self._size = size
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, query: str) -> bool:
        with self._lock:
            return query in self._documents

    def parse(self, query: str) -> DocumentNode:
        """``query`` parsed (at most :data:`MAX_TOKENS` tokens); raises
        ``GraphQLSyntaxError``."""
        with self._lock:
            document = self._documents.get(query)
            if document is not None:
                self._documents.move_to_end(query)
                return document
        document = parse(query, max_tokens=MAX_TOKENS)
        with self._lock:
            self._documents[query] = document
            while len(self._documents) > self._size:
                self._documents.popitem(last=False)
        return document

    def __len__(self) -> int:
        return len(self._documents)


DOCUMENTS = Documents()


def parsed(query: str) -> DocumentNode:
    return DOCUMENTS.parse(query)


def parse_fee(query: str) -> int:
    """The charge for parsing and validating ``query``: none once it is cached."""
    return 0 if query in DOCUMENTS else -(-len(query.encode()) // PARSE_BYTES_PER_UNIT)


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _validated(
    schema: GraphQLSchema, query: str, rules: tuple[type[ASTValidationRule], ...]
) -> tuple[GraphQLError, ...]:
    return tuple(validate_document(schema, parsed(query), rules))


def validated(
    schema: GraphQLSchema, query: str, rules: Collection[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """The errors of the standard validation of ``query`` (which must parse)."""
    return list(_validated(schema, query, tuple(rules)))
