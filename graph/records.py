"""What a load writes, as plain values: nodes and relationships of one model.

``ontology/`` maps RDF to these records; :mod:`graph.sync` writes them. Keeping them here
lets data flow ontology -> graph without ``graph/`` importing the other packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

Value = str | int | float | bool | date | datetime | time | list[Any]


@dataclass(frozen=True, slots=True)
class NodeRecord:
    iri: str
    labels: tuple[str, ...]
    props: dict[str, Value] = field(hash=False)


@dataclass(frozen=True, slots=True, order=True)
class RelRecord:
    source: str
    type: str
    target: str


@dataclass(frozen=True, slots=True)
class PropertyGraph:
    nodes: dict[str, NodeRecord]
    rels: frozenset[RelRecord]
