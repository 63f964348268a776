"""Saved what-if scenarios: ``saveScenario`` (operator role) runs a what-if and keeps its
inputs and result in Neo4j as a ``(:Scenario)``; ``scenarios`` lists them and
``compareScenarios`` shows what differs between two."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from kgtwin.graph.errors import NotFound
from kgtwin.graph.scenarios import ScenarioRecord, list_scenarios, save_scenario, scenarios_by_id
from kgtwin.ingest.outbound.changes import scenario_saved
from kgtwin.server.schema.context import GraphInfo, reader, services
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.loaders import in_thread
from kgtwin.server.schema.values import check_first
from kgtwin.server.schema.whatif import WhatIfMode, impacted_nodes, what_if
from kgtwin.server.schema.whatif_inputs import LoadInput, RelationshipInput

MAX_NAME = 200


@strawberry.type(
    description="A saved what-if: its inputs, the result at the model version "
    "it ran on, who ran it and when."
)
class Scenario:
    id: strawberry.ID
    name: str
    mode: WhatIfMode
    failed: list[str]
    failed_relationships: list[str]
    load_overrides: list[str] = strawberry.field(description="'asset=value' texts.")
    model_version: str
    created_by: str | None = strawberry.field(description="The token's name; null: anonymous.")
    created_at: datetime
    impacted_count: int
    degraded_count: int
    tripped_count: int
    impacted: list[str]
    degraded: list[str]
    tripped: list[str]
    summary: str
    current: bool = strawberry.field(
        description="Whether it ran on the model version the server has now."
    )

    @classmethod
    def of(cls, record: ScenarioRecord, version: str | None) -> Scenario:
        assert record.created_at is not None
        return cls(
            id=strawberry.ID(record.id),
            name=record.name,
            mode=WhatIfMode(record.mode),
            failed=list(record.failed),
            failed_relationships=list(record.failed_relationships),
            load_overrides=list(record.load_overrides),
            model_version=record.model_version,
            created_by=record.created_by,
            created_at=record.created_at,
            impacted_count=len(record.impacted),
            degraded_count=len(record.degraded),
            tripped_count=len(record.tripped),
            impacted=list(record.impacted),
            degraded=list(record.degraded),
            tripped=list(record.tripped),
            summary=record.summary,
            current=record.model_version == version,
        )


@strawberry.type(description="What differs between two scenarios (ids).")
class ScenarioComparison:
    a: Scenario
    b: Scenario
    same_model_version: bool
    failed_only_in_a: list[str]
    failed_only_in_b: list[str]
    impacted_only_in_a: list[str]
    impacted_only_in_b: list[str]
    impacted_in_both: int
    degraded_only_in_a: list[str]
    degraded_only_in_b: list[str]
    tripped_only_in_a: list[str]
    tripped_only_in_b: list[str]
    summary: str


async def save(
    info: GraphInfo,
    name: str,
    fail: Sequence[str],
    fail_relationships: Sequence[RelationshipInput],
    mode: WhatIfMode,
    loads: Sequence[LoadInput],
    from_live_state: bool = False,
    as_of: datetime | None = None,
) -> Scenario:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise BadUserInput(f"name: give 1 to {MAX_NAME} characters")
    result = await what_if(info, fail, fail_relationships, mode, loads, from_live_state, as_of)
    scenario = result.scenario
    snapshot = scenario.snapshot
    ids = snapshot.ids
    principal = info.context["principal"]
    record = ScenarioRecord.new(
        name=name,
        mode=mode.value,
        failed=result.failed,
        failed_relationships=result.failed_relationships,
        # the last override of an asset wins, as in the what-if
        load_overrides=[f"{a}={v:g}" for a, v in {x.asset: x.value for x in loads}.items()],
        model_version=result.model_version,
        created_by=None if principal is None else principal.name,
        impacted=[ids[n] for n in impacted_nodes(scenario)],
        degraded=[ids[n] for n in scenario.outcome.degraded(snapshot)],
        tripped=[ids[t.node] for t in scenario.cascade.trips] if scenario.cascade else [],
        summary=result.summary,
    )
    context = services(info)
    saved = await in_thread(
        save_scenario,
        context.reader.driver,
        record,
        [snapshot.iris[n] for n in scenario.failed],
        context.reader.database,
    )
    if context.events is not None:  # published once saved; the broker takes it later
        context.events.publish(
            [
                scenario_saved(
                    saved.id,
                    saved.name,
                    saved.mode,
                    saved.failed,
                    len(saved.impacted),
                    saved.created_by,
                    source=f"/kgtwin/serve/{context.events.client_id}",
                )
            ]
        )
    return Scenario.of(saved, snapshot.version)


def _version(info: GraphInfo) -> str | None:
    cached = info.context["cached"]
    return None if cached is None else cached.version


async def recent(info: GraphInfo, first: int) -> list[Scenario]:
    check_first(first, services(info).settings)
    records = await in_thread(list_scenarios, reader(info), first)
    version = _version(info)
    return [Scenario.of(r, version) for r in records]


async def compare(info: GraphInfo, a: str, b: str) -> ScenarioComparison:
    found = await in_thread(scenarios_by_id, reader(info), [a, b])
    missing = [key for key in (a, b) if key not in found]
    if missing:
        raise NotFound(f"no saved scenario has the id {', '.join(map(repr, missing))}")
    first, second = found[a], found[b]
    version = _version(info)

    def only(x: Sequence[str], y: Sequence[str]) -> list[str]:
        other = set(y)
        return [i for i in x if i not in other]

    impacted_a, impacted_b = (
        only(first.impacted, second.impacted),
        only(second.impacted, first.impacted),
    )
    both = len(set(first.impacted) & set(second.impacted))
    same_version = first.model_version == second.model_version
    summary = (
        f"{first.name!r} takes down {len(first.impacted)} asset(s), {second.name!r} "
        f"{len(second.impacted)}: {both} in both, {len(impacted_a)} only in the first, "
        f"{len(impacted_b)} only in the second"
        + ("" if same_version else "; they ran on different model versions")
    )
    return ScenarioComparison(
        a=Scenario.of(first, version),
        b=Scenario.of(second, version),
        same_model_version=same_version,
        failed_only_in_a=only(first.failed, second.failed),
        failed_only_in_b=only(second.failed, first.failed),
        impacted_only_in_a=impacted_a,
        impacted_only_in_b=impacted_b,
        impacted_in_both=both,
        degraded_only_in_a=only(first.degraded, second.degraded),
        degraded_only_in_b=only(second.degraded, first.degraded),
        tripped_only_in_a=only(first.tripped, second.tripped),
        tripped_only_in_b=only(second.tripped, first.tripped),
        summary=summary,
    )
