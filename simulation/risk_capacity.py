"""Capacity at risk: the rated suppliers that would trip in the first round of the
capacity cascade (:func:`simulation.capacity.cascade`) if one of their peers (a node
supplying a consumer with them) failed beside the reported failures. One cascade per
candidate peer, each kept until the failures or loads change within its *zone*: what
its answer depends on (``docs/risk.md`` says how the zone is drawn and why it is enough).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kgtwin.simulation.arrays import Ragged
from kgtwin.simulation.capacity import cascade
from kgtwin.simulation.deadline import Deadline
from kgtwin.simulation.propagation import Outcome
from kgtwin.simulation.snapshot import Snapshot

ZONE_LIMIT = 2048  # nodes in a zone beyond which the candidate is worked out every time

Trips = tuple[tuple[int, float], ...]  # (peer that would trip, the load it would carry)
# supplier at risk -> the peers whose failure trips it (rank order), its loads then, and a
# consumer it shares with the first
Found = dict[int, tuple[tuple[int, ...], tuple[float, ...], int]]


@dataclass(frozen=True, slots=True)
class _Last:
    failed: frozenset[int]
    load: npt.NDArray[np.float64]  # NaN for None
    trips: dict[int, Trips]  # candidate up then -> what its failure trips


class CapacityRisks:
    """The candidates of a snapshot (nodes with a rated peer), their zones, and the answers
    of the last search."""

    __slots__ = ("_always", "_index", "_last", "_peers", "_snapshot", "_zones")

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._peers: dict[int, frozenset[int]] | None = None  # candidate -> its rated peers
        self._zones: dict[int, frozenset[int]] = {}  # candidate -> its zone, if not too big
        self._index: dict[int, list[int]] = {}  # node -> the candidates whose zone holds it
        self._always: frozenset[int] = frozenset()  # candidates whose zone is too big
        self._last: _Last | None = None

    def find(self, outcome: Outcome, load: Sequence[float | None], deadline: Deadline) -> Found:
        """The suppliers at risk under ``outcome``'s failures and ``load``."""
        peers = self.prepare()
        snapshot, down = self._snapshot, outcome.down
        failed = frozenset(outcome.failed)
        values = np.fromiter(
            (math.nan if value is None else value for value in load),
            dtype=np.float64,
            count=len(load),
        )
        stale = self._stale(failed, values)
        last = {} if self._last is None else self._last.trips
        reach: frozenset[int] | None = None
        trips: dict[int, Trips] = {}
        for peer in sorted(peers):
            if peer in down:
                continue
            if stale is not None and peer not in stale and peer in last:
                trips[peer] = last[peer]
                continue
            deadline.check()
            if reach is None:
                reach = _downstream(snapshot, failed)
            zone = self._zones.get(peer)
            # failures outside the zone change nothing of the answer: left out, the cascade
            # does not walk them again
            alone = zone is not None and reach.isdisjoint(zone)
            result = cascade(snapshot, [peer] if alone else [*failed, peer], (), load, deadline)
            mine = peers[peer]
            trips[peer] = tuple(
                (trip.node, trip.load)
                for trip in result.trips
                if trip.round == 1 and trip.node in mine
            )
        self._last = _Last(failed, values, trips)
        return self._found(trips)

    def _stale(self, failed: frozenset[int], values: npt.NDArray[np.float64]) -> set[int] | None:
        """The candidates whose last answer may not hold (None: all): those whose zone
        holds a node whose state may differ (downstream of a failure reported or cleared)
        or whose load changed, those whose zone is too big, and those themselves changed."""
        last = self._last
        if last is None:
            return None
        same = (values == last.load) | (np.isnan(values) & np.isnan(last.load))
        changed = set(_downstream(self._snapshot, failed ^ last.failed))
        changed.update(np.flatnonzero(~same).tolist())
        stale = set(self._always)
        stale.update(changed)
        index = self._index
        for node in changed:
            stale.update(index.get(node, ()))
        return stale

    def _found(self, trips: dict[int, Trips]) -> Found:
        snapshot = self._snapshot
        rank = snapshot.rank.__getitem__
        by_supplier: dict[int, list[tuple[int, float]]] = {}
        for peer, tripped in trips.items():
            for node, load in tripped:
                by_supplier.setdefault(node, []).append((peer, load))
        found: Found = {}
        for node in sorted(by_supplier, key=rank):
            pairs = sorted(by_supplier[node], key=lambda pair: rank(pair[0]))
            first = pairs[0][0]
            shared = set(snapshot.consumers[first]).intersection(snapshot.consumers[node])
            found[node] = (
                tuple(peer for peer, _load in pairs),
                tuple(load for _peer, load in pairs),
                min(shared, key=rank),
            )
        return found

    def prepare(self) -> dict[int, frozenset[int]]:
        """The candidates and their zones (worked out the first time)."""
        if self._peers is not None:
            return self._peers
        snapshot = self._snapshot
        rated = np.frombuffer(snapshot.capacity, dtype=np.float64) > 0  # NaN: not rated
        found: dict[int, set[int]] = {}
        for own in snapshot.suppliers:
            if len(own) < 2:
                continue
            others = [s for s in own if rated[s]]
            for peer in own if others else ():
                rivals = [s for s in others if s != peer]
                if rivals:
                    found.setdefault(peer, set()).update(rivals)
        peers = {peer: frozenset(mine) for peer, mine in found.items()}
        zones = _Zones(snapshot, rated)
        always = set()
        for peer, mine in peers.items():
            zone = zones.of(mine)
            if zone is None:
                always.add(peer)
                continue
            self._zones[peer] = zone
            for node in zone:
                self._index.setdefault(node, []).append(peer)
        self._always = frozenset(always)
        self._peers = peers
        return peers


