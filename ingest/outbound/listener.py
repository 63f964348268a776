"""The ingestion worker's listener that turns what it wrote into twin events: each batch's
values (``pointsUpdated``, one event per model and at most :data:`POINTS_PER_EVENT` points),
points going stale or fresh, and failures reported and cleared."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kgtwin.ingest.events import FailureChange, PointUpdate, StalenessChange
from kgtwin.ingest.outbound.envelope import TwinEvent
from kgtwin.ingest.outbound.kinds import Kind
from kgtwin.ingest.outbound.publisher import EventPublisher

POINTS_PER_EVENT = 500


class EventListener:
    """A :class:`ingest.events.LiveListener` publishing what it is told."""

    def __init__(self, publisher: EventPublisher, source: str) -> None:
        self.publisher = publisher
        self.source = source  # the CloudEvents source: which kgtwin process says it

    def points_updated(self, updates: Sequence[PointUpdate]) -> None:
        by_model: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for u in updates:
            by_model[u.model].append(
                {
                    "pointId": u.point_id,
                    "pointIri": u.point_iri,
                    "assetId": u.asset_id,
                    "assetClasses": list(u.asset_labels),
                    "value": u.value,
                    "unit": u.unit,
                    "observedAt": moment(u.observed_at),
                    "receivedAt": moment(u.received_at),
                    "quality": u.quality,
                }
            )
        now = max((u.received_at for u in updates), default=0.0)
        events = [
            TwinEvent(
                Kind.POINTS_UPDATED,
                model,
                {"model": model, "points": points[first : first + POINTS_PER_EVENT]},
                time=now,
                source=self.source,
            )
            for model, points in by_model.items()
            for first in range(0, len(points), POINTS_PER_EVENT)
        ]
        self.publisher.publish(events)

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None:
        self.publisher.publish(
            TwinEvent(
                Kind.POINT_STALE if c.stale else Kind.POINT_FRESH,
                c.model,
                {
                    "model": c.model,
                    "pointId": c.point_id,
                    "pointIri": c.point_iri,
                    "assetId": c.asset_id,
                    "assetClasses": list(c.asset_labels),
                    "stale": c.stale,
                    "at": moment(c.at),
                },
                subject=c.point_id,
                time=c.at,
                source=self.source,
            )
            for c in changes
        )

    def failures_changed(self, changes: Sequence[FailureChange]) -> None:
        self.publisher.publish(
            TwinEvent(
                Kind.FAILURE_REPORTED if c.failed else Kind.FAILURE_CLEARED,
                c.model,
                {
                    "model": c.model,
                    "assetId": c.asset_id,
                    "assetClasses": list(c.asset_labels),
                    "pointId": c.point_id,
                    "pointIri": c.point_iri,
                    "failed": c.failed,
                    "value": c.value,
                    "observedAt": None if c.observed_at is None else moment(c.observed_at),
                    "at": moment(c.at),
                },
                subject=c.asset_id,
                time=c.at,
                source=self.source,
            )
            for c in changes
        )


def moment(epoch_seconds: float) -> str:
    """RFC 3339, UTC."""
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")
