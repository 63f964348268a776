"""GraphQL types of twin nodes: assets, their points with live values, their relationships.

Each wraps a :class:`graph.nodes.TwinNode`; nested lists (classes, points, relationships)
go through the request's dataloaders.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from kgtwin.graph.nodes import IN, OUT, TwinNode
from kgtwin.ontology.catalogue import NODE_KEYS
from kgtwin.server.schema.context import GraphInfo, loaders, services
from kgtwin.server.schema.loaders import RelationQuery
from kgtwin.server.schema.ontology import OntologyClass
from kgtwin.server.schema.values import check_first, moment, number, plain

DEFAULT_NESTED_FIRST = 20
HIDDEN_KEYS = frozenset({"iri", "model", "modelKeys", *NODE_KEYS})


@strawberry.enum(description="Which relationships of a node: pointing out of it, into it, or both.")
class RelationDirection(Enum):
    OUT = "OUT"
    IN = "IN"
    BOTH = "BOTH"


@strawberry.type(description="A literal property of a node, with its unit when it has one.")
class PropertyValue:
    name: str
    value: JSON
    unit: str | None = strawberry.field(description="QUDT unit (local name), e.g. KiloW.")


async def _classes(info: GraphInfo, node: TwinNode) -> list[OntologyClass]:
    terms = await loaders(info).classes.load(node.labels)
    return [
        OntologyClass(
            iri=t.iri, name=t.name, label=t.label, comment=t.comment, parents=list(t.parents)
        )
        for t in terms
    ]


@strawberry.type(
    description="A twin node: an asset (or any node of the twin, such as a "
    "location, a system or a point), with its properties and neighbours."
)
class Asset:
    node: strawberry.Private[TwinNode]

    @strawberry.field
    def iri(self) -> str:
        return self.node.iri

    @strawberry.field(description="The IRI's local name, unique within its model.")
    def id(self) -> str:
        return self.node.id

    @strawberry.field
    def label(self) -> str | None:
        return _text(self.node.props.get("label"))

    @strawberry.field
    def comment(self) -> str | None:
        return _text(self.node.props.get("comment"))

    @strawberry.field(description="The model (site) the node was loaded from.")
    def model(self) -> str | None:
        return _text(self.node.props.get("model"))

    @strawberry.field(description="Its classes, most specific first.")
    async def classes(self, info: GraphInfo) -> list[OntologyClass]:
        return await _classes(info, self.node)

    @strawberry.field(
        description="The literal properties the model gives it, by name, with "
        "units (a capacity's unit is the node's capacityUnit)."
    )
    def properties(self, info: GraphInfo) -> list[PropertyValue]:
        catalogue = services(info).catalogue
        props = self.node.props
        return [
            PropertyValue(name=key, value=plain(props[key]), unit=catalogue.unit_of(key, props))
            for key in sorted(self.node.model_keys)
            if key not in HIDDEN_KEYS and key in props
        ]

    @strawberry.field(description="Its telemetry points (HAS_POINT), by id.")
    async def points(self, info: GraphInfo, first: int = DEFAULT_NESTED_FIRST) -> list[Point]:
        check_first(first, services(info).settings)
        found = await loaders(info).points.load((self.node.iri, first))
        return [Point(node=p) for p in found]

    @strawberry.field(
        description="Its relationships, by type, direction and the other end's "
        "id; `types` limits them to those relationship types."
    )
    async def relationships(
        self,
        info: GraphInfo,
        direction: RelationDirection = RelationDirection.BOTH,
        types: list[str] | None = None,
        first: int = DEFAULT_NESTED_FIRST,
    ) -> list[Relation]:
        check_first(first, services(info).settings)
        checked = None
        if types is not None:
            checked = (await loaders(info).terms()).check_relationships(types)
        query = RelationQuery(
            types=checked,
            outgoing=direction is not RelationDirection.IN,
            incoming=direction is not RelationDirection.OUT,
            limit=first,
        )
        found = await loaders(info).relationships.load((self.node.iri, query))
        return [
            Relation(
                type=r.type,
                direction=RelationDirection.OUT if r.direction == OUT else RelationDirection.IN,
                other=Asset(node=r.other),
            )
            for r in found
            if r.direction in (OUT, IN)
        ]


@strawberry.type(description="A relationship of a node and the node at its other end.")
class Relation:
    type: str = strawberry.field(description="The relationship type, e.g. FEEDS.")
    direction: RelationDirection = strawberry.field(
        description="OUT: from this node to `other`; IN: from `other` to this node."
    )
    other: Asset


@strawberry.type(
    description="A telemetry point with its live value (null until telemetry arrives)."
)
class Point:
    node: strawberry.Private[TwinNode]

    @strawberry.field
    def iri(self) -> str:
        return self.node.iri

    @strawberry.field
    def id(self) -> str:
        return self.node.id

    @strawberry.field
    def label(self) -> str | None:
        return _text(self.node.props.get("label"))

    @strawberry.field(description="Its classes, most specific first.")
    async def classes(self, info: GraphInfo) -> list[OntologyClass]:
        return await _classes(info, self.node)

    @strawberry.field(description="QUDT unit of its values (local name), e.g. KiloW.")
    def unit(self) -> str | None:
        return _text(self.node.props.get("unit"))

    @strawberry.field(description="double, integer, boolean or string.")
    def datatype(self) -> str | None:
        return _text(self.node.props.get("datatype"))

    @strawberry.field
    def mqtt_topic(self) -> str | None:
        return _text(self.node.props.get("mqttTopic"))

    @strawberry.field(description="How often it should report, in seconds.")
    def expected_interval(self) -> float | None:
        return number(self.node.props.get("expectedInterval"))

    @strawberry.field
    def min_value(self) -> float | None:
        return number(self.node.props.get("minValue"))

    @strawberry.field
    def max_value(self) -> float | None:
        return number(self.node.props.get("maxValue"))

    @strawberry.field(description="The latest value, in `unit`.")
    def value(self) -> JSON | None:
        value = self.node.props.get("value")
        return None if value is None else plain(value)

    @strawberry.field(description="When the source measured the latest value.")
    def observed_at(self) -> datetime | None:
        return moment(self.node.props.get("observedAt"))

    @strawberry.field(description="When the twin received the latest value.")
    def received_at(self) -> datetime | None:
        return moment(self.node.props.get("receivedAt"))

    @strawberry.field
    def quality(self) -> str | None:
        return _text(self.node.props.get("quality"))

    @strawberry.field(description="True when the point has not reported for too long.")
    def stale(self) -> bool | None:
        stale = self.node.props.get("stale")
        return stale if isinstance(stale, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
