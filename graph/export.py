"""What the graph holds for one model, read back for ``kgtwin export``, a page at a time.

Nodes come in keyset pages ordered by IRI (a page starts strictly after the last IRI of the
previous one), each node with its outgoing relationships to nodes of the same model, so no
statement holds more than one page of the model. Values come back as Python values
(Neo4j's temporal types as ``datetime``, ``date`` and ``time``). The model's ``loadId`` is
read before the first page and after the last: a load of the model that changed it in
between raises :class:`graph.errors.ModelChanged`, so an export never mixes two versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, LiteralString

import neo4j.time

from kgtwin.graph.errors import ModelChanged, UnknownModel
from kgtwin.graph.reader import Reader
from kgtwin.graph.records import NodeRecord, RelRecord, Value

PAGE_SIZE = 5_000  # nodes per statement
PAGE_TIMEOUT = 60.0  # seconds Neo4j may spend on one page before it stops the read

# the ontology's own model holds ontology terms, not twins: it is not listed
MODELS: LiteralString = """
MATCH (m:Model) WHERE NOT m:Twin AND m.name IS NOT NULL
  AND NOT EXISTS { MATCH (t:OntologyTerm) WHERE t.model = m.name }
RETURN m.name AS name ORDER BY name
"""

MODEL_STATE: LiteralString = """
MATCH (m:Model {name: $model}) WHERE NOT m:Twin
RETURN m.loadId AS loadId, m.nodes AS nodes, m.loading IS NOT NULL AS loading
"""

# A page of the model's nodes after IRI $after, each with [type, target IRI, target's
# model, target is a twin] of every relationship out of it; those to other nodes of the
# model are the model's (as graph.sync counts them). A range seek on the IRI index gives
# the nodes in order, so a page reads no further than its last node; the relationships are
# filtered here, not in Cypher, as a predicate on the far end let the planner scan the
# whole model for every node (Expand(Into) from the model index).
PAGE: LiteralString = """
MATCH (n:Twin) USING INDEX SEEK n:Twin(iri)
WHERE n.iri > $after AND n.model = $model
WITH n ORDER BY n.iri LIMIT $limit
RETURN n.iri AS iri, n {.*} AS props, labels(n) AS labels,
       [(n)-[x]->(m) | [type(x), m.iri, m.model, m:Twin]] AS rels
ORDER BY iri
"""


@dataclass(frozen=True, slots=True)
class ModelPage:
    """Some nodes of a model, every property and label they hold, and their relationships
    to other nodes of the model."""

    nodes: tuple[NodeRecord, ...]
    rels: tuple[RelRecord, ...]


def model_names(reader: Reader) -> list[str]:
    """Every model of twins the graph holds, by name."""
    return [row["name"] for row in reader.rows(MODELS, "listing models")]


def model_size(reader: Reader, model: str) -> int:
    """How many nodes ``model`` had when it was last loaded; raises ``UnknownModel``
    (listing the models there are) if the graph holds no such model."""
    rows = reader.rows(MODEL_STATE, f"reading model {model!r}", model=model)
    if not rows:
        raise _unknown(reader, model)
    return int(rows[0]["nodes"] or 0)


def read_model(reader: Reader, model: str, *, page_size: int = PAGE_SIZE) -> Iterator[ModelPage]:
    """The nodes of ``model``, page by page; raises ``UnknownModel`` before the first page
    if there is no such model, ``ModelChanged`` after the last if it was loaded again."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    action = f"exporting model {model!r}"
    before = _load_id(reader, model, action)
    after = ""
    while True:
        rows = reader.rows(PAGE, action, model=model, after=after, limit=page_size)
        if not rows:
            break
        nodes = tuple(
            NodeRecord(row["iri"], tuple(row["labels"]), _native_props(row["props"]))
            for row in rows
        )
        rels = tuple(
            RelRecord(row["iri"], kind, target)
            for row in rows
            for kind, target, owner, twin in row["rels"]
            if twin and owner == model
        )
        yield ModelPage(nodes, rels)
        if len(rows) < page_size:
            break
        after = rows[-1]["iri"]
    if _load_id(reader, model, action) != before:
        raise ModelChanged(
            f"model {model!r} was loaded again while it was being exported, so the pages "
            "read may mix two versions of it; export it again"
        )


def _load_id(reader: Reader, model: str, action: str) -> str | None:
    rows = reader.rows(MODEL_STATE, action, model=model)
    if not rows:
        raise _unknown(reader, model)
    if rows[0]["loading"]:
        raise ModelChanged(
            f"model {model!r} is being loaded, or its last load stopped midway: export it "
            "once a load of it has completed"
        )
    load_id = rows[0]["loadId"]
    return None if load_id is None else str(load_id)


def _unknown(reader: Reader, model: str) -> UnknownModel:
    names = model_names(reader)
    there = f"the models there are: {', '.join(names)}" if names else "the graph holds no model"
    return UnknownModel(f"the graph holds no model {model!r}; {there}")


def _native_props(props: dict[str, Any]) -> dict[str, Value]:
    return {key: _native(value) for key, value in props.items()}


def _native(value: Any) -> Any:
    """A property value as the driver gives it, with Neo4j's temporal types as Python's
    (nanoseconds past the microsecond are dropped; durations as ISO 8601 text)."""
    if isinstance(value, neo4j.time.DateTime | neo4j.time.Date | neo4j.time.Time):
        return value.to_native()
    if isinstance(value, neo4j.time.Duration):
        return value.iso_format()
    if isinstance(value, list):
        return [_native(v) for v in value]
    return value
