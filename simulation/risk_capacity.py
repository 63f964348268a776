"""Capacity at risk: the rated nodes that would trip in the first round of the capacity
cascade (:func:`simulation.capacity.cascade`) if some other node failed beside the
reported failures. Only the *exposed* nodes can trip at all (their load with every load
that could reach them moved onto them is above their rating); each keeps its answer until
the failures or loads change within its *zone*, and its candidates are the ancestors of
that zone. ``docs/risk.md`` says why that is enough.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kgtwin.simulation.arrays import Ragged
from kgtwin.simulation.batch import downstream, upstream
from kgtwin.simulation.capacity import Flow, Spread, Trip  # cascade()'s first round alone
from kgtwin.simulation.deadline import Deadline
from kgtwin.simulation.propagation import Outcome
from kgtwin.simulation.snapshot import Snapshot

MARGIN = 1e-9  # relative: a ceiling this close below a rating still counts as reaching it

Answer = tuple[tuple[int, float, tuple[int, ...]], ...]  # (peer, load, path), rank order
# node at risk -> the peers whose failure trips it (rank order), its loads then, and a path
# from it down to a consumer whose load the first peer's failure moves
Found = dict[int, tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...]]]


@dataclass(frozen=True, slots=True)
class _Last:
    failed: frozenset[int]
    load: npt.NDArray[np.float64]  # NaN for None
    answers: dict[int, Answer]  # exposed node -> its answer


class CapacityRisks:
    """The snapshot's rated nodes, what bounds their load (their ceilings), the zones and
    candidates of those exposed so far, and the answers of the last search."""

    __slots__ = (
        "_below",
        "_exposed",
        "_last",
        "_rated",
        "_shared",
        "_snapshot",
        "_zones",
    )

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._rated = np.frombuffer(snapshot.capacity, dtype=np.float64) > 0  # NaN: not
        # (rated node, a rated node below it through rated nodes, itself too), as arrays
        self._below: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
        # (rated node y, a supplier of one of y's consumers, not y): who may move load onto y
        self._shared: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
        self._zones = _Zones(snapshot, self._rated)
        self._exposed: tuple[npt.NDArray[np.float64], list[int]] | None = None  # by load
        self._last: _Last | None = None

    def find(self, outcome: Outcome, load: Sequence[float | None], deadline: Deadline) -> Found:
        """The nodes at risk under ``outcome``'s failures and ``load``."""
        down, failed = outcome.down, frozenset(outcome.failed)
        values = np.fromiter(
            (math.nan if value is None else value for value in load),
            dtype=np.float64,
            count=len(load),
        )
        exposed = [node for node in self._exposure(values) if node not in down]
        last, changed = self._last, self._changed(failed, values)
        kept = {} if last is None or changed is None else last.answers
        answers: dict[int, Answer] = {}
        stale: list[int] = []
        for node in exposed:
            if node in kept and changed is not None and changed.isdisjoint(self._zones.of(node)):
                answers[node] = kept[node]
            else:
                stale.append(node)
        if stale:
            answers.update(self._work_out(stale, failed, down, load, deadline))
        self._last = _Last(failed, values, answers)
        return self._found(answers)

    def _work_out(
        self,
        stale: list[int],
        failed: frozenset[int],
        down: frozenset[int],
        load: Sequence[float | None],
        deadline: Deadline,
    ) -> dict[int, Answer]:
        """The answers of the ``stale`` exposed nodes: one cascade per candidate of any of
        them, the trips that of the reported failures alone does not make."""
        snapshot = self._snapshot
        rank = snapshot.rank.__getitem__
        deadline.check()
        reported, nothing = _FirstRound(snapshot, failed, load), _FirstRound(snapshot, (), load)
        baseline = {trip.node: trip.load for trip in reported.trips(None)}
        reach = downstream(snapshot, failed)
        serves: dict[int, list[int]] = {}  # candidate -> the stale nodes it may trip
        for node in stale:
            for peer in self._candidates_of(node, down, load):
                if peer != node and peer not in down:
                    serves.setdefault(peer, []).append(node)
        found: dict[int, list[tuple[int, float, tuple[int, ...]]]] = {n: [] for n in stale}
        for peer in sorted(serves, key=rank):
            deadline.check()
            mine = serves[peer]
            # failures outside the zones change nothing of the answers: left out, the
            # cascade does not walk them again
            alone = all(reach.isdisjoint(self._zones.of(node)) for node in mine)
            first = {trip.node: trip for trip in (nothing if alone else reported).trips(peer)}
            for node in mine:
                trip = first.get(node)
                if trip is not None and baseline.get(node) != trip.load:
                    found[node].append((peer, trip.load, self._path(trip)))
        return {node: tuple(pairs) for node, pairs in found.items()}

    def _changed(self, failed: frozenset[int], values: npt.NDArray[np.float64]) -> set[int] | None:
        """The nodes whose state (downstream of a failure reported or cleared) or load may
        differ from the last search's (None: no last search)."""
        last = self._last
        if last is None:
            return None
        same = (values == last.load) | (np.isnan(values) & np.isnan(last.load))
        changed = set(downstream(self._snapshot, failed ^ last.failed))
        changed.update(np.flatnonzero(~same).tolist())
        return changed

    def _exposure(self, values: npt.NDArray[np.float64]) -> list[int]:
        """The exposed nodes (rank order): rated, with their own load plus the load of
        every node that may move load onto them or onto a rated node below them through
        rated nodes (what the flow can bring up) reaching their rating. No other node can
        trip in any first round: a source's load reaching a node is at most its load."""
        known = self._exposed
        if known is not None and np.array_equal(known[0], values, equal_nan=True):
            return known[1]
        below, shared = self.prepare()
        positive = np.where(values > 0, values, 0.0)  # NaN > 0 is False
        onto = np.bincount(shared[0], weights=positive[shared[1]], minlength=len(values))
        reached = np.bincount(below[0], weights=onto[below[1]], minlength=len(values))
        ceiling = np.nan_to_num(values, nan=0.0) + reached
        capacity = np.frombuffer(self._snapshot.capacity, dtype=np.float64)
        exposed = self._rated & (ceiling * (1 + MARGIN) + MARGIN >= capacity)
        rank = self._snapshot.rank.__getitem__
        found = sorted(np.flatnonzero(exposed).tolist(), key=rank)
        self._exposed = (values.copy(), found)
        return found

    def _candidates_of(
        self, node: int, down: frozenset[int], load: Sequence[float | None]
    ) -> set[int]:
        """The nodes whose failure may change ``node``'s first round: those that may take
        down a node of its zone with a load to move (it then moves it), or a node that the
        placing of such a node already down reads (it then moves it elsewhere)."""
        zones = self._zones
        found: set[int] = set()
        for source in zones.sources(node):
            amount = load[source]
            if amount is not None and amount > 0:
                found |= zones.above(source, source in down)
        return found

    def _path(self, trip: Trip) -> tuple[int, ...]:
        """From the tripped node down through rated nodes to a consumer of the trip's first
        source (rank order): the way its load came up (a shortest one)."""
        snapshot, rated = self._snapshot, self._rated
        source = trip.sources[0]
        theirs = set(snapshot.consumers[source])
        parent = {trip.node: trip.node}
        queue = deque([trip.node])
        while queue:
            node = queue.popleft()
            if node != source:
                shared = [c for c in snapshot.consumers[node] if c in theirs]
                if shared:
                    path = [min(shared, key=snapshot.rank.__getitem__), node]
                    while parent[node] != node:
                        node = parent[node]
                        path.append(node)
                    return tuple(reversed(path))
            for consumer in snapshot.consumers[node]:
                if consumer not in parent and rated[consumer]:
                    parent[consumer] = node
                    queue.append(consumer)
        return (trip.node,)  # never: the load came up some such way

    def _found(self, answers: dict[int, Answer]) -> Found:
        rank = self._snapshot.rank.__getitem__
        found: Found = {}
        for node in sorted(answers, key=rank):
            pairs = answers[node]
            if pairs:
                found[node] = (
                    tuple(peer for peer, _load, _path in pairs),
                    tuple(load for _peer, load, _path in pairs),
                    pairs[0][2],
                )
        return found

    def prepare(
        self,
    ) -> tuple[
        tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
        tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    ]:
        """What the ceilings are summed over (worked out the first time): each rated node
        with the rated nodes below it through rated nodes, and each rated node with the
        nodes that share a consumer with it."""
        if self._below is not None and self._shared is not None:
            return self._below, self._shared
        snapshot, rated = self._snapshot, self._rated
        nodes = np.flatnonzero(rated).tolist()
        pairs: list[int] = []
        for node in nodes:
            for other in _closure([node], snapshot.consumers, rated):
                pairs += (node, other)
        below = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        pairs = []
        for node in nodes:
            sharing = {s for c in snapshot.consumers[node] for s in snapshot.suppliers[c]}
            sharing.discard(node)
            for other in sharing:
                pairs += (node, other)
        shared = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        self._below = (below[0], below[1])
        self._shared = (shared[0], shared[1])
        return self._below, self._shared


