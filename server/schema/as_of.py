"""The live state as it was at a past moment, from history: the failures the telemetry
reported then and the loads it measured then, judged as the live state judges them now
(a status point reading its ``kgt:failedWhen`` value, not stale then, quality not bad; a
load point's value, unless stale then). What ``whatIf(asOf:)`` starts from.

The points come from the graph as it is today; their values at the moment from one SQL
statement per :data:`CHUNK` points.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from kgtwin.graph.dependencies import (
    LoadReading,
    ReportedFailure,
    read_load_points,
    read_status_points,
)
from kgtwin.ingest.history.reads import Sample
from kgtwin.server.schema.context import GraphInfo, loaders, reader
from kgtwin.server.schema.history import stale_then
from kgtwin.server.schema.loaders import in_thread

CHUNK = 10_000  # points per statement (PostgreSQL's protocol takes 65,535 parameters)


async def failures_then(info: GraphInfo, at: datetime) -> list[ReportedFailure]:
    """The failures the telemetry reported at ``at``, in asset id order."""
    points = await in_thread(read_status_points, reader(info))
    samples = await values_then(info, [p.point_iri for p in points], at)
    found = []
    for point in points:
        sample = samples.get(point.point_iri)
        if sample is None or sample.value is None or sample.quality == "bad":
            continue
        if (sample.value != 0) != point.failed_when:
            continue
        if stale_then(sample, point.expected_interval, at):
            continue
        observed = round(sample.time.timestamp() * 1000)
        found.append(
            ReportedFailure(
                point.asset_iri, point.asset_id, point.point_id, point.failed_when, observed
            )
        )
    return found


async def load_readings_then(info: GraphInfo, at: datetime) -> list[LoadReading]:
    """Every asset's load point with the value it had at ``at`` (None: none yet)."""
    readings = await in_thread(read_load_points, reader(info))
    samples = await values_then(info, [r.point_iri for r in readings], at)
    then = []
    for reading in readings:
        sample = samples.get(reading.point_iri)
        value = None if sample is None or sample.text is not None else sample.value
        stale = bool(stale_then(sample, reading.expected_interval, at))
        then.append(replace(reading, value=value, stale=stale))
    return then


async def values_then(info: GraphInfo, iris: list[str], at: datetime) -> dict[str, Sample]:
    """Each point's last sample at or before ``at``."""
    history = loaders(info).history_reader()
    found: dict[str, Sample] = {}
    for start in range(0, len(iris), CHUNK):
        found.update(await in_thread(history.values_at, iris[start : start + CHUNK], at))
    return found
