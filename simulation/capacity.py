"""The capacity cascade: when assets fail, the load they carried moves to their surviving
peers; a peer pushed over its rated capacity trips, and the cascade goes on.

Each node's ``load`` is given by the caller, already resolved (an override, else live
telemetry, else the design load) and in the node's capacity unit; None (unknown) carries
nothing. The cascade is computed in rounds, each from scratch, until a fixed point:

1. The failed nodes and those tripped so far are propagated (:func:`propagate`, with the
   cut relationships).
2. Every *source* moves its load, when positive. A source is a node whose load no longer
   flows: a down node (failed, tripped or impacted), or an up node cut off from every one
   of its consumers (each relationship to them cut). Its *peers* are the nodes that share
   an up consumer with it and can take its place there: a supplier ``p`` of a consumer
   ``c`` of the source, with ``c`` up, ``p`` up, the relationship ``p -> c`` not cut,
   ``p`` rated (a positive capacity) in the source's capacity unit. The load moves to the
   peers in proportion to their rated capacities. A source without peers sheds its load:
   its consumers are down, or nothing rated can take it.
3. A peer's load is then its own load plus everything moved onto it. A peer whose load is
   above its capacity (strictly) trips, with that load and its sources. Only load moved
   by the scenario trips anything: a node already above its rating on its own load alone
   is the baseline, not the scenario's doing, and stays up.
4. The round that trips nothing ends the cascade; ``tripped`` only grows, so it ends.

Each round is defined from scratch, but worked out from the last: failures only grow, so
the propagation carries on from where it stopped, and only the sources next to what fell
(it, the suppliers it fed and those that share its consumers) have their loads placed
again. A cascade thus costs time in proportion to what falls and what the fallen nodes'
consumers are fed by, however many rounds it lasts; the final outcome is one more
:func:`propagate`, for its causes and explanation paths.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from simulation.propagation import Outcome, Pair, propagate
from simulation.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class Trip:
    """A peer pushed over its capacity: in which round, by how much load (its own plus
    what moved onto it), and from which sources (rank order)."""

    node: int
    round: int  # 1 for the first round
    load: float
    capacity: float
    sources: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Moved:
    """Load that moved from a source to one of its peers, in the source's unit."""

    source: int
    target: int
    amount: float


@dataclass(frozen=True, slots=True)
class Cascade:
    """Where the cascade settled. ``outcome`` is the propagation of the failed and the
    tripped nodes together (its ``failed`` holds both; ``trips`` tells them apart);
    ``loads``, ``moved`` and ``shed`` are those of the last round."""

    outcome: Outcome
    trips: tuple[Trip, ...]  # by round, then load/capacity descending, then rank
    loads: Mapping[int, float]  # up node that took moved load -> its load, in rank order
    moved: tuple[Moved, ...]  # by source rank, then target rank
    shed: Mapping[int, float]  # source whose load found no peer -> that load, in rank order
    rounds: int  # the last one trips nothing: the last trip's round + 1


def cascade(
    snapshot: Snapshot,
    failed: Iterable[int],
    cut: Collection[Pair],
    load: Sequence[float | None],
) -> Cascade:
    """The capacity cascade of ``failed`` nodes and ``cut`` relationships (supplier,
    consumer) under ``load`` (one value per node, in its capacity unit; None: unknown)."""
    if len(load) != len(snapshot):
        raise ValueError(
            f"the capacity cascade needs one load per node of the snapshot: "
            f"expected {len(snapshot)} values, found {len(load)}"
        )
    roots = set(failed)
    cut_pairs = frozenset(cut)
    rank = snapshot.rank
    spread = _Spread(snapshot, roots, cut_pairs)
    flow = _Flow(snapshot, cut_pairs, load)
    changed = flow.update([*spread.fallen, *flow.cut_off], spread.down)
    trips: list[Trip] = []
    rounds = 1
    while True:
        over: list[tuple[float, int, Trip]] = []  # (-load/capacity, rank, trip)
        for peer in changed:
            rating = snapshot.capacity[peer]
            if peer in spread.down or peer not in flow.into or rating is None:
                continue
            carried = flow.carried(peer)
            if carried > rating:
                trip = Trip(peer, rounds, carried, rating, flow.sources(peer))
                over.append((-carried / rating, rank[peer], trip))
        if not over:
            break
        over.sort(key=lambda item: item[:2])
        trips.extend(trip for _ratio, _rank, trip in over)
        changed = flow.update(spread.fail(trip.node for _r, _k, trip in over), spread.down)
        rounds += 1
    moved = [
        Moved(source, peer, amount)
        for source, moves in flow.moves.items()
        for peer, amount in moves
    ]
    moved.sort(key=lambda move: (rank[move.source], rank[move.target]))
    return Cascade(
        outcome=propagate(snapshot, roots.union(trip.node for trip in trips), cut_pairs),
        trips=tuple(trips),
        loads={peer: flow.carried(peer) for peer in sorted(flow.into, key=rank.__getitem__)},
        moved=tuple(moved),
        shed={source: flow.shed[source] for source in sorted(flow.shed, key=rank.__getitem__)},
        rounds=rounds,
    )


