"""Many failure scenarios propagated at once, one bit per scenario.

:class:`Layers` holds rows of 64-bit words: a node's row of "down" bits is its own
failures, or'd with what its suppliers' rows say under its redundancy (any supplier lost,
all lost, or a count of them). Nodes are taken in the order of their strongly connected
components, suppliers first, so one pass settles an acyclic graph and a cycle is repeated
until it stops changing: the same fixed point as :func:`simulation.propagation.propagate`,
for thousands of scenarios per numpy call. Single points of failure
(:mod:`simulation.spof`) and the Monte Carlo (:mod:`simulation.availability`) run on it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from kgtwin.simulation.arrays import Ragged
from kgtwin.simulation.snapshot import Snapshot

Bits = npt.NDArray[np.uint64]  # one row per node, bit j of the row: scenario j
Index = npt.NDArray[np.intp]

WORD = 64
MAX_WORDS = 64  # words per row: 4096 scenarios at a time
BUDGET = 1 << 22  # words held by one array at most (32 MiB)
ONE = np.uint64(1)


def upstream(snapshot: Snapshot, nodes: Iterable[int]) -> frozenset[int]:
    """``nodes`` and every node they depend on, directly or not: all that can bring any
    of them down."""
    return _reach(snapshot.suppliers, nodes)


def downstream(snapshot: Snapshot, nodes: Iterable[int]) -> frozenset[int]:
    """``nodes`` and every node that depends on them, directly or not: all they can bring
    down."""
    return _reach(snapshot.consumers, nodes)


def _reach(links: Ragged, nodes: Iterable[int]) -> frozenset[int]:
    """``nodes`` and every node reached from them along ``links``."""
    offsets, values = links.offsets, links.values
    seen = set(nodes)
    stack = list(seen)
    while stack:
        node = stack.pop()
        for other in values[offsets[node] : offsets[node + 1]]:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return frozenset(seen)


class Rule(Enum):
    """How many lost suppliers take a node down."""

    ONE_LOST = "one"  # it needs them all
    ALL_LOST = "all"  # it needs one of them
    K_LOST = "k"  # it needs more than one but not all: down once n - needed + 1 are lost


@dataclass(frozen=True, slots=True)
class Group:
    """Nodes of one level that go down by the same rule, with their suppliers."""

    rows: Index  # the nodes' rows
    suppliers: Index  # their suppliers' rows, node after node
    starts: Index  # where each node's suppliers start in ``suppliers``
    rule: Rule
    fatal: npt.NDArray[np.int64]  # how many lost suppliers take each node down

    def fallen(self, down: Bits) -> Bits:
        """The bits of the scenarios in which each node lost too many suppliers."""
        if self.rule is Rule.ONE_LOST:
            return np.bitwise_or.reduceat(down[self.suppliers], self.starts, axis=0)
        if self.rule is Rule.ALL_LOST:
            return np.bitwise_and.reduceat(down[self.suppliers], self.starts, axis=0)
        # count the lost suppliers bit by bit, a bounded number of words at a time
        fallen = np.empty((len(self.rows), down.shape[1]), dtype=np.uint64)
        step = max(1, BUDGET // (WORD * len(self.suppliers)))
        for first in range(0, down.shape[1], step):
            words = down[self.suppliers, first : first + step]
            lost = np.unpackbits(words.view(np.uint8), axis=1)
            counts = np.add.reduceat(lost, self.starts, axis=0, dtype=np.int64)
            packed = np.packbits(counts >= self.fatal[:, None], axis=1)
            fallen[:, first : first + step] = packed.view(np.uint64)
        return fallen


@dataclass(frozen=True, slots=True)
class Layers:
    """Bit-parallel failure propagation over a set of nodes that holds all their
    ancestors. Row ``r`` is node ``nodes[r]``; levels are in supplier-first order."""

    nodes: tuple[int, ...]
    row: Mapping[int, int]  # node -> its row
    levels: tuple[tuple[tuple[Group, ...], bool], ...]  # each level's groups; cyclic?
    words: int  # words per row that keep every array within BUDGET

    @classmethod
    def of(cls, snapshot: Snapshot, nodes: Collection[int]) -> Layers:
        """The layers of ``nodes``, which must hold every supplier of each of them."""
        suppliers, required = snapshot.suppliers, snapshot.required
        level: dict[int, int] = {}
        cyclic: set[int] = set()
        for component in _components(suppliers, nodes):
            depth, looped = 0, len(component) > 1
            for node in component:
                for supplier in suppliers[node]:
                    if supplier in level:
                        depth = max(depth, level[supplier] + 1)
                    looped |= supplier == node
            for node in component:
                level[node] = depth
            if looped:
                cyclic.add(depth)
        order = sorted(nodes, key=lambda n: (level[n], n))
        row = {node: r for r, node in enumerate(order)}
        by_level: list[list[int]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for node in order:
            by_level[level[node]].append(node)
        levels = tuple(
            (_groups(members, suppliers, required, row), depth in cyclic)
            for depth, members in enumerate(by_level)
        )
        widest = max((len(g.suppliers) for gs, _ in levels for g in gs), default=0)
        words = max(1, min(MAX_WORDS, BUDGET // max(1, widest, len(order))))
        return cls(tuple(order), row, levels, words)

    def down(self, failed: Bits) -> Bits:
        """Which nodes are down in each scenario, given which failed (rows of bits)."""
        down = failed.copy()
        for groups, cyclic in self.levels:
            changed = True
            while changed:
                changed = False
                for group in groups:
                    fallen = group.fallen(down)
                    if cyclic:  # a cycle goes round until nothing more falls
                        changed |= bool((fallen & ~down[group.rows]).any())
                    down[group.rows] |= fallen
        return down


def _groups(
    members: Sequence[int],
    suppliers: Ragged,
    required: Sequence[int],
    row: Mapping[int, int],
) -> tuple[Group, ...]:
    """A level's nodes grouped by rule; nodes that need no supplier are left out."""
    groups = []
    for rule in Rule:
        chosen = [
            n for n in members if required[n] and _rule(len(suppliers[n]), required[n]) is rule
        ]
        if not chosen:
            continue
        sizes = [len(suppliers[n]) for n in chosen]
        groups.append(
            Group(
                rows=np.array([row[n] for n in chosen], dtype=np.intp),
                suppliers=np.array([row[s] for n in chosen for s in suppliers[n]], dtype=np.intp),
                starts=np.cumsum([0, *sizes[:-1]], dtype=np.intp),
                rule=rule,
                fatal=np.array(
                    [size - required[n] + 1 for n, size in zip(chosen, sizes, strict=True)],
                    dtype=np.int64,
                ),
            )
        )
    return tuple(groups)


