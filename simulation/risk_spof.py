"""New single points of failure under reported failures: the up nodes whose failure alone
would now take down up nodes that their failure alone would not take down in the healthy
design. All candidates are tried at once on :class:`simulation.batch.Layers` of the whole
snapshot (built once, at the first degraded state), with the failures forced down and
without them; why only some nodes are candidates is in ``docs/risk.md``.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from kgtwin.simulation.arrays import view
from kgtwin.simulation.batch import (
    BUDGET,
    ONE,
    WORD,
    Bits,
    Index,
    Layers,
    one_failure_each,
    unpack,
    upstream,
)
from kgtwin.simulation.deadline import Deadline
from kgtwin.simulation.propagation import Outcome
from kgtwin.simulation.snapshot import Snapshot

ALL = ~np.uint64(0)

# node -> how many targets, the first in rank order, a path from it to the first
Found = dict[int, tuple[int, tuple[int, ...], tuple[int, ...]]]


class NewSinglePoints:
    """The search, with the layers of the snapshot it keeps between searches."""

    __slots__ = ("_by_rank", "_layers", "_nodes", "_snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._layers: Layers | None = None
        self._nodes: Index = np.zeros(0, dtype=np.intp)  # row -> node
        self._by_rank: Index = np.zeros(0, dtype=np.intp)  # the rows in their nodes' rank order

    def layers(self) -> Layers:
        """The layers of every node of the snapshot (built the first time)."""
        if self._layers is None:
            snapshot = self._snapshot
            self._layers = Layers.of(snapshot, range(len(snapshot)))
            self._nodes = np.array(self._layers.nodes, dtype=np.intp)
            rank = view(snapshot.rank)
            self._by_rank = np.argsort(rank[self._nodes], kind="stable").astype(np.intp)
        return self._layers

    def find(self, outcome: Outcome, keep: int, deadline: Deadline) -> Found:
        """The new single points of failure under ``outcome``'s failures: each with how
        many it would take down, the first ``keep`` in rank order, and a path from it to
        the first."""
        snapshot, down = self._snapshot, outcome.down
        degraded = outcome.degraded(snapshot)
        if not degraded:
            return {}
        # a target falls only through a degraded node that loses a supplier the
        # candidate's failure alone takes down: candidates hold up such suppliers
        held = {s for d in degraded for s in snapshot.suppliers[d] if s not in down}
        candidates = sorted(upstream(snapshot, held) - down, key=snapshot.rank.__getitem__)
        layers = self.layers()
        forced = np.array([layers.row[n] for n in down], dtype=np.intp)
        step = layers.words * WORD
        found: Found = {}
        for first in range(0, len(candidates), step):
            deadline.check()
            chunk = candidates[first : first + step]
            failed = one_failure_each(layers, chunk)
            healthy = layers.down(failed)
            failed[forced] = ALL
            under = layers.down(failed)
            taken = under & ~healthy
            taken[forced] = 0
            taken[:, -1] &= ALL >> np.uint64(-len(chunk) % WORD)  # the scenarios past the chunk
            for column, count, targets in self._targets(taken, len(chunk), keep):
                node = chunk[column]
                path = self._path(under, column, node, targets[0], down)
                found[node] = (count, targets[:keep], path)
        return found

    def _targets(
        self, taken: Bits, count: int, keep: int
    ) -> list[tuple[int, int, tuple[int, ...]]]:
        """Per scenario with targets: its column, how many, and the first ``max(keep, 1)``
        in rank order."""
        rows = self._by_rank[taken[self._by_rank].any(axis=1)]
        per_slice = max(1, BUDGET // max(1, count))
        totals = np.zeros(count, dtype=np.int64)
        first: dict[int, list[int]] = {}
        wanted = max(keep, 1)
        for start in range(0, len(rows), per_slice):
            part = rows[start : start + per_slice]
            hits = unpack(taken[part], count)  # rows in rank order, one column per scenario
            totals += hits.sum(axis=0)
            column, at = np.nonzero(hits.T)  # by scenario, then rank
            bounds = np.searchsorted(column, np.arange(count + 1))
            for scenario in np.flatnonzero(np.diff(bounds)).tolist():
                have = first.setdefault(scenario, [])
                room = wanted - len(have)
                if room > 0:
                    begin = int(bounds[scenario])
                    chosen = part[at[begin : min(begin + room, int(bounds[scenario + 1]))]]
                    have.extend(self._nodes[chosen].tolist())
        return [
            (scenario, int(totals[scenario]), tuple(targets))
            for scenario, targets in sorted(first.items())
        ]

    def _path(
        self, under: Bits, column: int, node: int, target: int, down: Collection[int]
    ) -> tuple[int, ...]:
        """A path from ``node`` to ``target`` through what ``node``'s failure takes down
        beside the reported failures: each of those lost a supplier among them that fell
        before it, so going up from ``target`` reaches ``node``."""
        word, bit = divmod(column, WORD)
        bits = (under[:, word] >> np.uint64(bit)) & ONE
        fell = set(self._nodes[bits.astype(bool)].tolist()).difference(down)
        suppliers = self._snapshot.suppliers
        parent = {target: target}
        frontier = [target]
        while node not in parent:
            assert frontier, "a new single point reaches its target through what it takes down"
            ahead = []
            for at in frontier:
                for supplier in suppliers[at]:
                    if supplier in fell and supplier not in parent:
                        parent[supplier] = at
                        ahead.append(supplier)
            frontier = ahead
        path = [node]
        while path[-1] != target:
            path.append(parent[path[-1]])
        return tuple(path)
