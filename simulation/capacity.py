"""The capacity cascade: when assets fail, the load they carried moves to their surviving
peers and up the peers' supply chains; a node pushed over its rated capacity trips, and
the cascade goes on, round by round, until nothing more trips.

:func:`cascade` takes each node's load already resolved (an override, else live
telemetry, else the design load) in the node's capacity unit. The specification (sources
and peers, how load flows up supply chains and past cycles, what trips, what a cascade
costs) is in ``docs/capacity.md``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kgtwin.simulation.deadline import NO_DEADLINE, Deadline
from kgtwin.simulation.propagation import Outcome, Pair, propagate
from kgtwin.simulation.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class Trip:
    """A node pushed over its capacity: in which round, by how much load (its own plus
    what moved onto it and what flowed into it), and from which sources (rank order)."""

    node: int
    round: int  # 1 for the first round
    load: float
    capacity: float
    sources: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Moved:
    """Load that went from one node to another, in their capacity unit: in
    ``Cascade.moved`` from a source to one of its peers, in ``Cascade.flowed`` from a
    node that took load on to one of its suppliers (which carries it too)."""

    source: int
    target: int
    amount: float


@dataclass(frozen=True, slots=True)
class Cascade:
    """Where the cascade settled. ``outcome`` is the propagation of the failed and the
    tripped nodes together (its ``failed`` holds both; ``trips`` tells them apart);
    ``loads``, ``moved``, ``flowed`` and ``shed`` are those of the last round."""

    outcome: Outcome
    trips: tuple[Trip, ...]  # by round, then load/capacity descending, then rank
    loads: Mapping[int, float]  # up node that took load on -> its load, in rank order
    moved: tuple[Moved, ...]  # by source rank, then target rank
    shed: Mapping[int, float]  # source whose load found no peer -> that load, in rank order
    rounds: int  # the last one trips nothing: the last trip's round + 1
    # load passed up (source: the node passing it on, target: its supplier), all sources'
    # together: by source rank, then target rank
    flowed: tuple[Moved, ...] = ()


def cascade(
    snapshot: Snapshot,
    failed: Iterable[int],
    cut: Collection[Pair],
    load: Sequence[float | None],
    deadline: Deadline = NO_DEADLINE,
) -> Cascade:
    """The capacity cascade of ``failed`` nodes and ``cut`` relationships (supplier,
    consumer) under ``load`` (one value per node, in its capacity unit; None: unknown).
    Checks ``deadline`` every round."""
    if len(load) != len(snapshot):
        raise ValueError(
            f"the capacity cascade needs one load per node of the snapshot: "
            f"expected {len(snapshot)} values, found {len(load)}"
        )
    roots = set(failed)
    cut_pairs = frozenset(cut)
    rank = snapshot.rank
    spread = Spread(snapshot, roots, cut_pairs)
    flow = Flow(snapshot, cut_pairs, load)
    changed = flow.update([*spread.fallen, *flow.cut_off], spread.down)
    trips: list[Trip] = []
    rounds = 1
    while True:
        deadline.check()
        over: list[tuple[float, int, Trip]] = []  # (-load/capacity, rank, trip)
        for node in changed:
            rating = snapshot.capacity[node]
            if node in spread.down or node not in flow.into or math.isnan(rating):
                continue
            carried = flow.carried(node)
            if carried > rating:
                trip = Trip(node, rounds, carried, rating, flow.sources(node))
                over.append((-carried / rating, rank[node], trip))
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
        outcome=propagate(
            snapshot, roots.union(trip.node for trip in trips), cut_pairs, deadline=deadline
        ),
        trips=tuple(trips),
        loads={node: flow.carried(node) for node in sorted(flow.into, key=rank.__getitem__)},
        moved=tuple(moved),
        shed={source: flow.shed[source] for source in sorted(flow.shed, key=rank.__getitem__)},
        rounds=rounds,
        flowed=flow.flowed(),
    )


class Spread:
    """The down set as failures are added: the walk of :func:`propagate` carried on from
    where the last one stopped (the same fixed point, as failures only grow), so that a
    round does not walk again what already fell. Public for :mod:`simulation.risk_capacity`,
    which works out the first round of many cascades from a copy of one."""

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
        if count > snapshot.slack[consumer]:
            self.down.add(consumer)
            fallen.append(consumer)
            queue.append(consumer)


class Flow:
    """Where the sources' loads go, kept up to date as nodes fall: only the sources next
    to what fell or whose load reached it are worked out again (a source's peers change
    only when it, one of its consumers or one of their suppliers falls; its flow only
    when a node it reached falls)."""

    __slots__ = (
        "_cut",
        "_cycles",
        "_load",
        "_reach",
        "_snapshot",
        "_through",
        "cut_off",
        "flows",
        "into",
        "moves",
        "shed",
    )

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
        # source -> (node, supplier, amount): its load passed up a relationship
        self.flows: dict[int, list[tuple[int, int, float]]] = {}
        self.into: dict[int, dict[int, float]] = {}  # node -> source -> amount moved or flowed
        self.shed: dict[int, float] = {}
        self._cycles = _Cycles(snapshot)
        self._reach: dict[int, list[int]] = {}  # source -> the nodes its load reached
        self._through: dict[int, set[int]] = {}  # node -> the sources whose load reached it

    def update(self, fallen: Iterable[int], down: Collection[int]) -> set[int]:
        """Place again the loads of the sources next to the ``fallen`` nodes (or cut off)
        or whose load reached them; the nodes whose incoming load changed."""
        suppliers, consumers = self._snapshot.suppliers, self._snapshot.consumers
        near: set[int] = set()
        for node in fallen:
            near.add(node)
            near.update(suppliers[node])  # it was their consumer
            for consumer in consumers[node]:
                near.update(suppliers[consumer])  # it was their peer
            near.update(self._through.get(node, ()))  # their load went onto it or through it
        changed: set[int] = set()
        for source in near:
            self._place(source, down, changed)
        return changed

    def carried(self, node: int) -> float:
        """Its own load and what moved or flowed onto it, added up in source rank order."""
        own = self._load[node]
        total = 0.0 if own is None else own
        for source in self.sources(node):
            total += self.into[node][source]
        return total

    def sources(self, node: int) -> tuple[int, ...]:
        """The sources whose load moved or flowed onto ``node``, in rank order."""
        return tuple(sorted(self.into[node], key=self._snapshot.rank.__getitem__))

    def flowed(self) -> tuple[Moved, ...]:
        """What each relationship passes up, all sources' together (added up in source rank
        order), by the rank of the node passing it on, then of its supplier."""
        rank = self._snapshot.rank
        total: dict[Pair, float] = {}
        for source in sorted(self.flows, key=rank.__getitem__):
            for node, supplier, amount in self.flows[source]:
                total[node, supplier] = total.get((node, supplier), 0.0) + amount
        pairs = sorted(total, key=lambda pair: (rank[pair[0]], rank[pair[1]]))
        return tuple(Moved(node, supplier, total[node, supplier]) for node, supplier in pairs)

    def _place(self, source: int, down: Collection[int], changed: set[int]) -> None:
        for node in self._reach.pop(source, ()):
            through = self._through[node]
            through.discard(source)
            if not through:
                del self._through[node]
            into = self.into[node]
            del into[source]
            if not into:
                del self.into[node]
            changed.add(node)
        self.moves.pop(source, None)
        self.flows.pop(source, None)
        self.shed.pop(source, None)
        amount = self._load[source]
        if amount is None or not amount > 0:
            return
        if source not in down and source not in self.cut_off:
            return
        snapshot, cut = self._snapshot, self._cut
        capacity, unit = snapshot.capacity, snapshot.capacity_unit.codes
        peers: dict[int, float] = {}  # peer -> its rating, in the order found
        for consumer in snapshot.consumers[source]:
            if consumer in down:
                continue
            for peer in snapshot.suppliers[consumer]:
                rating = capacity[peer]
                if (
                    rating > 0  # not NaN: rated
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
        received = dict(moves)  # node -> the source's load on it: moved, then flowed too
        flows = self._upstream(received, down)
        if flows:
            self.flows[source] = flows
        self._reach[source] = list(received)
        for node, share in received.items():
            self._through.setdefault(node, set()).add(source)
            self.into.setdefault(node, {})[source] = share
            changed.add(node)

    def _upstream(
        self, received: dict[int, float], down: Collection[int]
    ) -> list[tuple[int, int, float]]:
        """Pass what the peers ``received`` up their working suppliers' chains, adding what
        flows into each node to ``received``; the flows. The relationships that carry
        flow make no cycle, so their nodes are taken in topological order (Kahn's), each
        once all that pass it something have: it then passes on all it received."""
        snapshot, cut, cycles = self._snapshot, self._cut, self._cycles
        capacity, unit, kinds = snapshot.capacity, snapshot.capacity_unit.codes, snapshot.kinds
        suppliers, supplied_over, serves_over = (
            snapshot.suppliers,
            snapshot.supplied_over,
            snapshot.serves_over,
        )
        carry: dict[int, list[tuple[int, float]]] = {}  # node -> (supplier, rating) it draws on
        waiting: dict[int, int] = {}  # node -> how many nodes that pass it something are left
        reached = list(received)
        for node in reached:  # grows as the chains are found
            ups = carry[node] = []
            for supplier, over in zip(suppliers[node], supplied_over[node], strict=True):
                rating = capacity[supplier]
                if (
                    rating > 0  # not NaN: rated
                    and supplier not in down
                    and unit[supplier] == unit[node]
                    and not kinds[over].isdisjoint(kinds[serves_over[node]])  # same supply
                    and (supplier, node) not in cut
                    and not cycles.on_cycle(supplier, node)
                ):
                    ups.append((supplier, rating))
                    if supplier not in waiting and supplier not in received:
                        reached.append(supplier)
                    waiting[supplier] = waiting.get(supplier, 0) + 1
        ready = deque(node for node in reached if node not in waiting)
        flows: list[tuple[int, int, float]] = []
        while ready:
            node = ready.popleft()
            ups = carry[node]
            if not ups:
                continue
            amount = received[node]
            total = sum(rating for _supplier, rating in ups)
            for supplier, rating in ups:
                share = amount * rating / total
                received[supplier] = received.get(supplier, 0.0) + share
                flows.append((node, supplier, share))
                waiting[supplier] -= 1
                if not waiting[supplier]:
                    ready.append(supplier)
        return flows


UP, DOWN = 0, 1  # the ways along a chain: to suppliers, to consumers


class _Cycles:
    """Which relationships lie on the model's supply cycles in one unit, as the flow meets
    them: a relationship from a rated supplier in its consumer's unit is on one when the
    supplier reaches back to the consumer up such relationships (up or down, cut or not).

    A search from both ends, up from the supplier and down from the consumer, each step on
    the side that has seen fewer nodes, ends as soon as they meet (soon in a large cycle)
    or either side runs out (soon in a site's short chains). The side that ran out has the
    cycles of its whole chain that way placed (Tarjan's walk): later questions on placed
    nodes are answered from their places, and later searches and walks skip placed nodes,
    so that a node is walked at most once each way however many relationships above and
    below it the flow asks about. Skipping is sound: an unplaced node's chain either way
    meets only nodes placed by a walk that same way, whose chains beyond them were placed
    with them (a walk the other way that placed one would have placed the unplaced node
    too: it lies on that walk's chain)."""

    __slots__ = ("_count", "_known", "_snapshot", "places")

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._known: dict[Pair, bool] = {}
        self._count = 0
        self.places: dict[int, int] = {}  # node -> its cycle's number, the cycle known whole

    def on_cycle(self, supplier: int, consumer: int) -> bool:
        if supplier == consumer:
            return True
        places = self.places
        if supplier in places or consumer in places:
            return places.get(supplier) == places.get(consumer)
        pair = (supplier, consumer)
        known = self._known.get(pair)
        if known is None:
            known = self._known[pair] = self._meet(supplier, consumer)
        return known

    def _links(self, node: int, way: int) -> list[int]:
        """Up: its rated suppliers in its unit. Down: its consumers in its unit, when it is
        rated (the same relationships, the other way)."""
        snapshot = self._snapshot
        capacity, unit = snapshot.capacity, snapshot.capacity_unit.codes
        if way == UP:
            return [
                supplier
                for supplier in snapshot.suppliers[node]
                if capacity[supplier] > 0  # not NaN: rated
                and unit[supplier] == unit[node]
            ]
        if not capacity[node] > 0:
            return []
        return [consumer for consumer in snapshot.consumers[node] if unit[consumer] == unit[node]]

    def _meet(self, top: int, bottom: int) -> bool:
        """Whether ``bottom`` is up the chain from ``top`` (neither placed)."""
        places = self.places
        seen = ({top}, {bottom})
        frontier = [[top], [bottom]]
        while frontier[UP] and frontier[DOWN]:
            way = UP if len(seen[UP]) <= len(seen[DOWN]) else DOWN
            mine, theirs = seen[way], seen[1 - way]
            ahead: list[int] = []
            for node in frontier[way]:
                for other in self._links(node, way):
                    if other in mine or other in places:
                        continue
                    if other in theirs:
                        return True
                    mine.add(other)
                    ahead.append(other)
            frontier[way] = ahead
        if frontier[UP]:
            self._place(bottom, DOWN)
        else:
            self._place(top, UP)
        return False

    def _place(self, start: int, way: int) -> None:
        """Place the cycles of ``start``'s chain ``way`` (Tarjan's walk)."""
        places = self.places
        number = {start: 0}  # node -> when the walk reached it
        low = {start: 0}  # node -> the earliest number it reaches back to
        stack = [start]  # reached, its cycle not closed yet
        walk = [(start, iter(self._links(start, way)))]
        while walk:
            node, ahead = walk[-1]
            for other in ahead:
                if other in places:
                    continue
                if other not in number:
                    number[other] = low[other] = len(number)
                    stack.append(other)
                    walk.append((other, iter(self._links(other, way))))
                    break
                low[node] = min(low[node], number[other])  # on the stack: a cycle
            else:
                walk.pop()
                if walk:
                    below = walk[-1][0]
                    low[below] = min(low[below], low[node])
                if low[node] == number[node]:  # the first node of its cycle: close it
                    self._count += 1
                    while True:
                        member = stack.pop()
                        places[member] = self._count
                        if member == node:
                            break
