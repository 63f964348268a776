"""Availability by Monte Carlo: how often targets stay up when every asset fails
independently with its own probability, with a 95% Wilson score interval.

A target is up in a trial when it is not down after that trial's failures propagate. Only
the targets' ancestors can take them down, so only those that can fail are drawn, and
the trials run through :class:`simulation.batch.Layers`, thousands at a time, one bit each.
An asset expected to fail at most a few dozen times in those thousands (the usual case:
MTTR is hours, MTBF years) is drawn as the gaps between its failures; the others as one
uniform number per trial.

The answer depends only on the snapshot, the targets, the probabilities, the number of
trials and the seed: the same call gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kgtwin.simulation.batch import BUDGET, ONE, WORD, Bits, Index, Layers, upstream
from kgtwin.simulation.deadline import NO_DEADLINE, Deadline
from kgtwin.simulation.snapshot import Snapshot

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: a two-sided 95% interval
RARE = 32  # at most this many failures expected in a pass of trials: drawn as gaps
Chances = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Availability:
    """A target's estimated availability: up in ``up`` of ``trials`` trials, and the 95%
    Wilson score interval [low, high] around the estimate."""

    target: int
    up: int
    trials: int
    estimate: float
    low: float
    high: float


def unavailability(snapshot: Snapshot) -> tuple[float, ...]:
    """Each node's steady-state chance of being failed, MTTR / (MTBF + MTTR), from its
    reliability; a node without both (or with either not above zero) never fails: 0."""
    mtbf, mttr = np.asarray(snapshot.mtbf_hours), np.asarray(snapshot.mttr_hours)
    with np.errstate(invalid="ignore"):  # NaN: absent
        known = (mtbf > 0) & (mttr > 0)
    chance = np.zeros(len(mtbf))
    chance[known] = mttr[known] / (mtbf[known] + mttr[known])
    return tuple(chance.tolist())


def wilson(up: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``up / trials`` (at least one trial);
    exactly 0 below when nothing was up and 1 above when everything was."""
    share = up / trials
    spread = z * z / trials
    centre = (share + spread / 2) / (1 + spread)
    half = z / (1 + spread) * math.sqrt(share * (1 - share) / trials + spread / (4 * trials))
    low = 0.0 if up == 0 else max(0.0, centre - half)
    high = 1.0 if up == trials else min(1.0, centre + half)
    return low, high


def monte_carlo(
    snapshot: Snapshot,
    targets: Sequence[int],
    probability: Sequence[float],
    trials: int,
    seed: int,
    deadline: Deadline = NO_DEADLINE,
) -> tuple[Availability, ...]:
    """Each of ``targets``' availability (in their order) over ``trials`` trials in
    which node ``i`` fails with ``probability[i]``, drawn from a generator seeded with
    ``seed``. Raises ValueError for fewer than one trial or a probability vector that is
    not one probability in [0, 1] per node; checks ``deadline`` between passes of trials."""
    _check(snapshot, probability, trials)
    layers = Layers.of(snapshot, upstream(snapshot, targets))
    risky = np.array([r for r, n in enumerate(layers.nodes) if probability[n] > 0], dtype=np.intp)
    chance = np.array([probability[layers.nodes[r]] for r in risky], dtype=np.float64)
    step = layers.words * WORD  # trials at a time
    rare = chance * step <= RARE
    rare_rows, rare_chance = risky[rare], chance[rare]
    common_rows, common_chance = risky[~rare], chance[~rare]
    goals = np.array([layers.row[t] for t in targets], dtype=np.intp)
    downs = np.zeros(len(targets), dtype=np.int64)
    rng = np.random.default_rng(seed)
    for first in range(0, trials, step):
        deadline.check()
        count = min(step, trials - first)
        failed = np.zeros((len(layers.nodes), -(-count // WORD)), dtype=np.uint64)
        rows, trial = _rare(rng, rare_rows, rare_chance, count)
        np.bitwise_or.at(failed, (rows, trial // WORD), ONE << (trial % WORD).astype(np.uint64))
        _common(rng, failed, common_rows, common_chance, count)
        if failed.any():
            downs += np.bitwise_count(layers.down(failed)[goals]).sum(axis=1, dtype=np.int64)
    return tuple(
        _availability(target, trials - int(down), trials)
        for target, down in zip(targets, downs, strict=True)
    )


def _rare(
    rng: np.random.Generator, rows: Index, chance: Chances, trials: int
) -> tuple[Index, Index]:
    """Every failure of nodes that seldom fail, as (row, trial): the gaps between one
    node's failures are geometric, drawn by inversion for all nodes at once."""
    found_rows, found_trials = [], []
    at = np.full(len(rows), -1.0)
    # a chance of 1 makes the step -inf (every gap 1); one of 1e-320 overflows the gap
    # to inf (no failure): both as they should
    with np.errstate(divide="ignore", over="ignore"):
        step = np.log1p(-chance)
        live = np.arange(len(rows))
        while len(live):
            uniform = 1.0 - rng.random(len(live))  # in (0, 1]
            at[live] += np.floor(np.log(uniform) / step[live]) + 1.0
            live = live[at[live] < trials]
            found_rows.append(rows[live])
            found_trials.append(at[live].astype(np.intp))
    if not found_rows:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    return np.concatenate(found_rows), np.concatenate(found_trials)


def _common(
    rng: np.random.Generator, failed: Bits, rows: Index, chance: Chances, trials: int
) -> None:
    """Sets the bits of the trials in which nodes that often fail do: a uniform number
    per node and trial, a bounded number of them per numpy call."""
    if not len(rows):
        return
    per_draw = max(1, BUDGET // len(rows) // WORD) * WORD
    for first in range(0, trials, per_draw):
        count = min(per_draw, trials - first)
        fails = rng.random((count, len(rows))) < chance
        packed = np.packbits(fails, axis=0, bitorder="little")  # 8 trials per byte
        words = -(-count // WORD)
        octets = np.zeros((len(rows), words * 8), dtype=np.uint8)
        octets[:, : packed.shape[0]] = packed.T
        column = first // WORD
        failed[rows, column : column + words] |= octets.view("<u8").astype(np.uint64)


def _availability(target: int, up: int, trials: int) -> Availability:
    low, high = wilson(up, trials)
    return Availability(target, up, trials, up / trials, low, high)


def _check(snapshot: Snapshot, probability: Sequence[float], trials: int) -> None:
    if trials < 1:
        raise ValueError(f"the number of trials must be at least 1, not {trials}")
    if len(probability) != len(snapshot):
        raise ValueError(
            f"one failure probability per asset is needed: {len(snapshot)} assets, "
            f"{len(probability)} probabilities"
        )
    for node, p in enumerate(probability):
        if not 0.0 <= p <= 1.0:  # NaN too
            raise ValueError(
                f"the failure probability of {snapshot.ids[node]} must lie between 0 and 1, not {p}"
            )
