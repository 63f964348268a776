"""What the worker tells listeners after a write is committed (the twin's events out,
:mod:`ingest.outbound`): points updated, points going stale or fresh again, and status
points whose report of their asset's failure changed. Called from the worker's finisher
thread, in the order of the writes; a listener must hand them on quickly (e.g. to a
publishing thread)."""

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
    model: str = ""


@dataclass(frozen=True, slots=True)
class StalenessChange:
    point_iri: str
    point_id: str
    asset_id: str | None
    asset_labels: tuple[str, ...]
    stale: bool
    at: float  # epoch seconds
    model: str = ""


@dataclass(frozen=True, slots=True)
class FailureChange:
    """A status point (``kgt:failedWhen``) that now reports its asset failed, or no longer
    does (another value, quality ``bad``, or the point went stale)."""

    point_iri: str
    point_id: str
    asset_id: str | None
    asset_labels: tuple[str, ...]
    failed: bool
    value: Value | None  # the value read; None when the point went stale
    observed_at: float | None  # epoch seconds, of that value
    at: float  # epoch seconds: when the worker saw the change
    model: str = ""


class LiveListener(Protocol):
    def points_updated(self, updates: Sequence[PointUpdate]) -> None: ...

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None: ...

    def failures_changed(self, changes: Sequence[FailureChange]) -> None: ...
