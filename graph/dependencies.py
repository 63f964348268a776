"""The dependency edges of the twin graph, read in bulk for an in-memory snapshot.

One statement returns every edge of the given relationship types as parallel lists (one
row: a row per edge would cost the driver more than Neo4j takes to find them). Types must
have been checked against the ontology; they reach Cypher as a parameter only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import LiteralString

from graph.reader import Reader

DEPENDENCY_EDGES: LiteralString = """
MATCH (a:Twin)-[r]->(b:Twin) WHERE type(r) IN $types
RETURN collect(a.iri) AS sources, collect(a.id) AS source_ids,
       collect(b.iri) AS targets, collect(b.id) AS target_ids, collect(type(r)) AS types
"""


@dataclass(frozen=True, slots=True)
class Edges:
    """Edges as parallel columns: edge ``i`` goes from ``sources[i]`` to ``targets[i]``
    (IRIs, with their ids) and has type ``types[i]``."""

    sources: list[str]
    source_ids: list[str]
    targets: list[str]
    target_ids: list[str]
    types: list[str]


def read_edges(reader: Reader, types: Collection[str]) -> Edges:
    """Every edge of ``types`` between twin nodes, in one statement."""
    (row,) = reader.rows(DEPENDENCY_EDGES, "reading the dependency edges", types=sorted(types))
    return Edges(row["sources"], row["source_ids"], row["targets"], row["target_ids"], row["types"])
