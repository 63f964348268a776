"""What a load writes, as plain values: nodes and relationships of one model.

``ontology/`` maps RDF to these records; :mod:`graph.sync` writes them. Keeping them here
lets data flow ontology -> graph without ``graph/`` importing the other packages.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, NamedTuple

Value = str | int | float | bool | date | datetime | time | list[Any]


@dataclass(frozen=True, slots=True)
class NodeRecord:
    iri: str
    labels: tuple[str, ...]
    props: dict[str, Value] = field(hash=False)


class RelRecord(NamedTuple):
    """A tuple, so that a set of them and a set of plain ``(source, type, target)`` tuples
    read from the graph compare without a copy of either (three million at a million
    assets)."""

    source: str
    type: str
    target: str


@dataclass(frozen=True, slots=True)
class PropertyGraph:
    nodes: dict[str, NodeRecord]
    rels: AbstractSet[RelRecord]  # read-only (a set, not copied to a frozenset: 3M at 1M)
