"""Failures the live telemetry reports: assets whose status point reads the value its
``kgt:failedWhen`` says means failed (not stale, quality not ``bad``). ``whatIf`` with
``fromLiveState`` starts from them; ``reportedFailures`` lists them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from kgtwin.graph.dependencies import ReportedFailure as Reported
from kgtwin.graph.dependencies import read_reported_failures
from kgtwin.server.schema.context import GraphInfo, reader
from kgtwin.server.schema.loaders import in_thread
from kgtwin.server.schema.values import moment


@strawberry.type(
    description="An asset the telemetry reports failed: its status point reads the value "
    "the model gives as failed (kgt:failedWhen), and is neither stale nor of bad quality."
)
class ReportedFailure:
    id: str = strawberry.field(description="The asset's id.")
    iri: str
    point: str = strawberry.field(description="The status point's id.")
    value: bool
    observed_at: datetime | None


async def read_failures(info: GraphInfo) -> list[Reported]:
    """What the telemetry reports failed right now (one Neo4j statement)."""
    return await in_thread(read_reported_failures, reader(info))


def reported_failure(row: Reported) -> ReportedFailure:
    return ReportedFailure(
        id=row.asset_id,
        iri=row.asset_iri,
        point=row.point_id,
        value=row.value,
        observed_at=moment(row.observed_at_ms),
    )