def _rule(suppliers: int, required: int) -> Rule:
    if required == suppliers:
        return Rule.ONE_LOST
    if required == 1:
        return Rule.ALL_LOST
    return Rule.K_LOST


def _components(suppliers: Ragged, nodes: Iterable[int]) -> list[list[int]]:
    """The strongly connected components of ``nodes`` (which hold all their suppliers),
    suppliers' components first (Tarjan's algorithm, without recursion)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: list[list[int]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(suppliers[root]))]
        while work:
            node, rest = work[-1]
            for supplier in rest:
                if supplier not in index:
                    index[supplier] = low[supplier] = len(index)
                    stack.append(supplier)
                    on_stack.add(supplier)
                    work.append((supplier, iter(suppliers[supplier])))
                    break
                if supplier in on_stack:
                    low[node] = min(low[node], index[supplier])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(component)
    return found


def one_failure_each(layers: Layers, candidates: Sequence[int]) -> Bits:
    """Rows of bits in which scenario ``j`` is the failure of ``candidates[j]`` alone."""
    failed = np.zeros((len(layers.nodes), -(-len(candidates) // WORD)), dtype=np.uint64)
    column = np.arange(len(candidates))
    rows = np.array([layers.row[n] for n in candidates], dtype=np.intp)
    failed[rows, column // WORD] |= ONE << (column % WORD).astype(np.uint64)
    return failed


def unpack(bits: Bits, count: int) -> npt.NDArray[np.bool_]:
    """Bits as booleans, one column per scenario (the first ``count``)."""
    shifts = np.arange(WORD, dtype=np.uint64)
    unpacked = (bits[..., None] >> shifts) & ONE
    return unpacked.reshape(*bits.shape[:-1], -1)[..., :count].astype(bool)
