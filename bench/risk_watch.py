"""Benchmark: the live risk watch (``simulation/risk.py``) on the synthetic site's snapshot,
built in memory as ``bench/snapshot_build.py`` builds it (no Neo4j).

Printed, without loads, with the design loads and with the design loads times ``--heavy``
(capacity mode; at 1.3 every rated node's ceiling is over its rating, so every one is
exposed and the PDUs and UPS of a 2N pair are at risk from each other's side): the watch's
preparation (layers, capacity ceilings) and its first update with nothing failed; then
P50/P95 of ``RiskWatch.update`` with one UPS failed and then cleared (``--rounds`` times, a
different UPS each round), beside the baseline: ``assess`` from nothing for the same
failures (what an update would cost without the watch's caches).

    .venv/bin/python bench/risk_watch.py [--assets 100000] [--relationships 300000]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.snapshot_build import REVERSED, TYPES, of_class, site_rows  # noqa: E402
from kgtwin.simulation.risk import RiskWatch, assess  # noqa: E402
from kgtwin.simulation.snapshot import build_snapshot  # noqa: E402


def timed(work: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work(*args)
    return result, time.perf_counter() - started


def ms(times: Sequence[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"P50 {statistics.median(times) * 1e3:7.1f} ms, P95 {p95 * 1e3:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=10, help="UPS failed then cleared")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--heavy", type=float, default=1.3, help="the design loads times this, the last mode"
    )
    args = parser.parse_args()
    edges, assets = site_rows(args.assets, args.relationships)
    snapshot = build_snapshot(edges, TYPES, REVERSED, "v", assets)
    print(f"snapshot: {len(snapshot):,} nodes, {len(snapshot.consumers.values):,} edges")
    design = [None if math.isnan(value) else value for value in snapshot.design_load]
    ups = random.Random(args.seed).sample(of_class(snapshot, "UPS"), args.rounds)
    heavy = [None if value is None else value * args.heavy for value in design]
    modes = [("without loads", None), ("with loads (capacity)", design)]
    modes.append((f"with loads x{args.heavy:g} (capacity: every rated node exposed)", heavy))
    for mode, load in modes:
        print(f"\n{mode}:")
        watch = RiskWatch(snapshot)
        _none, prepared = timed(watch.prepare)
        _none, first = timed(watch.update, [], load)
        print(f"  prepare {prepared:.2f} s, first update (nothing failed) {first:.2f} s")
        failing, clearing, scratch = [], [], []
        kinds: Counter[str] = Counter()
        for node in ups:
            found, took = timed(watch.update, [node], load)
            failing.append(took)
            kinds.update(event.change.value for event in found)
            _found, took = timed(watch.update, [], load)
            clearing.append(took)
            _state, took = timed(assess, snapshot, [node], load)
            scratch.append(took)
        print(f"  update, one UPS failed:  {ms(failing)}")
        print(f"  update, cleared:         {ms(clearing)}")
        print(f"  baseline: assess from nothing, one UPS failed: {ms(scratch)}")
        per_round = {kind: count // len(ups) for kind, count in sorted(kinds.items())}
        print(f"  events per failure: {per_round}")


if __name__ == "__main__":
    main()
