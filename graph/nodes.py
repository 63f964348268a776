"""Twin nodes as the read side sees them, and the batched reads of a node's neighbourhood.

Each read takes many keys at once (``UNWIND $keys``) so the API's dataloaders send one
statement per batch, not one per node. Per-node lists are bounded by ``limit`` in Cypher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

from kgtwin.graph.engine_types import HAS_POINT_EDGE, POINT_TYPES
from kgtwin.graph.reader import Reader, Row
from kgtwin.graph.visibility import HIDDEN_MODELS, visible

TWIN = "Twin"
OUT = "OUT"
IN = "IN"

NODES_BY_ID: LiteralString = (
    HIDDEN_MODELS
    + """
UNWIND $keys AS key
MATCH (n:Twin {id: key}) WHERE """
    + visible("n")
    + """
RETURN key, n {.*} AS props, labels(n) AS labels
ORDER BY n.iri
"""
)

NODES_BY_IRI: LiteralString = (
    HIDDEN_MODELS
    + """
UNWIND $keys AS key
MATCH (n:Twin {iri: key}) WHERE """
    + visible("n")
    + """
RETURN key, n {.*} AS props, labels(n) AS labels
"""
)

POINTS_OF: LiteralString = (
    POINT_TYPES
    + """
UNWIND $keys AS key
MATCH (a:Twin {iri: key})
CALL (a, pointTypes, pointOfTypes) {
  MATCH (a)-[r]-(p:Twin) WHERE"""
    + HAS_POINT_EDGE
    + """  RETURN DISTINCT p ORDER BY p.id LIMIT $limit
}
RETURN key, p {.*} AS props, labels(p) AS labels
"""
)

RELATIONSHIPS_OF: LiteralString = """
UNWIND $keys AS key
MATCH (a:Twin {iri: key})
CALL (a) {
  CALL (a) {
    MATCH (a)-[r]->(b:Twin)
    WHERE $outgoing AND ($types IS NULL OR type(r) IN $types)
    RETURN type(r) AS type, 'OUT' AS direction, b
    UNION ALL
    MATCH (a)<-[r]-(b:Twin)
    WHERE $incoming AND ($types IS NULL OR type(r) IN $types)
    RETURN type(r) AS type, 'IN' AS direction, b
  }
  RETURN type, direction, b ORDER BY type, direction, b.id, b.iri LIMIT $limit
}
RETURN key, type, direction, b {.*} AS props, labels(b) AS labels
"""


@dataclass(frozen=True, slots=True)
class TwinNode:
    """A twin node: its IRI, id, labels (without ``Twin``) and every property it holds."""

    iri: str
    id: str
    labels: tuple[str, ...]
    props: Mapping[str, Any] = field(hash=False, compare=False)

    @classmethod
    def from_row(cls, props: Mapping[str, Any], labels: Sequence[str]) -> TwinNode:
        return cls(
            iri=props["iri"],
            id=props["id"],
            labels=tuple(sorted(label for label in labels if label != TWIN)),
            props=props,
        )

    @property
    def model_keys(self) -> tuple[str, ...]:
        """The properties the model owns (the rest, such as live values, came later)."""
        return tuple(self.props.get("modelKeys") or ())


@dataclass(frozen=True, slots=True)
class Relation:
    """One relationship of a node: its type, ``OUT`` or ``IN``, and the node at the other end."""

    type: str
    direction: str
    other: TwinNode


def nodes_by_id(reader: Reader, ids: Sequence[str]) -> dict[str, list[TwinNode]]:
    """The twin nodes with each id (ids are unique per model, so a list; usually one)."""
    found: dict[str, list[TwinNode]] = {key: [] for key in ids}
    for row in reader.rows(NODES_BY_ID, "reading twin nodes by id", keys=list(found)):
        found[row["key"]].append(_node(row))
    return found


def nodes_by_iri(reader: Reader, iris: Sequence[str]) -> dict[str, TwinNode]:
    """The twin nodes with these IRIs; IRIs that name no node are left out."""
    rows = reader.rows(NODES_BY_IRI, "reading twin nodes by IRI", keys=list(dict.fromkeys(iris)))
    return {row["key"]: _node(row) for row in rows}


def points_of(reader: Reader, iris: Sequence[str], limit: int) -> dict[str, list[TwinNode]]:
    """The points (``HAS_POINT``) of each node, by id, at most ``limit`` per node."""
    found: dict[str, list[TwinNode]] = {key: [] for key in iris}
    rows = reader.rows(POINTS_OF, "reading points", keys=list(found), limit=limit)
    for row in rows:
        found[row["key"]].append(_node(row))
    return found


def relationships_of(
    reader: Reader,
    iris: Sequence[str],
    *,
    types: Sequence[str] | None,
    outgoing: bool,
    incoming: bool,
    limit: int,
) -> dict[str, list[Relation]]:
    """The relationships of each node, by type, direction and the other end's id, at most
    ``limit`` per node. ``types`` must have been checked against the ontology."""
    found: dict[str, list[Relation]] = {key: [] for key in iris}
    rows = reader.rows(
        RELATIONSHIPS_OF,
        "reading relationships",
        keys=list(found),
        types=None if types is None else list(types),
        outgoing=outgoing,
        incoming=incoming,
        limit=limit,
    )
    for row in rows:
        found[row["key"]].append(Relation(row["type"], row["direction"], _node(row)))
    return found


def _node(row: Row) -> TwinNode:
    return TwinNode.from_row(row["props"], row["labels"])
