"""The root ``Mutation`` type: saving what-if scenarios (operator role)."""

from __future__ import annotations

import strawberry

from kgtwin.server.auth import Role
from kgtwin.server.schema.context import GraphInfo
from kgtwin.server.schema.permissions import require_role
from kgtwin.server.schema.query import (
    AsOfArgument,
    FailArgument,
    FailRelationshipsArgument,
    FromLiveStateArgument,
    LoadsArgument,
)
from kgtwin.server.schema.scenarios import Scenario, save
from kgtwin.server.schema.whatif import WhatIfMode


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Run a what-if and save it, with its inputs, result summary, model "
        "version, who ran it and when, as a (:Scenario) node in Neo4j."
    )
    async def save_scenario(
        self,
        info: GraphInfo,
        name: str,
        fail: FailArgument = None,
        fail_relationships: FailRelationshipsArgument = None,
        mode: WhatIfMode = WhatIfMode.TOPOLOGY,
        loads: LoadsArgument = None,
        from_live_state: FromLiveStateArgument = False,
        as_of: AsOfArgument = None,
    ) -> Scenario:
        require_role(info, Role.OPERATOR)
        return await save(
            info,
            name,
            fail or [],
            fail_relationships or [],
            mode,
            loads or [],
            from_live_state,
            as_of,
        )
