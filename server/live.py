"""From the ingestion worker's thread to GraphQL subscriptions on the event loop.

:class:`LiveHub` is the worker's listener (:class:`ingest.events.LiveListener`). Each
subscription opens a :class:`Feed`: a bounded queue on the server's event loop that the
hub fills with the events its filter accepts. A feed that is not read fast enough drops
its oldest events and counts them (``dropped``), so one slow client never holds up the
worker or the other clients.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Generic, TypeVar

from kgtwin.ingest.events import PointUpdate, StalenessChange

E = TypeVar("E", PointUpdate, StalenessChange)

FEED_SIZE = 10_000  # events a subscription may fall behind by before the oldest are dropped


class Feed(Generic[E]):
    """One subscription's events, in order; iterate it on the event loop."""

    def __init__(self, accepts: Callable[[E], bool], size: int = FEED_SIZE) -> None:
        self.accepts: Callable[[E], bool] = accepts
        self.dropped = 0
        self._events: deque[E] = deque(maxlen=size)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def _push(self, events: Sequence[E]) -> None:  # on the event loop
        for event in events:
            if len(self._events) == self._events.maxlen:
                self.dropped += 1
            self._events.append(event)
        self._wake.set()

    def offer(self, events: Sequence[E]) -> None:  # from any thread
        wanted = [e for e in events if self.accepts(e)]
        if wanted:
            self._loop.call_soon_threadsafe(self._push, wanted)

    async def __aiter__(self) -> AsyncIterator[E]:
        while True:
            while self._events:
                yield self._events.popleft()
            self._wake.clear()
            await self._wake.wait()


class LiveHub:
    """Hands the worker's events to the open feeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: set[Feed[PointUpdate]] = set()
        self._staleness: set[Feed[StalenessChange]] = set()

    def points_updated(self, updates: Sequence[PointUpdate]) -> None:
        with self._lock:
            feeds = list(self._updates)
        for feed in feeds:
            feed.offer(updates)

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None:
        with self._lock:
            feeds = list(self._staleness)
        for feed in feeds:
            feed.offer(changes)

    def open_updates(self, accepts: Callable[[PointUpdate], bool]) -> Feed[PointUpdate]:
        feed: Feed[PointUpdate] = Feed(accepts)
        with self._lock:
            self._updates.add(feed)
        return feed

    def open_staleness(self, accepts: Callable[[StalenessChange], bool]) -> Feed[StalenessChange]:
        feed: Feed[StalenessChange] = Feed(accepts)
        with self._lock:
            self._staleness.add(feed)
        return feed

    def close(self, feed: Feed[PointUpdate] | Feed[StalenessChange]) -> None:
        with self._lock:
            self._updates.discard(feed)
            self._staleness.discard(feed)

    def open_feeds(self) -> int:
        """How many feeds are open: the subscriptions being served."""
        with self._lock:
            return len(self._updates) + len(self._staleness)
