"""The root ``Subscription`` type: live values, staleness and risk as the twin's event stream
carries them (:mod:`server.live`), for the assets a client asks about.

Each subscription opens a :class:`server.live.Feed` with its filter when it starts and
closes it when it ends, however it ends (the client completes it, disconnects, or the
server stops). The arguments are checked before anything streams: the viewer role, an
``assetId`` that names a node, a ``class`` of the ontology; a bad one is an error of the
operation (``NOT_FOUND``, ``UNKNOWN_CLASS`` with the choices, ``UNAUTHENTICATED``...), sent
instead of any event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, TypeVar, cast

import strawberry
from strawberry.scalars import JSON

from kgtwin.ingest import events
from kgtwin.server.auth import Role
from kgtwin.server.live import Feed, LiveHub, RiskEvent
from kgtwin.server.schema.context import GraphInfo, loaders, services
from kgtwin.server.schema.lookup import find_node
from kgtwin.server.schema.permissions import require_role
from kgtwin.server.schema.values import plain

E = TypeVar("E", events.PointUpdate, events.StalenessChange, RiskEvent)
T = TypeVar("T")

MISSED = (
    "Events of this subscription dropped just before this one because the client did not "
    "read them fast enough (0 when none were)."
)

AssetIdArgument = Annotated[
    str | None,
    strawberry.argument(description="Only the points of this asset (its id)."),
]
ClassArgument = Annotated[
    str | None,
    strawberry.argument(
        name="class",
        description="Only the points of assets of this class or of a subclass (e.g. UPS).",
    ),
]


@strawberry.type(description="A live value the ingestion worker has just written to a point.")
class PointUpdate:
    point_id: str
    point_iri: str
    asset_id: str | None = strawberry.field(description="The asset the point reports on.")
    value: JSON = strawberry.field(description="The value, in `unit`.")
    unit: str = strawberry.field(description="QUDT unit (local name), e.g. KiloW.")
    observed_at: datetime = strawberry.field(description="When the source measured it.")
    received_at: datetime = strawberry.field(description="When the twin received it.")
    quality: str
    missed: int = strawberry.field(default=0, description=MISSED)


@strawberry.type(description="A point that went stale (no data for too long) or fresh again.")
class StalenessChange:
    point_id: str
    point_iri: str
    asset_id: str | None = strawberry.field(description="The asset the point reports on.")
    stale: bool
    at: datetime = strawberry.field(description="When the worker noticed the change.")
    missed: int = strawberry.field(default=0, description=MISSED)


@strawberry.type(
    description="A change of the twin's risk, from the live risk watch (docs/events.md): "
    "assetDown / assetUp, redundancyLost / redundancyRestored, newSinglePointOfFailure / "
    "singlePointOfFailureCleared, capacityAtRisk / capacityRiskCleared."
)
class RiskChange:
    kind: str = strawberry.field(description="The event's kind, e.g. redundancyLost.")
    model: str
    asset_id: str = strawberry.field(description="The asset the risk is about.")
    path: list[str] = strawberry.field(
        description="The explanation: asset ids from a reported failure to this asset "
        "(for a single point of failure: from it to a target it would take down)."
    )
    detail: JSON = strawberry.field(description="The event's data, as published.")
    at: datetime = strawberry.field(description="When the risk watch saw the change.")
    missed: int = strawberry.field(default=0, description=MISSED)


@dataclass(frozen=True, slots=True)
class LiveFilter:
    """Which events a subscription wants: those of one asset and/or of assets of a class
    (an event carries its asset's labels: its class and every superclass)."""

    asset_id: str | None = None
    label: str | None = None

    def accepts(self, event: events.PointUpdate | events.StalenessChange | RiskEvent) -> bool:
        return self.matches(event.asset_id, event.asset_labels)

    def matches(self, asset_id: str | None, labels: Collection[str]) -> bool:
        """Whether the filter takes what is about ``asset_id``, an asset with ``labels``."""
        return (self.asset_id is None or asset_id == self.asset_id) and (
            self.label is None or self.label in labels
        )


async def checked_filter(
    info: GraphInfo, asset_id: str | None, class_name: str | None
) -> LiveFilter:
    """The filter of a subscription's arguments, after the role and the arguments are
    checked: the asset must exist, the class must be one of the ontology's."""
    require_role(info, Role.VIEWER)
    label = None
    if class_name is not None:
        label = (await loaders(info).terms()).check_class(class_name).name
    if asset_id is not None:
        await find_node(info, asset_id, None)
    return LiveFilter(asset_id, label)


def point_update(event: events.PointUpdate, missed: int) -> PointUpdate:
    return PointUpdate(
        point_id=event.point_id,
        point_iri=event.point_iri,
        asset_id=event.asset_id,
        value=plain(event.value),
        unit=event.unit,
        observed_at=_moment(event.observed_at),
        received_at=_moment(event.received_at),
        quality=event.quality,
        missed=missed,
    )


def staleness_change(event: events.StalenessChange, missed: int) -> StalenessChange:
    return StalenessChange(
        point_id=event.point_id,
        point_iri=event.point_iri,
        asset_id=event.asset_id,
        stale=event.stale,
        at=_moment(event.at),
        missed=missed,
    )


def risk_change(event: RiskEvent, missed: int) -> RiskChange:
    path = event.data.get("path")
    return RiskChange(
        kind=event.kind,
        model=event.model,
        asset_id=event.asset_id,
        path=[str(p) for p in path] if isinstance(path, list) else [],
        detail=cast(JSON, event.data),
        at=_moment(event.at),
        missed=missed,
    )


async def stream(
    hub: LiveHub,
    open_feed: Callable[[Callable[[E], bool]], Feed[E]],
    accepts: Callable[[E], bool],
    convert: Callable[[E, int], T],
) -> AsyncGenerator[T, None]:
    """The events of a feed opened when the stream starts, closed when it ends."""
    feed = open_feed(accepts)
    try:
        async for event, missed in feed:
            yield convert(event, missed)
    finally:
        hub.close(feed)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each live value as it is written, for the points of the assets "
        "asked for (all points when no filter is given)."
    )
    async def point_updated(
        self,
        info: GraphInfo,
        asset_id: AssetIdArgument = None,
        class_: ClassArgument = None,
    ) -> AsyncGenerator[PointUpdate, None]:
        wanted = await checked_filter(info, asset_id, class_)
        hub = services(info).live
        return stream(hub, hub.open_updates, wanted.accepts, point_update)

    @strawberry.subscription(
        description="Points going stale (no data for three of their expected intervals) "
        "and fresh again (data arrived), for the points of the assets asked for."
    )
    async def staleness_changed(
        self,
        info: GraphInfo,
        asset_id: AssetIdArgument = None,
        class_: ClassArgument = None,
    ) -> AsyncGenerator[StalenessChange, None]:
        wanted = await checked_filter(info, asset_id, class_)
        hub = services(info).live
        return stream(hub, hub.open_staleness, wanted.accepts, staleness_change)

    @strawberry.subscription(
        description="Each change of the twin's risk as the live risk watch finds it "
        "(assets down, redundancy lost or restored, new single points of failure, capacity "
        "at risk), for the assets asked for; `risks` gives the present."
    )
    async def risk_changed(
        self,
        info: GraphInfo,
        asset_id: AssetIdArgument = None,
        class_: ClassArgument = None,
    ) -> AsyncGenerator[RiskChange, None]:
        wanted = await checked_filter(info, asset_id, class_)
        hub = services(info).live
        return stream(hub, hub.open_risks, wanted.accepts, risk_change)


def _moment(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)
