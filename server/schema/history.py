"""History in GraphQL: a point's samples over a window (raw or one aggregate per step),
and the value it had at a moment; each bound a request may not pass, named when it does.

The samples come through the request's dataloaders (:mod:`server.schema.loaders`): every
point asking for the same window shares one SQL statement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import strawberry
from strawberry.scalars import JSON

from kgtwin.graph.nodes import TwinNode
from kgtwin.ingest.history.reads import Aggregate, Sample, Step, Window, utc
from kgtwin.ingest.worker import STALE_AFTER
from kgtwin.server.schema.context import GraphInfo, loaders
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.loaders import HistoryQuery
from kgtwin.server.settings import Settings

DEFAULT_HISTORY_FIRST = 1000


# history's own enum, named for the schema
strawberry.enum(
    Aggregate,
    name="HistoryAggregate",
    description="How the samples within one step of `every` are combined.",
)


@strawberry.type(
    description="A value a point had: a raw sample (`time` is when the source measured it), "
    "or the aggregate of the step of `every` that starts at `time`."
)
class HistorySample:
    time: datetime
    value: JSON | None = strawberry.field(
        description="In the point's unit: a number, boolean or string (raw); a number "
        "(aggregate; a count for COUNT)."
    )
    quality: str | None = strawberry.field(description="good, uncertain or bad (raw only).")
    received_at: datetime | None = strawberry.field(
        description="When the twin received it (raw only)."
    )


def history_query(
    settings: Settings,
    start: datetime,
    end: datetime,
    every: str | None,
    aggregate: Aggregate,
    first: int | None,
) -> HistoryQuery:
    """The window asked for, checked against the server's bounds (each error names the
    bound and its setting); ``first`` None is :data:`DEFAULT_HISTORY_FIRST`, or
    max_history_rows when that is lower."""
    if first is None:
        first = min(DEFAULT_HISTORY_FIRST, settings.max_history_rows)
    if not 1 <= first <= settings.max_history_rows:
        raise BadUserInput(
            f"history: `first` must be between 1 and {settings.max_history_rows:,} "
            f"(max_history_rows, KGTWIN_MAX_HISTORY_ROWS), got {first:,}",
            bound="max_history_rows",
            limit=settings.max_history_rows,
        )
    start, end = utc(start), utc(end)
    if end <= start:
        raise BadUserInput(
            f"history: `to` ({end.isoformat()}) must be after `from` ({start.isoformat()})"
        )
    span = end - start
    most = timedelta(days=settings.max_history_span_days)
    if span > most:
        raise BadUserInput(
            f"history: from {start.isoformat()} to {end.isoformat()} is {span.days:,} days; "
            f"at most {settings.max_history_span_days:,} (max_history_span_days, "
            "KGTWIN_MAX_HISTORY_SPAN_DAYS): ask for a shorter window",
            bound="max_history_span_days",
            limit=settings.max_history_span_days,
        )
    step = None
    if every is not None:
        try:
            step = Step.parse(every)
        except ValueError as exc:
            raise BadUserInput(f"history: {exc}") from None
    window = Window(start, end, step, aggregate)
    if step is not None and window.steps() > first:
        raise BadUserInput(
            f"history: every {step} from {start.isoformat()} to {end.isoformat()} is "
            f"{window.steps():,} steps, more than `first` ({first:,}): give a larger `every`, "
            "a shorter window or a larger `first`",
            bound="first",
            limit=first,
        )
    return HistoryQuery(window, first)


async def samples_of(info: GraphInfo, node: TwinNode, query: HistoryQuery) -> list[HistorySample]:
    """``node``'s samples in the window; more than ``query.limit`` raw ones is an error."""
    found = await loaders(info).samples.load((node.iri, query))
    if len(found) > query.limit:
        window = query.window
        raise BadUserInput(
            f"history: point {node.id!r} has more than `first` ({query.limit:,}) samples from "
            f"{window.start.isoformat()} to {window.end.isoformat()}: give `every` (an "
            "aggregate per step), a shorter window or a larger `first` (at most "
            "max_history_rows)",
            bound="first",
            limit=query.limit,
        )
    aggregated = query.window.every is not None
    return [graphql_sample(sample, node, aggregated) for sample in found]


async def value_then(info: GraphInfo, node: TwinNode, at: datetime) -> Sample | None:
    """``node``'s last sample at or before ``at``."""
    return await loaders(info).values_at.load((node.iri, utc(at)))


def graphql_sample(sample: Sample, node: TwinNode, aggregated: bool = False) -> HistorySample:
    value: Any = sample.value if aggregated else sample_value(sample, node)
    return HistorySample(
        time=sample.time, value=value, quality=sample.quality, received_at=sample.received
    )


def sample_value(sample: Sample, node: TwinNode) -> Any:
    """A raw sample's value as the point's datatype has it (history keeps numbers)."""
    if sample.text is not None:
        return sample.text
    value = sample.value
    if value is None:
        return None
    datatype = node.props.get("datatype")
    if datatype == "boolean":
        return value != 0
    if datatype == "integer" and value.is_integer():
        return int(value)
    return value


def stale_then(sample: Sample | None, interval: object, at: datetime) -> bool | None:
    """Whether a point was stale at ``at`` (as the worker judges it: no sample for
    :data:`STALE_AFTER` of its expected ``interval``, in seconds); None when it had never
    reported, or has no interval."""
    if sample is None:
        return None
    if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
        return None
    return (utc(at) - sample.time).total_seconds() > STALE_AFTER * interval
