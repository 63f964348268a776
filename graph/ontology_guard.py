"""Before a load replaces the graph's ontology: the labels and relationship types other
models' nodes carry must all still be terms of it. Loading dc1 without ``--vocabulary
brick`` after a Brick site would otherwise drop Brick's ``(:Class)`` and
``(:Relationship)`` nodes, and with them the meanings the engine follows on that site.

The labels and types in use come from Neo4j's token store (``db.labels()``,
``db.relationshipTypes()``), so the check costs the same whatever the graph's size; only a
term the new ontology lacks is looked up, to name the models that use it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import LiteralString

from neo4j import Driver, RoutingControl

from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.errors import OntologyConflict
from kgtwin.graph.labels import SYSTEM_LABELS, SYSTEM_TYPES

TOKENS: LiteralString = """
CALL () { CALL db.labels() YIELD label RETURN collect(label) AS labels }
CALL () {
  CALL db.relationshipTypes() YIELD relationshipType RETURN collect(relationshipType) AS types
}
RETURN labels, types
"""
USERS: LiteralString = """
UNWIND $labels AS label
CALL (label) {
  MATCH (n:Twin:$(label)) WHERE n.model <> $model RETURN DISTINCT n.model AS model LIMIT 5
}
RETURN label AS term, collect(model) AS models
UNION ALL
UNWIND $types AS type
CALL (type) {
  MATCH (n:Twin)-[r:$(type)]->(:Twin) WHERE n.model <> $model
  RETURN DISTINCT n.model AS model LIMIT 5
}
RETURN type AS term, collect(model) AS models
"""
SHOWN = 8


def check_ontology_covers(
    driver: Driver,
    labels: Collection[str],
    types: Collection[str],
    model: str,
    database: str | None = None,
) -> None:
    """Raise :class:`OntologyConflict` if a model other than ``model`` carries a label not
    in ``labels`` or a relationship type not in ``types`` (the ontology about to be
    written)."""
    with neo4j_errors("checking the ontology against the models loaded"):
        (row,), _, _ = driver.execute_query(
            TOKENS, database_=database, routing_=RoutingControl.READ
        )
        missing_labels = sorted(set(row["labels"]) - set(labels) - SYSTEM_LABELS)
        missing_types = sorted(set(row["types"]) - set(types) - SYSTEM_TYPES)
        if not missing_labels and not missing_types:
            return
        records, _, _ = driver.execute_query(
            USERS,
            labels=missing_labels,
            types=missing_types,
            model=model,
            database_=database,
            routing_=RoutingControl.READ,
        )
    used = {r["term"]: r["models"] for r in records if r["models"]}
    if not used:
        return
    models = sorted({m for found in used.values() for m in found})
    terms = sorted(used)
    shown = ", ".join(terms[:SHOWN]) + (
        f" and {len(terms) - SHOWN} more" if len(terms) > SHOWN else ""
    )
    raise OntologyConflict(
        f"model(s) {', '.join(repr(m) for m in models)} in the graph carry labels or "
        f"relationship types this ontology does not have ({shown}): they were loaded with "
        "another ontology. Load with that one too (e.g. --vocabulary brick, "
        "KGTWIN_VOCABULARIES=brick, or vocabularies = [...] in the config file's [ontology] "
        "section), so that one ontology serves every model in the graph; nothing was written"
    )
