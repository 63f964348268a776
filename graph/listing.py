"""Instances of a class, filtered by property values, one keyset page at a time.

Pages are ordered by ``(id, iri)`` and a page starts strictly after the last row of the
previous one (keyset pagination: a range seek on the ``twin_id`` index), never at an
offset: a node inserted or removed while a client pages through moves no other row between
pages, so no row is skipped or repeated.
The class is a label checked against the ontology; property names are checked against the
names the caller allows; both reach Cypher as parameters only.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

from kgtwin.graph.errors import InvalidRead, UnknownProperty
from kgtwin.graph.nodes import TwinNode
from kgtwin.graph.reader import Reader
from kgtwin.graph.visibility import HIDDEN_MODELS, visible

OPERATORS = ("eq", "gt", "gte", "lt", "lte")

_FILTERED: LiteralString = (
    HIDDEN_MODELS
    + """
MATCH (n:Twin:$($class))
WHERE """
    + visible("n")
    + """ AND all(f IN $filters WHERE CASE f.op
        WHEN 'eq' THEN n[f.property] = f.value
        WHEN 'gt' THEN n[f.property] > f.value
        WHEN 'gte' THEN n[f.property] >= f.value
        WHEN 'lt' THEN n[f.property] < f.value
        WHEN 'lte' THEN n[f.property] <= f.value
        ELSE false END)
"""
)

PAGE_OF_CLASS: LiteralString = (
    _FILTERED
    + """
  AND n.id >= $after_id AND (n.id > $after_id OR n.iri > $after_iri)
RETURN n {.*} AS props, labels(n) AS labels
ORDER BY n.id, n.iri
LIMIT $limit
"""
)

COUNT_OF_CLASS: LiteralString = _FILTERED + "RETURN count(n) AS total\n"


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    """``property op value``: ``op`` is one of :data:`OPERATORS`."""

    property: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: strictly after the node with this id and IRI."""

    id: str
    iri: str


@dataclass(frozen=True, slots=True)
class Page:
    nodes: tuple[TwinNode, ...]
    has_next: bool

    @property
    def end(self) -> Position | None:
        return Position(self.nodes[-1].id, self.nodes[-1].iri) if self.nodes else None


def check_filters(
    filters: Sequence[PropertyFilter], properties: Collection[str]
) -> list[dict[str, Any]]:
    """The filters as Cypher parameters, once every property and operator is known."""
    params = []
    for f in filters:
        if f.property not in properties:
            close = difflib.get_close_matches(f.property, list(properties), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownProperty(
                f"unknown property {f.property!r}{hint}; valid choices: "
                f"{', '.join(sorted(properties))}"
            )
        if f.op not in OPERATORS:
            raise InvalidRead(f"unknown operator {f.op!r}; use one of {', '.join(OPERATORS)}")
        params.append({"property": f.property, "op": f.op, "value": f.value})
    return params


def page_of_class(
    reader: Reader,
    class_name: str,
    filters: list[dict[str, Any]],
    *,
    after: Position | None,
    first: int,
) -> Page:
    """Up to ``first`` instances of ``class_name`` (a checked label) after ``after``."""
    rows = reader.rows(
        PAGE_OF_CLASS,
        f"listing instances of {class_name}",
        **{"class": class_name},
        filters=filters,
        after_id=after.id if after else "",
        after_iri=after.iri if after else "",
        limit=first + 1,
    )
    nodes = tuple(TwinNode.from_row(r["props"], r["labels"]) for r in rows)
    return Page(nodes[:first], has_next=len(nodes) > first)


def count_of_class(reader: Reader, class_name: str, filters: list[dict[str, Any]]) -> int:
    rows = reader.rows(
        COUNT_OF_CLASS,
        f"counting instances of {class_name}",
        filters=filters,
        **{"class": class_name},
    )
    return int(rows[0]["total"])
