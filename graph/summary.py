"""What the graph holds: models, labels and relationship types, for ``kgtwin info``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from neo4j import Driver, RoutingControl

from kgtwin.graph.connection import neo4j_errors

MODELS: LiteralString = """
MATCH (m:Model) WHERE NOT m:Twin
RETURN m.name AS name, m.nodes AS nodes, m.relationships AS relationships,
       toString(m.loadedAt) AS loadedAt, m.digest AS digest,
       toString(m.loadingSince) AS loadingSince
ORDER BY name
"""
LABELS: LiteralString = """
MATCH (n:Twin) UNWIND labels(n) AS label
RETURN label, count(*) AS count ORDER BY count DESC, label
"""
REL_TYPES: LiteralString = """
MATCH (:Twin)-[r]->(:Twin)
RETURN type(r) AS type, count(*) AS count ORDER BY count DESC, type
"""
TERMS: LiteralString = """
MATCH (t:OntologyTerm) WHERE NOT t:Twin AND (t:Class OR t:Relationship)
RETURN t.iri AS iri, coalesce(t.type, t.name) AS name ORDER BY iri
"""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    nodes: int
    relationships: int
    loaded_at: str
    digest: str
    loading_since: str | None = None  # a load too large for one transaction began then


@dataclass(frozen=True, slots=True)
class GraphSummary:
    models: tuple[ModelInfo, ...]
    labels: tuple[tuple[str, int], ...]
    rel_types: tuple[tuple[str, int], ...]
    terms: tuple[tuple[str, str], ...] = ()  # the ontology's (IRI, label or type)


def summarize(driver: Driver, database: str | None = None) -> GraphSummary:
    with neo4j_errors("summarising the graph"):
        models, _, _ = driver.execute_query(
            MODELS, database_=database, routing_=RoutingControl.READ
        )
        labels, _, _ = driver.execute_query(
            LABELS, database_=database, routing_=RoutingControl.READ
        )
        rels, _, _ = driver.execute_query(
            REL_TYPES, database_=database, routing_=RoutingControl.READ
        )
        terms, _, _ = driver.execute_query(TERMS, database_=database, routing_=RoutingControl.READ)
    return GraphSummary(
        models=tuple(
            ModelInfo(
                m["name"],
                m["nodes"],
                m["relationships"],
                m["loadedAt"] or "",
                m["digest"] or "",
                m["loadingSince"],
            )
            for m in models
        ),
        labels=tuple((r["label"], r["count"]) for r in labels),
        rel_types=tuple((r["type"], r["count"]) for r in rels),
        terms=tuple((r["iri"], r["name"]) for r in terms),
    )
