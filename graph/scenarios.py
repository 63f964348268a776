"""Saved what-if scenarios in Neo4j, so analysts can find and compare them later:
``(:Scenario {id, name, mode, failed, failedRelationships, loadOverrides, modelVersion,
createdBy, createdAt, impacted, degraded, tripped, impactedCount, degradedCount,
trippedCount, summary})`` with ``(:Scenario)-[:FAILS]->(:Twin)`` to each failed asset.

The lists hold asset ids; ``failedRelationships`` holds ``"from TYPE to"`` texts and
``loadOverrides`` ``"asset=value"`` texts (a property cannot hold a map). A scenario is
written once and never changed: its result is the answer at ``modelVersion``. Its id's
unique constraint is created with the graph's others, before every load
(:mod:`graph.schema`), not per save.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, LiteralString

from neo4j import Driver

from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.reader import Reader

SAVE: LiteralString = """
CREATE (s:Scenario)
SET s = $scenario, s.createdAt = datetime()
WITH s
OPTIONAL MATCH (a:Twin) WHERE a.iri IN $failedIris
WITH s, collect(a) AS failed
FOREACH (a IN failed | CREATE (s)-[:FAILS]->(a))
RETURN s.createdAt AS createdAt
"""

FIELDS: LiteralString = """
RETURN s.id AS id, s.name AS name, s.mode AS mode, s.failed AS failed,
       s.failedRelationships AS failedRelationships, s.loadOverrides AS loadOverrides,
       s.modelVersion AS modelVersion, s.createdBy AS createdBy, s.createdAt AS createdAt,
       s.impacted AS impacted, s.degraded AS degraded, s.tripped AS tripped,
       s.impactedCount AS impactedCount, s.degradedCount AS degradedCount,
       s.trippedCount AS trippedCount, s.summary AS summary
"""

LIST: LiteralString = (
    "MATCH (s:Scenario) WHERE NOT s:Twin "
    "WITH s ORDER BY s.createdAt DESC, s.id LIMIT $first " + FIELDS
)
BY_IDS: LiteralString = "MATCH (s:Scenario) WHERE s.id IN $ids AND NOT s:Twin " + FIELDS


@dataclass(frozen=True, slots=True)
class ScenarioRecord:
    """A what-if scenario and its result, as saved."""

    id: str
    name: str
    mode: str
    failed: tuple[str, ...]
    failed_relationships: tuple[str, ...]
    load_overrides: tuple[str, ...]
    model_version: str
    created_by: str | None
    created_at: datetime | None  # None until saved
    impacted: tuple[str, ...]
    degraded: tuple[str, ...]
    tripped: tuple[str, ...]
    summary: str

    @classmethod
    def new(
        cls,
        name: str,
        mode: str,
        failed: Sequence[str],
        failed_relationships: Sequence[str],
        load_overrides: Sequence[str],
        model_version: str,
        created_by: str | None,
        impacted: Sequence[str],
        degraded: Sequence[str],
        tripped: Sequence[str],
        summary: str,
    ) -> ScenarioRecord:
        return cls(
            uuid.uuid4().hex[:12],
            name,
            mode,
            tuple(failed),
            tuple(failed_relationships),
            tuple(load_overrides),
            model_version,
            created_by,
            None,
            tuple(impacted),
            tuple(degraded),
            tuple(tripped),
            summary,
        )


def save_scenario(
    driver: Driver, scenario: ScenarioRecord, failed_iris: Sequence[str], database: str | None
) -> ScenarioRecord:
    """Write ``scenario`` (with FAILS relationships to ``failed_iris``) in one auto-commit
    statement; returns it with its creation time. Fails at once while Neo4j is away."""
    properties = {
        "id": scenario.id,
        "name": scenario.name,
        "mode": scenario.mode,
        "failed": list(scenario.failed),
        "failedRelationships": list(scenario.failed_relationships),
        "loadOverrides": list(scenario.load_overrides),
        "modelVersion": scenario.model_version,
        "createdBy": scenario.created_by,
        "impacted": list(scenario.impacted),
        "degraded": list(scenario.degraded),
        "tripped": list(scenario.tripped),
        "impactedCount": len(scenario.impacted),
        "degradedCount": len(scenario.degraded),
        "trippedCount": len(scenario.tripped),
        "summary": scenario.summary,
    }
    action = f"saving scenario {scenario.name!r}"
    with neo4j_errors(action), driver.session(database=database) as session:
        record = session.run(SAVE, scenario=properties, failedIris=list(failed_iris)).single()
    assert record is not None
    return _with_time(scenario, record["createdAt"])


def list_scenarios(reader: Reader, first: int) -> list[ScenarioRecord]:
    """The ``first`` most recent scenarios, newest first."""
    return [_record(row) for row in reader.rows(LIST, "listing scenarios", first=first)]


def scenarios_by_id(reader: Reader, ids: Sequence[str]) -> dict[str, ScenarioRecord]:
    """The scenarios among ``ids`` that exist, by id."""
    rows = reader.rows(BY_IDS, "reading scenarios", ids=list(ids))
    return {row["id"]: _record(row) for row in rows}


def _record(row: dict[str, Any]) -> ScenarioRecord:
    created = row["createdAt"]
    return ScenarioRecord(
        id=row["id"],
        name=row["name"],
        mode=row["mode"],
        failed=tuple(row["failed"] or ()),
        failed_relationships=tuple(row["failedRelationships"] or ()),
        load_overrides=tuple(row["loadOverrides"] or ()),
        model_version=row["modelVersion"],
        created_by=row["createdBy"],
        created_at=None if created is None else created.to_native(),
        impacted=tuple(row["impacted"] or ()),
        degraded=tuple(row["degraded"] or ()),
        tripped=tuple(row["tripped"] or ()),
        summary=row["summary"] or "",
    )


def _with_time(scenario: ScenarioRecord, created: Any) -> ScenarioRecord:
    return replace(scenario, created_at=created.to_native())