class _Zones:
    """What a rated node's load in the first round depends on: its own state and load,
    and the state and load of every source that could move load onto it (the nodes sharing
    a consumer with a rated node below it through rated nodes: a load flows up only
    through rated nodes), with what each such source's placement reads (its consumers,
    their suppliers, and the rated chains above those)."""

    __slots__ = ("_above", "_rated", "_reads", "_snapshot", "_sources", "_zones")

    def __init__(self, snapshot: Snapshot, rated: npt.NDArray[np.bool_]) -> None:
        self._snapshot, self._rated = snapshot, rated
        self._reads: dict[int, frozenset[int]] = {}  # source -> what placing it reads
        self._sources: dict[int, frozenset[int]] = {}  # node -> what may move load onto it
        self._zones: dict[int, frozenset[int]] = {}
        # (source, whether down) -> its ancestors, or those of what placing it reads
        self._above: dict[tuple[int, bool], frozenset[int]] = {}

    def of(self, node: int) -> frozenset[int]:
        """The zone of rated ``node`` (worked out the first time)."""
        found = self._zones.get(node)
        if found is not None:
            return found
        zone = {node}
        for source in self.sources(node):
            zone |= self._source(source)
        found = self._zones[node] = frozenset(zone)
        return found

    def sources(self, node: int) -> frozenset[int]:
        """The nodes that may move load onto rated ``node``: those sharing a consumer
        with it or with a rated node below it through rated nodes."""
        found = self._sources.get(node)
        if found is None:
            snapshot = self._snapshot
            below = _closure([node], snapshot.consumers, self._rated)
            found = self._sources[node] = frozenset(
                s for y in below for c in snapshot.consumers[y] for s in snapshot.suppliers[c]
            )
        return found

    def above(self, source: int, down: bool) -> frozenset[int]:
        """The nodes whose failure may take ``source`` down (when up) or a node that its
        placing reads (when down): those and their ancestors."""
        found = self._above.get((source, down))
        if found is None:
            start = self._source(source) if down else (source,)
            found = self._above[source, down] = upstream(self._snapshot, start)
        return found

    def _source(self, source: int) -> frozenset[int]:
        found = self._reads.get(source)
        if found is not None:
            return found
        snapshot, rated = self._snapshot, self._rated
        reads = {source}
        for consumer in snapshot.consumers[source]:
            reads.add(consumer)
            reads.update(snapshot.suppliers[consumer])
        peers = [node for node in reads if rated[node]]
        reads.update(_closure(peers, snapshot.suppliers, rated))
        found = self._reads[source] = frozenset(reads)
        return found