class _Zones:
    """What a rated supplier's load in the first round depends on: its own state and load,
    and the state and load of every source that could move load onto it (the peers of the
    rated nodes below it through rated nodes: a load flows up only through rated nodes),
    with what each such source's placement reads (its consumers, their suppliers, and the
    rated chains above those)."""

    __slots__ = ("_rated", "_reads", "_snapshot")

    def __init__(self, snapshot: Snapshot, rated: npt.NDArray[np.bool_]) -> None:
        self._snapshot, self._rated = snapshot, rated
        self._reads: dict[int, frozenset[int] | None] = {}  # source -> what placing it reads

    def of(self, suppliers: Iterable[int]) -> frozenset[int] | None:
        """The zone of ``suppliers`` together; None when it holds over ZONE_LIMIT nodes."""
        snapshot, rated = self._snapshot, self._rated
        zone: set[int] = set()
        for supplier in suppliers:
            zone.add(supplier)
            below = _closure([supplier], snapshot.consumers, rated)
            sources = {
                s for y in below for c in snapshot.consumers[y] for s in snapshot.suppliers[c]
            }
            for source in sources:
                reads = self._source(source)
                if reads is None:
                    return None
                zone |= reads
                if len(zone) > ZONE_LIMIT:
                    return None
        return frozenset(zone)

    def _source(self, source: int) -> frozenset[int] | None:
        if source in self._reads:
            return self._reads[source]
        snapshot, rated = self._snapshot, self._rated
        reads = {source}
        for consumer in snapshot.consumers[source]:
            reads.add(consumer)
            reads.update(snapshot.suppliers[consumer])
        peers = [node for node in reads if rated[node]]
        reads.update(_closure(peers, snapshot.suppliers, rated))
        found = frozenset(reads) if len(reads) <= ZONE_LIMIT else None
        self._reads[source] = found
        return found


def _closure(start: Iterable[int], links: Ragged, rated: npt.NDArray[np.bool_]) -> set[int]:
    """``start`` and the rated nodes reached from it along ``links`` through rated nodes."""
    seen = set(start)
    stack = list(seen)
    while stack:
        for other in links[stack.pop()]:
            if other not in seen and rated[other]:
                seen.add(other)
                stack.append(other)
    return seen


def _downstream(snapshot: Snapshot, nodes: Iterable[int]) -> frozenset[int]:
    """``nodes`` and every node that depends on them, directly or not."""
    consumers = snapshot.consumers
    seen = set(nodes)
    stack = list(seen)
    while stack:
        for consumer in consumers[stack.pop()]:
            if consumer not in seen:
                seen.add(consumer)
                stack.append(consumer)
    return frozenset(seen)
