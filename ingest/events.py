"""What the worker tells listeners after a write is committed (GraphQL subscriptions
listen): points updated, and points going stale or fresh again. Called from the worker's
finisher thread, in the order of the writes; a listener must hand them on quickly (e.g. to
an event loop)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kgtwin.ingest.raw import Value


@dataclass(frozen=True, slots=True)
class PointUpdate:
    point_iri: str
    point_id: str
    asset_id: str | None
    asset_labels: tuple[str, ...]
    value: Value
    unit: str
    observed_at: float  # epoch seconds
    received_at: float
    quality: str


@dataclass(frozen=True, slots=True)
class StalenessChange:
    point_iri: str
    point_id: str
    asset_id: str | None
    asset_labels: tuple[str, ...]
    stale: bool
    at: float  # epoch seconds


class LiveListener(Protocol):
    def points_updated(self, updates: Sequence[PointUpdate]) -> None: ...

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None: ...