class _Spread:
    """The down set as failures are added: the walk of :func:`propagate` carried on from
    where the last one stopped (the same fixed point, as failures only grow), so that a
    round does not walk again what already fell."""

    __slots__ = ("_cut", "_lost", "_snapshot", "down", "fallen")

    def __init__(self, snapshot: Snapshot, failed: Collection[int], cut: frozenset[Pair]) -> None:
        self._snapshot, self._cut = snapshot, cut
        self._lost: dict[int, int] = {}
        self.down = set(failed)
        self.fallen = list(self.down)  # what the first failures took down
        queue = deque(self.fallen)
        for _supplier, consumer in cut:  # each counts once, whether or not its supplier falls
            if consumer not in self.down:
                self._lose(consumer, queue, self.fallen)
        self._walk(queue, self.fallen)

    def fail(self, nodes: Iterable[int]) -> list[int]:
        """Take ``nodes`` (up) down, with everything that falls with them; what fell."""
        fallen = [node for node in nodes if node not in self.down]
        self.down.update(fallen)
        self._walk(deque(fallen), fallen)
        return fallen

    def _walk(self, queue: deque[int], fallen: list[int]) -> None:
        consumers, down, cut = self._snapshot.consumers, self.down, self._cut
        while queue:
            node = queue.popleft()
            for consumer in consumers[node]:
                if consumer not in down and (node, consumer) not in cut:
                    self._lose(consumer, queue, fallen)

    def _lose(self, consumer: int, queue: deque[int], fallen: list[int]) -> None:
        count = self._lost[consumer] = self._lost.get(consumer, 0) + 1
        snapshot = self._snapshot
        if count > len(snapshot.suppliers[consumer]) - snapshot.required[consumer]:
            self.down.add(consumer)
            fallen.append(consumer)
            queue.append(consumer)


class _Flow:
    """Where the sources' loads go, kept up to date as nodes fall: only the sources next
    to what fell are worked out again (a source's peers change only when it, one of its
    consumers or one of their suppliers falls)."""

    __slots__ = ("_cut", "_load", "_snapshot", "cut_off", "into", "moves", "shed")

    def __init__(
        self, snapshot: Snapshot, cut: frozenset[Pair], load: Sequence[float | None]
    ) -> None:
        self._snapshot, self._cut, self._load = snapshot, cut, load
        consumers = snapshot.consumers
        self.cut_off = {
            supplier
            for supplier, _consumer in cut
            if consumers[supplier] and all((supplier, c) in cut for c in consumers[supplier])
        }  # sources even while up
        self.moves: dict[int, list[tuple[int, float]]] = {}  # source -> (peer, amount)
        self.into: dict[int, dict[int, float]] = {}  # peer -> source -> amount
        self.shed: dict[int, float] = {}

    def update(self, fallen: Iterable[int], down: Collection[int]) -> set[int]:
        """Place again the loads of the sources next to the ``fallen`` nodes (or cut off);
        the peers whose incoming load changed."""
        suppliers, consumers = self._snapshot.suppliers, self._snapshot.consumers
        near: set[int] = set()
        for node in fallen:
            near.add(node)
            near.update(suppliers[node])  # it was their consumer
            for consumer in consumers[node]:
                near.update(suppliers[consumer])  # it was their peer
        changed: set[int] = set()
        for source in near:
            self._place(source, down, changed)
        return changed

    def carried(self, peer: int) -> float:
        """Its own load and what moved onto it, added up in source rank order."""
        own = self._load[peer]
        total = 0.0 if own is None else own
        for source in self.sources(peer):
            total += self.into[peer][source]
        return total

    def sources(self, peer: int) -> tuple[int, ...]:
        """The sources whose load moved onto ``peer``, in rank order."""
        return tuple(sorted(self.into[peer], key=self._snapshot.rank.__getitem__))

    def _place(self, source: int, down: Collection[int], changed: set[int]) -> None:
        for peer, _amount in self.moves.pop(source, ()):
            into = self.into[peer]
            del into[source]
            if not into:
                del self.into[peer]
            changed.add(peer)
        self.shed.pop(source, None)
        amount = self._load[source]
        if amount is None or not amount > 0:
            return
        if source not in down and source not in self.cut_off:
            return
        snapshot, cut = self._snapshot, self._cut
        capacity, unit = snapshot.capacity, snapshot.capacity_unit
        peers: dict[int, float] = {}  # peer -> its rating, in the order found
        for consumer in snapshot.consumers[source]:
            if consumer in down:
                continue
            for peer in snapshot.suppliers[consumer]:
                rating = capacity[peer]
                if (
                    rating is not None
                    and rating > 0
                    and peer != source
                    and peer not in down
                    and unit[peer] == unit[source]
                    and (peer, consumer) not in cut
                ):
                    peers[peer] = rating
        if not peers:
            self.shed[source] = amount
            return
        total = sum(peers.values())
        moves = self.moves[source] = [
            (peer, amount * rating / total) for peer, rating in peers.items()
        ]
        for peer, share in moves:
            self.into.setdefault(peer, {})[source] = share
            changed.add(peer)
