"""Errors raised by ``graph``. Nothing from ``neo4j.exceptions`` crosses this package.

::

    GraphError
    ├── Neo4jUnavailable        the server cannot be reached (retryable)
    │   └── CommitUnknown       a commit failed, and whether it was saved cannot be told
    ├── QueryFailed             the server refused or failed a statement
    │   ├── ReadTimedOut        a statement ran past its transaction timeout
    │   └── ValueRefused        a value the driver or Neo4j cannot store (not retryable)
    ├── ModelConflict           a load would take over another model's nodes
    ├── OntologyConflict        a load's ontology lacks terms other models' nodes carry
    ├── ModelChanged            a model was loaded again while it was being exported
    ├── NotFound                no twin node has the id or IRI asked for
    └── InvalidRead             a read asked with arguments the graph cannot answer
        ├── UnknownClass        a class name that is not one of the ontology's classes
        ├── UnknownRelationship a relationship type that is not one of the ontology's
        ├── UnknownProperty     a property name that is not one of the ontology's
        └── UnknownModel        a model name the graph holds no model by

The local Neo4j launcher's errors live in ``devkit.errors`` (development tooling), so
nothing that catches ``GraphError`` (the ingestion worker's retries, say) catches them.
"""

from __future__ import annotations


class GraphError(Exception):
    """Base of every error raised by ``graph``."""

    retryable: bool = False


class Neo4jUnavailable(GraphError):
    """Neo4j did not answer; trying again later may succeed."""

    retryable = True


class CommitUnknown(Neo4jUnavailable):
    """A commit failed (the connection lost after it was sent, say) and whether the
    transaction was saved cannot be told: it may or may not have been."""


class QueryFailed(GraphError):
    """Neo4j answered with an error for a statement."""


class ReadTimedOut(QueryFailed):
    """Neo4j stopped a statement that ran past the transaction timeout it was given."""


class ValueRefused(QueryFailed):
    """A value that cannot be stored: the driver could not encode it (an integer past 64
    bits, a string with a lone surrogate, ...) or Neo4j refused its type. The statement
    is fine; the same values will fail again, so it is never retryable."""


class ModelConflict(GraphError):
    """The model being loaded names subjects that belong to another model."""


class OntologyConflict(GraphError):
    """The ontology a load would write lacks labels or relationship types that nodes of
    other models carry (they were loaded with another ontology, say with Brick)."""


class ModelChanged(GraphError):
    """A model was loaded again while a reader went through it page by page."""

    retryable = True


class NotFound(GraphError):
    """No twin node has the id or IRI that was asked for."""


class InvalidRead(GraphError):
    """A read was asked with arguments that cannot be answered (the caller's mistake)."""


class UnknownClass(InvalidRead):
    """A class name that is not one of the ontology's classes; the message lists them."""


class UnknownRelationship(InvalidRead):
    """A relationship type that is not one of the ontology's; the message lists them."""


class UnknownProperty(InvalidRead):
    """A property name that is not one of the ontology's; the message lists them."""


class UnknownModel(InvalidRead):
    """A model name the graph holds no model by; the message lists the models there are."""