class _FirstRound:
    """The first round of ``cascade(snapshot, failed, (), load)``, kept to work out that of
    ``failed`` and one more node from it: on copies, the cascade's own step from one round
    to the next (failures only grow; the sources next to what fell are placed again), the
    nodes whose load did not change keeping their load. The copies reach into
    :mod:`simulation.capacity`'s round state; the property tests hold them to
    :func:`cascade`."""

    __slots__ = ("_capacity", "_flow", "_spread")

    def __init__(self, snapshot: Snapshot, failed: Iterable[int], load: Sequence[float | None]):
        self._capacity = snapshot.capacity
        self._spread = Spread(snapshot, set(failed), frozenset())
        self._flow = Flow(snapshot, frozenset(), load)
        self._flow.update(self._spread.fallen, self._spread.down)

    def trips(self, peer: int | None) -> list[Trip]:
        """The first round's trips (None), or those that ``peer`` failing too changes: the
        trips of the nodes whose load it changes."""
        if peer is None:
            return self._over(self._spread, self._flow, self._flow.into)
        spread, flow = copy.copy(self._spread), copy.copy(self._flow)
        spread.down = set(spread.down)
        spread._lost = dict(spread._lost)
        flow.into = {node: dict(into) for node, into in flow.into.items()}
        flow._through = {node: set(through) for node, through in flow._through.items()}
        flow.moves, flow.flows = dict(flow.moves), dict(flow.flows)
        flow.shed, flow._reach = dict(flow.shed), dict(flow._reach)
        return self._over(spread, flow, flow.update(spread.fail([peer]), spread.down))

    def _over(self, spread: Spread, flow: Flow, nodes: Iterable[int]) -> list[Trip]:
        capacity = self._capacity
        trips = []
        for node in nodes:
            rating = capacity[node]
            if node in spread.down or node not in flow.into or math.isnan(rating):
                continue
            carried = flow.carried(node)
            if carried > rating:
                trips.append(Trip(node, 1, carried, rating, flow.sources(node)))
        return trips


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
