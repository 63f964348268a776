"""What the in-memory dependency snapshot is built from, read in bulk: the dependency
edges, the assets with their redundancy, capacity and reliability; and what a what-if reads
live: the assets' load points and the failures their telemetry reports.

One statement returns every edge of the given relationship types as parallel lists (one
row: a row per edge would cost the driver more than Neo4j takes to find them). Types must
have been checked against the ontology; they reach Cypher as a parameter only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import LiteralString

from kgtwin.graph.engine_types import HAS_POINT_EDGE, LOAD_POINT_TYPES, POINT_TYPES
from kgtwin.graph.reader import Reader
from kgtwin.graph.visibility import HIDDEN_MODELS, visible

DEPENDENCY_EDGES: LiteralString = (
    HIDDEN_MODELS
    + """
MATCH (a:Twin)-[r]->(b:Twin) WHERE type(r) IN $types AND """
    + visible("a")
    + """
RETURN collect(a.iri) AS sources, collect(a.id) AS source_ids,
       collect(b.iri) AS targets, collect(b.id) AS target_ids, collect(type(r)) AS types
"""
)


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


# one list per asset (collect() would drop the nulls of absent properties); labels sorted
ASSET_ATTRIBUTES: LiteralString = (
    HIDDEN_MODELS
    + """
MATCH (a:Twin:Asset) WHERE """
    + visible("a")
    + """
RETURN collect([a.iri, a.id, a.redundancyPolicy, a.requiredSuppliers, a.ratedCapacity,
                a.capacityUnit, a.designLoad, a.mtbfHours, a.mttrHours]) AS rows,
       collect(labels(a)) AS labels
"""
)


@dataclass(frozen=True, slots=True)
class AssetRow:
    """What the what-if engine needs of one asset, as the model gives it (None: absent)."""

    iri: str
    id: str
    labels: frozenset[str]
    policy: str | None
    required_suppliers: int | None
    rated_capacity: float | None
    capacity_unit: str | None
    design_load: float | None
    mtbf_hours: float | None
    mttr_hours: float | None


def read_assets(reader: Reader) -> list[AssetRow]:
    """Every asset with its redundancy, capacity and reliability properties, in one
    statement. Label sets are shared between assets of the same classes."""
    (row,) = reader.rows(ASSET_ATTRIBUTES, "reading the assets' what-if properties")
    shared: dict[frozenset[str], frozenset[str]] = {}
    assets = []
    for values, labels in zip(row["rows"], row["labels"], strict=True):
        label_set = frozenset(labels)
        label_set = shared.setdefault(label_set, label_set)
        iri, node_id, policy, k, capacity, unit, design, mtbf, mttr = values
        assets.append(
            AssetRow(
                iri,
                node_id,
                label_set,
                policy,
                k,
                _number(capacity),
                unit,
                _number(design),
                _number(mtbf),
                _number(mttr),
            )
        )
    return assets


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


LOAD_POINTS: LiteralString = (
    LOAD_POINT_TYPES
    + """
MATCH (a:Twin:Asset)-[r]-(p:Twin)
WHERE (type(r) IN loadPointTypes AND startNode(r) = a)
   OR (type(r) IN loadPointOfTypes AND endNode(r) = a)
RETURN DISTINCT a.iri AS asset, p.id AS point, p.unit AS unit, p.value AS value,
       p.stale AS stale
"""
)


@dataclass(frozen=True, slots=True)
class LoadReading:
    """An asset's load point (``kgt:loadPoint``) and its live value, if any."""

    asset_iri: str
    point_id: str
    unit: str | None
    value: float | None  # None: never reported, or not a number
    stale: bool


def read_load_points(reader: Reader) -> list[LoadReading]:
    """Every asset's load point with its current live value, in one statement."""
    rows = reader.rows(LOAD_POINTS, "reading the assets' load points")
    return [
        LoadReading(r["asset"], r["point"], r["unit"], _number(r["value"]), bool(r["stale"]))
        for r in rows
    ]


REPORTED_FAILURES: LiteralString = (
    POINT_TYPES
    + """
MATCH (p:Point:Twin) WHERE p.failedWhen IS NOT NULL AND p.value = p.failedWhen
  AND coalesce(p.stale, false) = false AND coalesce(p.quality, 'good') <> 'bad'
MATCH (a:Twin:Asset)-[r]-(p) WHERE"""
    + HAS_POINT_EDGE
    + """
WITH DISTINCT a, p
RETURN a.iri AS asset, a.id AS asset_id, p.id AS point, p.value AS value,
       p.observedAt.epochMillis AS observed
ORDER BY asset_id, point
"""
)


@dataclass(frozen=True, slots=True)
class ReportedFailure:
    """An asset whose status point reads its ``kgt:failedWhen`` value right now."""

    asset_iri: str
    asset_id: str
    point_id: str
    value: bool
    observed_at_ms: int | None


def read_reported_failures(reader: Reader) -> list[ReportedFailure]:
    """Every failure the live telemetry reports, in one statement: status points whose
    value equals their ``kgt:failedWhen``, unless stale or of quality ``bad`` (a point that
    went silent, or measured nothing, reports nothing)."""
    rows = reader.rows(REPORTED_FAILURES, "reading the failures the telemetry reports")
    return [
        ReportedFailure(r["asset"], r["asset_id"], r["point"], r["value"], r["observed"])
        for r in rows
    ]
