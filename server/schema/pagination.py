"""``assets(class:, where:, first:, after:)``: a Relay-style connection over keyset pages.

A cursor is opaque to clients: URL-safe base64 of the last node's id and IRI. The next
page starts strictly after that node in ``(id, iri)`` order, so pages stay correct while
nodes are added or removed (see :mod:`graph.listing`).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import strawberry
from strawberry.scalars import JSON

from kgtwin.graph.listing import Page, Position, PropertyFilter, count_of_class
from kgtwin.graph.reader import Reader
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.server.schema.assets import Asset
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.loaders import in_thread

CURSOR_VERSION = "k1"
MAX_CURSOR = 4096  # characters: an id and an IRI, base64'd, are far shorter


def encode_cursor(position: Position) -> str:
    raw = json.dumps([CURSOR_VERSION, position.id, position.iri], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, node_id, iri = _three_strings(raw.decode())
        if version != CURSOR_VERSION:
            raise ValueError(cursor)
    except (ValueError, binascii.Error):
        shown = cursor if len(cursor) <= 80 else cursor[:80] + "..."
        raise BadUserInput(
            f"after: {shown!r} is not a cursor this server issued; pass the endCursor of "
            "the previous page, or leave `after` out to start at the beginning"
        ) from None
    return Position(node_id, iri)


_JSON = json.JSONDecoder()


def _three_strings(text: str) -> list[str]:
    """The strings of ``["a","b","c"]`` as :func:`encode_cursor` writes it, read one string
    at a time (raises ``ValueError`` for anything else). A value that is no string is
    refused before it is parsed: ``json.loads`` of a list nested 1,500 deep ran Python to its
    recursion limit, where a finalizer the collector ran meanwhile failed too."""
    values: list[str] = []
    at = 0
    for opening in ("[", ",", ","):
        if text[at : at + 2] != opening + '"':
            raise ValueError(text)
        value, at = _JSON.raw_decode(text, at + 1)
        values.append(value)
    if text[at:] != "]":
        raise ValueError(text)
    return values


@strawberry.input(
    description="A condition on one property: set `eq`, or one or more of the "
    "range bounds (numbers). Property names are checked against the ontology."
)
class PropertyFilterInput:
    property: str
    eq: JSON | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


def to_filters(inputs: list[PropertyFilterInput], catalogue: Catalogue) -> list[PropertyFilter]:
    """One :class:`PropertyFilter` per operator given; ranges only on numeric properties."""
    filters: list[PropertyFilter] = []
    for item in inputs:
        given: dict[str, Any] = {
            op: getattr(item, op)
            for op in ("eq", "gt", "gte", "lt", "lte")
            if getattr(item, op) is not None
        }
        if not given:
            raise BadUserInput(
                f"where: the condition on {item.property!r} sets no operator; "
                "set eq, gt, gte, lt or lte"
            )
        eq = given.get("eq")
        if eq is not None and not isinstance(eq, str | int | float | bool):
            raise BadUserInput(
                f"where: eq on {item.property!r} must be a string, number or boolean"
            )
        spec = catalogue.literals.get(item.property)
        ranges = sorted(set(given) - {"eq"})
        if spec is not None and ranges and not spec.numeric:
            raise BadUserInput(
                f"where: {item.property!r} holds {spec.datatype or 'non-numeric'} values; "
                f"range conditions ({', '.join(ranges)}) need a numeric property: use eq"
            )
        filters.extend(PropertyFilter(item.property, op, value) for op, value in given.items())
    return filters


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type
class AssetEdge:
    cursor: str
    node: Asset


@strawberry.type(description="A page of assets.")
class AssetConnection:
    page: strawberry.Private[Page]
    reader: strawberry.Private[Reader]
    class_name: strawberry.Private[str]
    filters: strawberry.Private[list[dict[str, Any]]]

    @strawberry.field
    def edges(self) -> list[AssetEdge]:
        return [
            AssetEdge(cursor=encode_cursor(Position(n.id, n.iri)), node=Asset(node=n))
            for n in self.page.nodes
        ]

    @strawberry.field
    def page_info(self) -> PageInfo:
        end = self.page.end
        return PageInfo(
            has_next_page=self.page.has_next, end_cursor=encode_cursor(end) if end else None
        )

    @strawberry.field(description="How many assets match, on all pages (counted when asked).")
    async def total_count(self) -> int:
        return await in_thread(count_of_class, self.reader, self.class_name, self.filters)
