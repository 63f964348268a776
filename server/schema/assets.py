"""GraphQL types of twin nodes: assets, their points with live values, their relationships.

Each wraps a :class:`graph.nodes.TwinNode`; nested lists (classes, points, relationships)
go through the request's dataloaders.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kgtwin.graph.nodes import IN, OUT, TwinNode
from kgtwin.ingest.history.reads import Aggregate
from kgtwin.ontology.catalogue import NODE_KEYS
from kgtwin.server.schema.context import GraphInfo, loaders, services
from kgtwin.server.schema.history import (
    HistorySample,
    graphql_sample,
    history_query,
    sample_value,
    samples_of,
    stale_then,
    value_then,
)
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
    then: strawberry.Private[datetime | None] = None  # asOf: its points' values then

    @strawberry.field(
        description="The moment its points' values are as of (`asset(asOf:)`); null: now."
    )
    def as_of(self) -> datetime | None:
        return self.then

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
        return [Point(node=p, then=self.then) for p in found]

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
                other=Asset(node=r.other, then=self.then),
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
    then: strawberry.Private[datetime | None] = None  # asOf: the value it had then

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

    @strawberry.field(
        description="The latest value, in `unit` (under `asset(asOf:)`, the value it had then)."
    )
    async def value(self, info: GraphInfo) -> JSON | None:
        if self.then is not None:
            sample = await value_then(info, self.node, self.then)
            return None if sample is None else sample_value(sample, self.node)
        value = self.node.props.get("value")
        return None if value is None else plain(value)

    @strawberry.field(description="When the source measured the latest value.")
    async def observed_at(self, info: GraphInfo) -> datetime | None:
        if self.then is not None:
            sample = await value_then(info, self.node, self.then)
            return None if sample is None else sample.time
        return moment(self.node.props.get("observedAt"))

    @strawberry.field(description="When the twin received the latest value.")
    async def received_at(self, info: GraphInfo) -> datetime | None:
        if self.then is not None:
            sample = await value_then(info, self.node, self.then)
            return None if sample is None else sample.received
        return moment(self.node.props.get("receivedAt"))

    @strawberry.field
    async def quality(self, info: GraphInfo) -> str | None:
        if self.then is not None:
            sample = await value_then(info, self.node, self.then)
            return None if sample is None else sample.quality
        return _text(self.node.props.get("quality"))

    @strawberry.field(description="True when the point has not reported for too long.")
    async def stale(self, info: GraphInfo) -> bool | None:
        if self.then is not None:
            sample = await value_then(info, self.node, self.then)
            return stale_then(sample, self.node.props.get("expectedInterval"), self.then)
        stale = self.node.props.get("stale")
        return stale if isinstance(stale, bool) else None

    @strawberry.field(
        description="Its samples from `from` to `to` (`to` left out), oldest first: raw "
        "without `every` (more than `first` is an error); with `every` (30s, 1m, 15m, 1h, "
        "1d ...), one `aggregate` per step that has samples, steps aligned to the calendar "
        "(UTC), at most `first` steps. `first` defaults to 1,000 (or max_history_rows)."
    )
    async def history(
        self,
        info: GraphInfo,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        every: str | None = None,
        aggregate: Aggregate = Aggregate.AVERAGE,
        first: int | None = None,
    ) -> list[HistorySample]:
        query = history_query(services(info).settings, from_, to, every, aggregate, first)
        return await samples_of(info, self.node, query)

    @strawberry.field(description="The value it had at `time`: its last sample at or before it.")
    async def value_at(self, info: GraphInfo, time: datetime) -> HistorySample | None:
        sample = await value_then(info, self.node, time)
        return None if sample is None else graphql_sample(sample, self.node)


@strawberry.type(description="A point and its samples over the window asked for.")
class PointHistory:
    point: Point
    samples: list[HistorySample]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
