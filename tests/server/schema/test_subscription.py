"""The ``Subscription`` root type through ``schema.stream``, as the WebSocket transport runs
it, with a ``LiveHub`` the test feeds itself (``tests/server/test_subscriptions.py`` runs
the real path, from MQTT on). The graph is the example site, for the class and asset
checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from neo4j import Driver
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from kgtwin.graph.reader import Reader
from kgtwin.ingest.events import PointUpdate, StalenessChange
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.server.auth import Principal, Role
from kgtwin.server.live import LiveHub
from kgtwin.server.schema import build_schema
from kgtwin.server.schema.context import Services, make_context
from kgtwin.server.schema.subscription import LiveFilter
from kgtwin.server.settings import Settings
from tests.units import ontology_units

WAIT = 10.0
UPS = ("UPS", "ElectricalAsset", "Asset")
GENERATOR = ("Generator", "ElectricalAsset", "Asset")
VIEWER = Principal("dashboard", Role.VIEWER)
UPDATES = (
    "subscription Updates($assetId: String, $class: String) {"
    " pointUpdated(assetId: $assetId, class: $class) {"
    " pointId pointIri assetId value unit observedAt receivedAt quality } }"
)


def update(asset: str, labels: tuple[str, ...], value: float) -> PointUpdate:
    point = f"{asset}.output-power"
    return PointUpdate(
        point_iri=f"https://w3id.org/kgtwin/site/dc1#{point}",
        point_id=point,
        asset_id=asset,
        asset_labels=labels,
        value=value,
        unit="KiloW",
        observed_at=1_700_000_000.25,
        received_at=1_700_000_000.5,
        quality="good",
    )


def change(asset: str, labels: tuple[str, ...], stale: bool) -> StalenessChange:
    point = f"{asset}.output-power"
    return StalenessChange(
        point_iri=f"https://w3id.org/kgtwin/site/dc1#{point}",
        point_id=point,
        asset_id=asset,
        asset_labels=labels,
        stale=stale,
        at=1_700_000_001.0,
    )


@pytest.mark.parametrize(
    ("wanted", "accepted"),
    [
        (LiveFilter(), {"ups-a1", "generator-a", "orphan"}),
        (LiveFilter(asset_id="ups-a1"), {"ups-a1"}),
        (LiveFilter(label="UPS"), {"ups-a1"}),
        (LiveFilter(label="ElectricalAsset"), {"ups-a1", "generator-a"}),  # a superclass
        (LiveFilter(asset_id="generator-a", label="UPS"), set()),  # both must hold
    ],
)
def test_a_filter_accepts_by_asset_and_by_class_or_superclass(
    wanted: LiveFilter, accepted: set[str]
) -> None:
    events = [update("ups-a1", UPS, 1.0), update("generator-a", GENERATOR, 2.0)]
    events.append(replace(update("x", (), 3.0), asset_id=None))
    found = {e.asset_id or "orphan" for e in events if wanted.accepts(e)}
    assert found == accepted
    assert wanted.accepts(change("ups-a1", UPS, True)) == ("ups-a1" in accepted)


class Live:
    """A schema, and a context whose hub the test feeds."""

    def __init__(self, driver: Driver, catalogue: Catalogue, **settings: Any) -> None:
        self.settings = Settings(**settings)
        self.schema = build_schema(self.settings)
        self.hub = LiveHub()
        self.services = Services(
            self.settings,
            Reader(driver, None),
            catalogue,
            live=self.hub,
            units=ontology_units(),
        )

    async def stream(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        principal: Principal | None = VIEWER,
    ) -> AsyncGenerator[ExecutionResult, None]:
        context = make_context(self.services, principal)
        stream = await self.schema.stream(query, variables, context_value=context)
        async with aclosing(stream) as results:
            async for result in results:
                assert isinstance(result, ExecutionResult)
                yield result

    async def serving(self, count: int) -> None:
        async with asyncio.timeout(WAIT):
            while self.hub.open_feeds() != count:  # noqa: ASYNC110 (the hub signals nothing)
                await asyncio.sleep(0.01)


async def first(results: AsyncGenerator[ExecutionResult, None]) -> ExecutionResult:
    async with asyncio.timeout(WAIT):
        return await anext(results)


def test_updates_stream_as_the_hub_gets_them_and_the_feed_closes_after(
    dc1: Driver, catalogue: Catalogue
) -> None:
    live = Live(dc1, catalogue)

    async def run() -> None:
        results = live.stream(UPDATES, {"class": "UPS"})
        pending = asyncio.ensure_future(first(results))
        await live.serving(1)
        live.hub.points_updated([update("generator-a", GENERATOR, 5.0)])
        live.hub.points_updated([update("ups-a1", UPS, 97.5)])
        result = await pending
        assert result.errors is None
        assert result.data == {
            "pointUpdated": {
                "pointId": "ups-a1.output-power",
                "pointIri": "https://w3id.org/kgtwin/site/dc1#ups-a1.output-power",
                "assetId": "ups-a1",
                "value": 97.5,
                "unit": "KiloW",
                "observedAt": datetime.fromtimestamp(1_700_000_000.25, UTC).isoformat(),
                "receivedAt": datetime.fromtimestamp(1_700_000_000.5, UTC).isoformat(),
                "quality": "good",
            }
        }
        await results.aclose()
        assert live.hub.open_feeds() == 0

    asyncio.run(run())


def test_staleness_changes_stream_for_the_asset_asked_for(
    dc1: Driver, catalogue: Catalogue
) -> None:
    live = Live(dc1, catalogue)
    query = 'subscription { stalenessChanged(assetId: "ups-a1") { pointId assetId stale at } }'

    async def run() -> None:
        results = live.stream(query)
        pending = asyncio.ensure_future(first(results))
        await live.serving(1)
        live.hub.staleness_changed([change("ups-b1", UPS, True), change("ups-a1", UPS, True)])
        result = await pending
        assert result.data == {
            "stalenessChanged": {
                "pointId": "ups-a1.output-power",
                "assetId": "ups-a1",
                "stale": True,
                "at": "2023-11-14T22:13:21+00:00",
            }
        }
        await results.aclose()
        assert live.hub.open_feeds() == 0

    asyncio.run(run())


@pytest.mark.parametrize(
    ("principal", "variables", "code"),
    [
        (None, {}, "UNAUTHENTICATED"),
        (VIEWER, {"class": "Pmp"}, "UNKNOWN_CLASS"),
        (VIEWER, {"assetId": "nope"}, "NOT_FOUND"),
    ],
)
def test_a_refused_subscription_opens_no_feed(
    dc1: Driver,
    catalogue: Catalogue,
    principal: Principal | None,
    variables: dict[str, str],
    code: str,
) -> None:
    live = Live(dc1, catalogue, anonymous_read=False)

    async def run() -> ExecutionResult:
        results = live.stream(UPDATES, variables, principal)
        result = await first(results)
        await results.aclose()
        return result

    result = asyncio.run(run())
    assert result.data is None
    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [
        {"code": code, "required_role": "viewer"} if code == "UNAUTHENTICATED" else {"code": code}
    ]
    assert live.hub.open_feeds() == 0


def test_limits_apply_to_subscriptions(dc1: Driver, catalogue: Catalogue) -> None:
    live = Live(dc1, catalogue, max_query_depth=1)

    async def run() -> ExecutionResult:
        return await first(live.stream(UPDATES))

    result = asyncio.run(run())
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "DEPTH_LIMIT", "limit": 1, "depth": 2}
    assert live.hub.open_feeds() == 0


def test_execute_refuses_a_subscription(dc1: Driver, catalogue: Catalogue) -> None:
    """``execute`` would resolve the field once and answer with a generator, not a value."""
    live = Live(dc1, catalogue)
    context = make_context(live.services, VIEWER)
    with pytest.raises(InvalidOperationTypeError):
        asyncio.run(live.schema.execute(UPDATES, context_value=context))
