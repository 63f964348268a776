"""Feeds of the live hub: in order, filtered, bounded; a feed that falls behind drops its
oldest events and tells the subscriber how many with the next event it gets."""

from __future__ import annotations

import asyncio

from kgtwin.ingest.events import StalenessChange
from kgtwin.server.live import LiveHub


def change(n: int, asset: str = "a") -> StalenessChange:
    return StalenessChange(f"urn:p{n}", f"p{n}", asset, (), stale=True, at=float(n))


async def _read(hub: LiveHub, offered: list[StalenessChange], count: int) -> list[tuple[str, int]]:
    feed = hub.open_staleness(lambda e: e.asset_id == "a")
    hub.staleness_changed(offered)  # as the stream's thread does, before the reader runs
    await asyncio.sleep(0)  # the loop pushes them
    got: list[tuple[str, int]] = []
    async for event, missed in feed:
        got.append((event.point_id, missed))
        if len(got) == count:
            break
    hub.close(feed)
    return got


def test_a_feed_that_falls_behind_keeps_the_newest_and_says_what_it_missed() -> None:
    hub = LiveHub(backlog=3)
    offered = [change(n) for n in range(10)]
    got = asyncio.run(_read(hub, offered, 3))
    assert got == [("p7", 7), ("p8", 0), ("p9", 0)]
    assert hub.open_feeds() == 0


def test_a_feed_that_keeps_up_misses_nothing_and_gets_only_what_it_asked_for() -> None:
    hub = LiveHub(backlog=100)
    offered = [change(n, "a" if n % 2 else "b") for n in range(10)]
    got = asyncio.run(_read(hub, offered, 5))
    assert got == [(f"p{n}", 0) for n in (1, 3, 5, 7, 9)]
