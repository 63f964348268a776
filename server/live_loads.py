"""Every node's load for the capacity what-if and the risk watch: its live load point's
value in the node's capacity unit, else its design load, else none."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import Enum

import strawberry

from kgtwin.graph.dependencies import LoadReading
from kgtwin.ontology.errors import UnitError
from kgtwin.ontology.units import Units
from kgtwin.simulation.snapshot import Snapshot, measured

logger = logging.getLogger(__name__)


@strawberry.enum(description="Where an asset's load came from.")
class LoadSource(Enum):
    OVERRIDE = "override"
    TELEMETRY = "telemetry"
    DESIGN = "design"
    NONE = "none"


def resolved_loads(
    snapshot: Snapshot, readings: Iterable[LoadReading], units: Units
) -> tuple[list[float | None], list[LoadSource], dict[int, str]]:
    """Every node's load: its live load point's, else its design load, else none; where
    each came from; and the load point of each node whose load is live."""
    values = list(map(measured, snapshot.design_load))
    sources = [LoadSource.NONE if v is None else LoadSource.DESIGN for v in values]
    points: dict[int, str] = {}
    for reading in readings:
        node = snapshot.index.get(reading.asset_iri)
        if node is None:
            continue
        live = live_load(units, reading, snapshot.capacity_unit[node])
        if live is not None:
            values[node], sources[node], points[node] = live, LoadSource.TELEMETRY, reading.point_id
    return values, sources, points


def live_load(units: Units, reading: LoadReading, capacity_unit: str | None) -> float | None:
    """The point's value in the capacity unit; None when stale, absent or unconvertible."""
    if reading.value is None or reading.stale or capacity_unit is None or reading.unit is None:
        return None
    try:
        return units.conversion(reading.unit, units.unit(capacity_unit))(reading.value)
    except UnitError as exc:
        logger.warning(
            "load point %s (%s) cannot give a load in %s: %s",
            reading.point_id,
            reading.unit,
            capacity_unit,
            exc,
        )
        return None
