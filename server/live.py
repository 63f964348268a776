"""From the twin's event stream (:mod:`server.event_stream`, on the MQTT client's thread) to
GraphQL subscriptions on the event loop.

Each subscription opens a :class:`Feed`: a bounded queue on the server's event loop that
:class:`LiveHub` fills with the events its filter accepts. A feed that is not read fast
enough drops its oldest events and counts them; the subscriber is told with the next event
it gets (``missed``), so one slow client never holds up the stream or the other clients, and
is never starved without knowing it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kgtwin.ingest.events import PointUpdate, StalenessChange

FEED_SIZE = 10_000  # events a subscription may fall behind by before the oldest are dropped


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """A change of the twin's risk (``assetDown``, ``redundancyLost``, ...), as published."""

    kind: str
    model: str
    asset_id: str
    asset_labels: tuple[str, ...]
    data: dict[str, Any]
    at: float  # epoch seconds


E = TypeVar("E", PointUpdate, StalenessChange, RiskEvent)


class Feed(Generic[E]):
    """One subscription's events, in order; iterate it on the event loop: each event comes
    with how many were dropped just before it."""

    def __init__(self, accepts: Callable[[E], bool], size: int = FEED_SIZE) -> None:
        self.accepts: Callable[[E], bool] = accepts
        self.dropped = 0  # in all
        self._missed = 0  # since the last event handed out
        self._events: deque[E] = deque(maxlen=size)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def _push(self, events: Sequence[E]) -> None:  # on the event loop
        for event in events:
            if len(self._events) == self._events.maxlen:
                self.dropped += 1
                self._missed += 1
            self._events.append(event)
        self._wake.set()

    def offer(self, events: Sequence[E]) -> None:  # from any thread
        wanted = [e for e in events if self.accepts(e)]
        if wanted:
            self._loop.call_soon_threadsafe(self._push, wanted)

    async def __aiter__(self) -> AsyncIterator[tuple[E, int]]:
        while True:
            while self._events:
                missed, self._missed = self._missed, 0
                yield self._events.popleft(), missed
            self._wake.clear()
            await self._wake.wait()


class LiveHub:
    """Hands the stream's events to the open feeds."""

    def __init__(self, backlog: int = FEED_SIZE) -> None:
        self.backlog = backlog  # events each feed may hold
        self._lock = threading.Lock()
        self._updates: set[Feed[PointUpdate]] = set()
        self._staleness: set[Feed[StalenessChange]] = set()
        self._risks: set[Feed[RiskEvent]] = set()

    def points_updated(self, updates: Sequence[PointUpdate]) -> None:
        for feed in self._open(self._updates):
            feed.offer(updates)

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None:
        for feed in self._open(self._staleness):
            feed.offer(changes)

    def risks_changed(self, changes: Sequence[RiskEvent]) -> None:
        for feed in self._open(self._risks):
            feed.offer(changes)

    def open_updates(self, accepts: Callable[[PointUpdate], bool]) -> Feed[PointUpdate]:
        return self._add(self._updates, Feed(accepts, self.backlog))

    def open_staleness(self, accepts: Callable[[StalenessChange], bool]) -> Feed[StalenessChange]:
        return self._add(self._staleness, Feed(accepts, self.backlog))

    def open_risks(self, accepts: Callable[[RiskEvent], bool]) -> Feed[RiskEvent]:
        return self._add(self._risks, Feed(accepts, self.backlog))

    def close(self, feed: Feed[PointUpdate] | Feed[StalenessChange] | Feed[RiskEvent]) -> None:
        with self._lock:
            self._updates.discard(feed)
            self._staleness.discard(feed)
            self._risks.discard(feed)

    def open_feeds(self) -> int:
        """How many feeds are open: the subscriptions being served."""
        with self._lock:
            return len(self._updates) + len(self._staleness) + len(self._risks)

    def _open(self, feeds: set[Feed[E]]) -> list[Feed[E]]:
        with self._lock:
            return list(feeds)

    def _add(self, feeds: set[Feed[E]], feed: Feed[E]) -> Feed[E]:
        with self._lock:
            feeds.add(feed)
        return feed
