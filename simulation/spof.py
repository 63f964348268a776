"""Single points of failure: the assets whose failure alone takes a target down, and the
assets ranked by how many of a set of targets their failure alone takes down.

Only a target's ancestors (what it depends on, directly or not) can take it down, so only
they are tried, all at once on :class:`simulation.batch.Layers` (one bit per candidate).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from kgtwin.simulation.batch import BUDGET, ONE, WORD, Layers, one_failure_each, unpack, upstream
from kgtwin.simulation.deadline import NO_DEADLINE, Deadline
from kgtwin.simulation.snapshot import Snapshot


def single_points_of_failure(
    snapshot: Snapshot, target: int, deadline: Deadline = NO_DEADLINE
) -> tuple[int, ...]:
    """Every node other than ``target`` whose failure alone takes ``target`` down, in
    rank order. Checks ``deadline`` between batches of candidates."""
    layers = Layers.of(snapshot, upstream(snapshot, (target,)))
    candidates = [n for n in layers.nodes if n != target]
    found: list[int] = []
    step = layers.words * WORD
    for first in range(0, len(candidates), step):
        deadline.check()
        chunk = candidates[first : first + step]
        down = layers.down(one_failure_each(layers, chunk))[layers.row[target]]
        found.extend(n for n, hit in zip(chunk, unpack(down, len(chunk)), strict=True) if hit)
    return tuple(sorted(found, key=snapshot.rank.__getitem__))


@dataclass(frozen=True, slots=True)
class Ranked:
    """A node, how many targets its failure alone takes down (not itself), and the first
    ``keep`` of them in rank order."""

    node: int
    count: int
    taken: tuple[int, ...]


def rank_by_targets(
    snapshot: Snapshot,
    targets: Collection[int],
    keep: int | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> tuple[Ranked, ...]:
    """Every node whose failure alone takes down at least one of ``targets`` (other than
    itself), those taking the most first, ties in rank order; each lists at most ``keep``
    of the targets it takes down (all: ``None``; a class of 50k targets would otherwise
    hold a hundred million pairs). Checks ``deadline`` between batches of scenarios."""
    rank = snapshot.rank.__getitem__
    goals = np.array(sorted(set(targets), key=rank), dtype=np.intp)
    layers = Layers.of(snapshot, upstream(snapshot, goals.tolist()))
    goal_rows = np.array([layers.row[g] for g in goals.tolist()], dtype=np.intp)
    step = layers.words * WORD
    per_slice = max(1, BUDGET // step)  # goals unpacked at a time
    ranked: list[Ranked] = []
    for first in range(0, len(layers.nodes), step):
        deadline.check()
        chunk = layers.nodes[first : first + step]  # scenario j fails row first + j
        hits = layers.down(one_failure_each(layers, chunk))[goal_rows]
        own = np.flatnonzero((goal_rows >= first) & (goal_rows < first + step))
        bit = (goal_rows[own] - first).astype(np.uint64)
        hits[own, bit // WORD] &= ~(ONE << bit % WORD)  # a goal's own failure does not count
        struck = np.flatnonzero(hits.any(axis=1))  # in rank order
        who, scenario = [], []  # goal taken down, in rank order; scenario
        for start in range(0, len(struck), per_slice):
            rows = struck[start : start + per_slice]
            g, j = np.nonzero(unpack(hits[rows], len(chunk)))
            who.append(goals[rows[g]])
            scenario.append(j)
        if not who:
            continue
        order = np.argsort(np.concatenate(scenario), kind="stable")  # keeps the rank order
        taken = np.concatenate(who)[order]
        bounds = np.searchsorted(np.concatenate(scenario)[order], np.arange(len(chunk) + 1))
        for at in np.flatnonzero(np.diff(bounds)).tolist():
            begin, stop = int(bounds[at]), int(bounds[at + 1])
            shown = stop if keep is None else min(stop, begin + keep)
            ranked.append(Ranked(chunk[at], stop - begin, tuple(taken[begin:shown].tolist())))
    return tuple(sorted(ranked, key=lambda r: (-r.count, rank(r.node))))
