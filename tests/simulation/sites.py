"""The example site as the telemetry simulator reads it from Neo4j, built without Neo4j:
the Turtle validated and mapped to a property graph (what a load would write), then the
points, the dependency snapshot and the locations taken from that graph as
``graph.live.read_points``, ``server.graph_cache.GraphCache`` and the ``LOCATED_IN``
edges give them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgtwin.graph.dependencies import AssetRow, Edges
from kgtwin.graph.live import PointRow
from kgtwin.graph.records import PropertyGraph
from kgtwin.ontology.validate import Ontology, validate
from kgtwin.simulation.snapshot import Snapshot, build_snapshot

REVERSED = "ConsumerToSupplier"


@dataclass(frozen=True, slots=True)
class Site:
    points: list[PointRow]
    snapshot: Snapshot
    locations: dict[str, str]  # asset IRI -> location IRI

    def point(self, point_id: str) -> PointRow:
        (row,) = (p for p in self.points if p.id == point_id)
        return row


def site_of(files: list[Path], ontology: Ontology) -> Site:
    graph = validate(files, ontology).raise_for_problems()
    vocabulary = ontology.vocabulary
    directions = {
        prop.rel_type: direction
        for prop in vocabulary.properties.values()
        if prop.kind == "object"
        and (direction := vocabulary.dependency_direction(prop.iri)) is not None
    }
    return Site(
        points=_points(graph),
        snapshot=build_snapshot(
            _edges(graph, set(directions)),
            set(directions),
            {t for t, d in directions.items() if d == REVERSED},
            "test",
            _assets(graph),
        ),
        locations={r.source: r.target for r in graph.rels if r.type == "LOCATED_IN"},
    )


def _points(graph: PropertyGraph) -> list[PointRow]:
    owner = {r.target: r.source for r in graph.rels if r.type == "HAS_POINT"}
    rows = []
    for node in graph.nodes.values():
        props = node.props
        if "Point" not in node.labels or "mqttTopic" not in props:
            continue
        asset = graph.nodes.get(owner.get(node.iri, ""))
        rows.append(
            PointRow(
                iri=node.iri,
                id=str(props["id"]),
                topic=str(props["mqttTopic"]),
                unit=_text(props.get("unit")),
                datatype=_text(props.get("datatype")),
                min_value=_number(props.get("minValue")),
                max_value=_number(props.get("maxValue")),
                expected_interval=_number(props.get("expectedInterval")),
                received_at_ms=None,
                stale=False,
                asset_id=None if asset is None else str(asset.props["id"]),
                asset_labels=() if asset is None else tuple(x for x in asset.labels if x != "Twin"),
                failed_when=flag if isinstance(flag := props.get("failedWhen"), bool) else None,
            )
        )
    return sorted(rows, key=lambda row: row.id)


def _assets(graph: PropertyGraph) -> list[AssetRow]:
    return [
        AssetRow(
            iri=node.iri,
            id=str(node.props["id"]),
            labels=frozenset(node.labels),
            policy=_text(node.props.get("redundancyPolicy")),
            required_suppliers=_integer(node.props.get("requiredSuppliers")),
            rated_capacity=_number(node.props.get("ratedCapacity")),
            capacity_unit=_text(node.props.get("capacityUnit")),
            design_load=_number(node.props.get("designLoad")),
            mtbf_hours=_number(node.props.get("mtbfHours")),
            mttr_hours=_number(node.props.get("mttrHours")),
        )
        for node in graph.nodes.values()
        if "Asset" in node.labels
    ]


def _edges(graph: PropertyGraph, types: set[str]) -> Edges:
    rels = sorted(r for r in graph.rels if r.type in types)
    ids = {iri: str(node.props["id"]) for iri, node in graph.nodes.items()}
    return Edges.of(
        sources=[r.source for r in rels],
        source_ids=[ids[r.source] for r in rels],
        targets=[r.target for r in rels],
        target_ids=[ids[r.target] for r in rels],
        types=[r.type for r in rels],
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
