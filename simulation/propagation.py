"""Failure propagation: which assets go down when some assets (and relationships) fail,
why, and which stay up on less redundancy than they had.

A node is down when it failed, or when fewer of its suppliers work than its redundancy
policy requires (``Snapshot.required``); a supplier does not work for a consumer when it
is down or when the relationship between them failed. This is the greatest fixed point
(everything that can consistently be up is up), reached by a breadth-first walk from the
failures that counts each consumer's lost suppliers, so each impacted node is visited
once and a single failure costs time in proportion to what it reaches.

Each impacted node remembers the supplier whose loss took it below its need (its
``cause``): following causes back gives an explanation path to a root failure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from kgtwin.simulation.deadline import NO_DEADLINE, Deadline
from kgtwin.simulation.snapshot import Snapshot

Pair = tuple[int, int]  # (supplier, consumer)
CHECK_EVERY = 4096  # nodes walked between two looks at the deadline


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a set of failures does to the snapshot."""

    failed: tuple[int, ...]  # the failed assets given, in rank order
    cut: frozenset[Pair]  # the failed relationships given, supplier to consumer
    impacted: tuple[int, ...]  # nodes brought down by the failures, in the order they fell
    cause: Mapping[int, int]  # impacted node -> the supplier whose loss brought it down
    lost: Mapping[int, int]  # node (up or impacted) -> how many suppliers it lost
    down: frozenset[int]  # the failed and the impacted nodes

    def path(self, node: int) -> tuple[tuple[int, ...], bool]:
        """The explanation of why ``node`` is down: the nodes from a root failure to it, and
        whether the root is a failed relationship (from the path's first node to its
        second) rather than a failed asset. A cause along a cut relationship is always
        that relationship (the walk never counts a cut supplier twice), even when its
        supplier went down too: following that supplier's own cause could lead back here."""
        path = [node]
        at = node
        while at in self.cause:
            supplier = self.cause[at]
            path.append(supplier)
            if (supplier, at) in self.cut:
                return tuple(reversed(path)), True
            at = supplier
        return tuple(reversed(path)), False

    def degraded(self, snapshot: Snapshot) -> tuple[int, ...]:
        """Nodes still up that lost at least one supplier, in rank order."""
        return tuple(
            sorted((n for n in self.lost if n not in self.down), key=snapshot.rank.__getitem__)
        )

    def lost_suppliers(self, snapshot: Snapshot, node: int) -> tuple[int, ...]:
        """The suppliers ``node`` lost: down, or cut off by a failed relationship."""
        return tuple(s for s in snapshot.suppliers[node] if s in self.down or (s, node) in self.cut)


def propagate(
    snapshot: Snapshot,
    failed: Iterable[int],
    cut: Collection[Pair] = (),
    *,
    within: Collection[int] | None = None,
    stop_at: int | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Outcome:
    """The outcome of ``failed`` nodes and ``cut`` relationships (supplier, consumer;
    a pair that is not a relationship of the snapshot is ignored).
    ``within`` limits the walk to those nodes (e.g. the ancestors of a target: nothing
    else can reach it); ``stop_at`` ends the walk as soon as that node goes down.
    Checks ``deadline`` every :data:`CHECK_EVERY` nodes."""
    roots = tuple(sorted(set(failed), key=snapshot.rank.__getitem__))
    consumers = snapshot.consumers
    offsets, targets = consumers.offsets, consumers.values
    # a pair that is no relationship of the snapshot cuts nothing
    cut_pairs = frozenset((s, c) for s, c in cut if c in consumers[s])
    slack = snapshot.slack
    down = set(roots)
    cause: dict[int, int] = {}
    lost: dict[int, int] = {}
    order = list(roots)  # the walk's queue: the roots, then each node as it falls
    check_cut, check_within = bool(cut_pairs), within is not None
    inside: Collection[int] = () if within is None else within
    stopped = False
    # a cut relationship counts once, here, whether or not its supplier is down too
    for supplier, consumer in sorted(cut_pairs):
        if consumer in down or (check_within and consumer not in inside):
            continue
        count = lost[consumer] = lost.get(consumer, 0) + 1
        if count > slack[consumer]:
            down.add(consumer)
            cause[consumer] = supplier
            order.append(consumer)
            if consumer == stop_at:
                stopped = True
                break
    # the hot loop of every what-if: kept flat (no calls) for speed
    at = 0
    while not stopped and at < len(order):
        node = order[at]
        at += 1
        if not at % CHECK_EVERY:
            deadline.check()
        for consumer in targets[offsets[node] : offsets[node + 1]]:
            if consumer in down:
                continue
            if check_cut and (node, consumer) in cut_pairs:
                continue
            if check_within and consumer not in inside:
                continue
            count = lost[consumer] = lost.get(consumer, 0) + 1
            if count > slack[consumer]:
                down.add(consumer)
                cause[consumer] = node
                order.append(consumer)
                if consumer == stop_at:
                    stopped = True
                    break
    impacted = order[len(roots) :]
    return Outcome(roots, cut_pairs, tuple(impacted), cause, lost, frozenset(down))
