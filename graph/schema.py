"""Constraints and indexes of the twin graph, created idempotently before every load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from neo4j import Driver

from kgtwin.graph.connection import neo4j_errors

SCHEMA: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT twin_iri IF NOT EXISTS FOR (n:Twin) REQUIRE n.iri IS UNIQUE",
    "CREATE CONSTRAINT ontology_term_iri IF NOT EXISTS "
    "FOR (n:OntologyTerm) REQUIRE n.iri IS UNIQUE",
    "CREATE CONSTRAINT model_name IF NOT EXISTS FOR (m:Model) REQUIRE m.name IS UNIQUE",
    "CREATE CONSTRAINT scenario_id IF NOT EXISTS FOR (s:Scenario) REQUIRE s.id IS UNIQUE",
    "CREATE CONSTRAINT risk_state_name IF NOT EXISTS FOR (r:RiskState) REQUIRE r.name IS UNIQUE",
    "CREATE INDEX twin_id IF NOT EXISTS FOR (n:Twin) ON (n.id)",
    "CREATE INDEX twin_model IF NOT EXISTS FOR (n:Twin) ON (n.model)",
    "CREATE INDEX ontology_term_model IF NOT EXISTS FOR (n:OntologyTerm) ON (n.model)",
    # a load reads its model's nodes in pages, in IRI order (graph.sync_statements)
    "CREATE INDEX twin_model_iri IF NOT EXISTS FOR (n:Twin) ON (n.model, n.iri)",
    "CREATE INDEX ontology_term_model_iri IF NOT EXISTS FOR (n:OntologyTerm) ON (n.model, n.iri)",
    # the few status points that can report their asset failed (kgt:failedWhen)
    "CREATE INDEX point_failed_when IF NOT EXISTS FOR (p:Point) ON (p.failedWhen)",
)

AWAIT_INDEXES: LiteralString = "CALL db.awaitIndexes(300)"

SHOW_SCHEMA: LiteralString = """
SHOW INDEXES YIELD name, type, entityType, labelsOrTypes, properties, owningConstraint
WHERE type <> 'LOOKUP'
RETURN name, type, labelsOrTypes, properties, owningConstraint IS NOT NULL AS constraint
ORDER BY name
"""


@dataclass(frozen=True, slots=True)
class SchemaItem:
    name: str
    type: str
    labels: tuple[str, ...]
    properties: tuple[str, ...]
    constraint: bool


def ensure_schema(driver: Driver, database: str | None = None) -> None:
    """Create the constraints and indexes the graph relies on (no-op when present)."""
    with neo4j_errors("creating constraints and indexes"):
        for statement in SCHEMA:
            driver.execute_query(statement, database_=database)
        driver.execute_query(AWAIT_INDEXES, database_=database)


def describe_schema(driver: Driver, database: str | None = None) -> list[SchemaItem]:
    with neo4j_errors("reading the schema"):
        records, _, _ = driver.execute_query(SHOW_SCHEMA, database_=database)
    return [
        SchemaItem(
            r["name"],
            r["type"],
            tuple(r["labelsOrTypes"] or ()),
            tuple(r["properties"] or ()),
            r["constraint"],
        )
        for r in records
    ]
