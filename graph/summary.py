"""What the graph holds: models, labels and relationship types, for ``kgtwin info``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, LiteralString

from neo4j import Driver, RoutingControl

from kgtwin.graph.connection import neo4j_errors

_MODEL_COLUMNS: LiteralString = """
RETURN m.name AS name, m.nodes AS nodes, m.relationships AS relationships,
       toString(m.loadedAt) AS loadedAt, m.digest AS digest,
       toString(m.loadingSince) AS loadingSince
ORDER BY name
"""
MODELS: LiteralString = "MATCH (m:Model) WHERE NOT m:Twin" + _MODEL_COLUMNS
MODELS_NAMED: LiteralString = (
    "MATCH (m:Model) WHERE NOT m:Twin AND m.name IN $names" + _MODEL_COLUMNS
)
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
        models=tuple(map(_model_info, models)),
        labels=tuple((r["label"], r["count"]) for r in labels),
        rel_types=tuple((r["type"], r["count"]) for r in rels),
        terms=tuple((r["iri"], r["name"]) for r in terms),
    )


def loaded_models(
    driver: Driver, names: Iterable[str], database: str | None = None
) -> dict[str, ModelInfo]:
    """The models of ``names`` the graph holds, by name."""
    with neo4j_errors("reading the loaded models"):
        models, _, _ = driver.execute_query(
            MODELS_NAMED, names=list(names), database_=database, routing_=RoutingControl.READ
        )
    return {m["name"]: _model_info(m) for m in models}


def _model_info(m: Mapping[str, Any]) -> ModelInfo:
    return ModelInfo(
        m["name"],
        m["nodes"],
        m["relationships"],
        m["loadedAt"] or "",
        m["digest"] or "",
        m["loadingSince"],
    )
