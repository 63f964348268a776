"""Does the simulation match what happened? ``compareWithObserved`` runs a capacity
what-if from the loads the telemetry measured at a moment before a failure (from history),
and sets each load it predicts beside the load history observed over a window after: per
asset the what-if moved load onto, the predicted load, the observed average, the error, and
over them all the mean absolute percentage error (MAPE).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import strawberry

from kgtwin.graph.dependencies import read_load_points
from kgtwin.graph.scenarios import scenarios_by_id
from kgtwin.ingest.history.reads import utc
from kgtwin.server.live_loads import live_load
from kgtwin.server.schema.context import GraphInfo, loaders, reader, services
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.loaders import in_thread
from kgtwin.server.schema.whatif import WhatIfMode, what_if
from kgtwin.server.schema.whatif_inputs import LoadInput, RelationshipInput


@strawberry.type(description="An asset the what-if moved load onto: predicted and observed.")
class ObservedLoad:
    id: str
    point: str | None = strawberry.field(description="The load point history was read from.")
    unit: str | None = strawberry.field(description="The asset's capacity unit.")
    predicted: float = strawberry.field(description="Its load after the failure, predicted.")
    observed: float | None = strawberry.field(
        description="Its load point's average over the window (null: no load point, or no "
        "sample in the window)."
    )
    error: float | None = strawberry.field(description="observed - predicted.")
    percent_error: float | None = strawberry.field(
        description="|observed - predicted| / observed, in percent (null: nothing observed)."
    )


@strawberry.type(
    description="A capacity what-if from the loads before a failure, beside what history "
    "observed after it."
)
class ObservedComparison:
    scenario: str | None = strawberry.field(description="The saved scenario's id, if one.")
    failed: list[str]
    baseline_at: datetime = strawberry.field(
        description="The moment whose measured loads the what-if started from."
    )
    from_: datetime = strawberry.field(name="from")
    to: datetime
    assets: list[ObservedLoad]
    compared: int = strawberry.field(description="Assets with an observed load.")
    mape: float | None = strawberry.field(
        description="Mean absolute percentage error over the compared assets, in percent."
    )
    summary: str


async def compare_with_observed(
    info: GraphInfo,
    scenario: str | None,
    fail: Sequence[str],
    start: datetime,
    end: datetime,
    baseline_at: datetime | None,
) -> ObservedComparison:
    start, end = utc(start), utc(end)
    if end <= start:
        raise BadUserInput("compareWithObserved: `to` must be after `from`")
    baseline = start if baseline_at is None else utc(baseline_at)
    settings = services(info).settings
    if (end - start).days > settings.max_history_span_days:
        raise BadUserInput(
            f"compareWithObserved: the window is {(end - start).days:,} days; at most "
            f"{settings.max_history_span_days:,} (max_history_span_days)",
            bound="max_history_span_days",
            limit=settings.max_history_span_days,
        )
    failed, cut, overrides = await _inputs(info, scenario, fail)
    result = await what_if(info, failed, cut, WhatIfMode.CAPACITY, overrides, False, baseline)
    run = result.scenario
    snapshot, cascade = run.snapshot, run.cascade
    assert cascade is not None  # CAPACITY mode
    moved_onto = [n for n in cascade.loads if n not in run.failed]
    readings = {r.asset_iri: r for r in await in_thread(read_load_points, reader(info))}
    points = [readings[snapshot.iris[n]] for n in moved_onto if snapshot.iris[n] in readings]
    averages = await in_thread(
        loaders(info).history_reader().averages, [r.point_iri for r in points], start, end
    )
    units = services(info).units
    assets = []
    for node in moved_onto:
        reading = readings.get(snapshot.iris[node])
        unit = snapshot.capacity_unit[node]
        observed = None
        if reading is not None and reading.point_iri in averages:
            average = averages[reading.point_iri]
            observed = live_load(units, replace(reading, value=average, stale=False), unit)
        predicted = cascade.loads[node]
        error = None if observed is None else observed - predicted
        percent = (
            None
            if observed is None or error is None or observed <= 0
            else abs(error) / observed * 100
        )
        assets.append(
            ObservedLoad(
                id=snapshot.ids[node],
                point=None if reading is None else reading.point_id,
                unit=unit,
                predicted=predicted,
                observed=observed,
                error=error,
                percent_error=percent,
            )
        )
    percents = [a.percent_error for a in assets if a.percent_error is not None]
    mape = sum(percents) / len(percents) if percents else None
    summary = f"{len(assets)} asset(s) took on load in the what-if; {len(percents)} observed: " + (
        "nothing to compare" if mape is None else f"mean absolute percentage error {mape:.1f}%"
    )
    return ObservedComparison(
        scenario=scenario,
        failed=result.failed,
        baseline_at=baseline,
        from_=start,
        to=end,
        assets=assets,
        compared=len(percents),
        mape=None if mape is None or math.isnan(mape) else mape,
        summary=summary,
    )


async def _inputs(
    info: GraphInfo, scenario: str | None, fail: Sequence[str]
) -> tuple[list[str], list[RelationshipInput], list[LoadInput]]:
    """The failures (and relationships, load overrides) to compare: a saved scenario's or
    ``fail``, exactly one of them."""
    if (scenario is None) == (not fail):
        raise BadUserInput("compareWithObserved: give exactly one of `scenario` and `fail`")
    if scenario is None:
        return list(fail), [], []
    found = (await in_thread(scenarios_by_id, reader(info), [scenario])).get(scenario)
    if found is None:
        raise BadUserInput(f"compareWithObserved: no saved scenario has the id {scenario!r}")
    cut = []
    for pair in found.failed_relationships:
        supplier, _, consumer = pair.partition(" -> ")
        cut.append(RelationshipInput(from_=supplier, to=consumer))
    overrides = []
    for override in found.load_overrides:
        asset, _, value = override.rpartition("=")
        overrides.append(LoadInput(asset=asset, value=float(value)))
    return list(found.failed), cut, overrides
