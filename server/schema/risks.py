"""The ``risks`` query: what the failures the telemetry reports now (and the live loads) put
at risk, assessed on the server's snapshot as the live risk watch does (:mod:`server.
risk_watch`), whose changes ``riskChanged`` streams."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from kgtwin.server.risk_watch import Assessed, Described
from kgtwin.server.schema.context import GraphInfo, services, simulate
from kgtwin.server.schema.subscription import LiveFilter
from kgtwin.server.schema.values import check_first
from kgtwin.server.schema.whatif_inputs import snapshot_of
from kgtwin.simulation.deadline import Deadline


@strawberry.type(description="One risk the twin runs now.")
class Risk:
    kind: str = strawberry.field(
        description="assetDown, redundancyLost, newSinglePointOfFailure or capacityAtRisk."
    )
    model: str
    asset_id: str
    asset_classes: list[str]
    path: list[str] = strawberry.field(
        description="The explanation: asset ids along dependency edges, supplier first."
    )
    detail: JSON = strawberry.field(description="As the risk's event carries it (docs/events.md).")


@strawberry.type(description="The twin's risk now, from the live state.")
class RiskReport:
    at: datetime
    reported_failures: list[str] = strawberry.field(
        description="The assets the telemetry reports failed, the risk's starting point."
    )
    total: int = strawberry.field(description="The risks that match the filter.")
    risks: list[Risk] = strawberry.field(
        description="The first of them: by kind (down, redundancy, single points, capacity), "
        "then asset."
    )


async def risks_now(info: GraphInfo, wanted: LiveFilter, first: int) -> RiskReport:
    check_first(first, services(info).settings)
    snapshot = snapshot_of(info)
    reader = info.context["reader"]
    units = services(info).units
    shared = services(info).risk

    def assess(deadline: Deadline) -> tuple[Assessed, list[Described]]:
        assessed = shared.assess(snapshot, reader, units, deadline)
        return assessed, shared.described(assessed, reader)  # reads the models: a thread's

    assessed, risks = await simulate(info, assess)
    found = []
    for risk, _facts, data in risks:
        if wanted.matches(data["assetId"], data["assetClasses"]):
            found.append(
                Risk(
                    kind=risk.kind.value,
                    model=data["model"],
                    asset_id=data["assetId"],
                    asset_classes=data["assetClasses"],
                    path=data["path"],
                    detail=cast(JSON, data),
                )
            )
    return RiskReport(
        at=datetime.fromtimestamp(assessed.at, UTC),
        reported_failures=[snapshot.ids[n] for n in assessed.failed],
        total=len(found),
        risks=found[:first],
    )
