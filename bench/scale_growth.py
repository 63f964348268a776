"""Benchmark: how the dependency snapshot's cost grows from 100k to 1M assets, with both sizes
measured in turns, so that a change in the machine's speed between them does not pass for
growth.

``bench/scale.py`` measures each size with a Neo4j of its own, one after the other: on a
virtual machine whose CPU speed moves by a factor of two within hours, the growth exponent
of a measure taken minutes apart moved by 0.2 between runs of the same code. Here two local
Neo4j run at once (``--heap``/``--pagecache`` each, 2g by default), each loaded with its
synthetic site (bench/synthetic.py, as ``bench/scale.py`` writes it); then, ``--rounds``
times, 100k then 1M: what a server does (``read_dependencies``, then ``snapshot_of``) and the
string path ``bench/scale.py`` compares with networkx (``read_edges`` + ``read_assets``, then
``build_snapshot``). Printed: each measure's medians and its growth exponent (the log-log
slope; goal at most 1.1).

    .venv/bin/python bench/scale_growth.py [--rounds 5] [--heap 2g] [--pagecache 2g]

Needs about 4 GiB more than the two Neo4j, and some 10 minutes (most of it the 1M load).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.ingest import load_sites  # noqa: E402
from bench.neo4j_server import neo4j_server  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402
from kgtwin.graph.dependencies import read_assets, read_dependencies, read_edges  # noqa: E402
from kgtwin.graph.ontology_read import read_terms  # noqa: E402
from kgtwin.graph.reader import Reader  # noqa: E402
from kgtwin.simulation.snapshot import build_snapshot, snapshot_of  # noqa: E402

T = TypeVar("T")
SIZES = {"100k": 100_000, "1m": 1_000_000}
LIMIT = 1.1
MEASURES = (
    "server: numbered reads",
    "server: snapshot_of",
    "server: reads + build",
    "strings: reads",
    "strings: build_snapshot",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(times: dict[str, float], name: str, work: Callable[[], T]) -> T:
    """``work()``, its seconds kept in ``times[name]``."""
    gc.collect()
    started = time.perf_counter()
    value = work()
    times[name] = time.perf_counter() - started
    return value


def one_round(reader: Reader) -> dict[str, float]:
    """Each measure once, in seconds."""
    terms = read_terms(reader)
    types = terms.dependency_types
    reversed_types = terms.reversed_types(types)
    times: dict[str, float] = {}
    graph = timed(times, "server: numbered reads", lambda: read_dependencies(reader, types))
    timed(times, "server: snapshot_of", lambda: snapshot_of(graph, types, reversed_types, "v"))
    times["server: reads + build"] = times["server: numbered reads"] + times["server: snapshot_of"]
    edges, assets = timed(
        times, "strings: reads", lambda: (read_edges(reader, types), read_assets(reader))
    )
    timed(
        times,
        "strings: build_snapshot",
        lambda: build_snapshot(edges, types, reversed_types, "v", assets),
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="turns of both sizes (3-15)")
    parser.add_argument("--heap", default="2g", help="each Neo4j's heap")
    parser.add_argument("--pagecache", default="2g", help="each Neo4j's page cache")
    args = parser.parse_args()
    if not 3 <= args.rounds <= 15:
        parser.error("--rounds: 3-15")
    if os.environ.get("NEO4J_URI"):
        parser.error("needs two local Neo4j of its own: unset NEO4J_URI")
    times: dict[str, dict[str, list[float]]] = {s: {m: [] for m in MEASURES} for s in SIZES}
    with ExitStack() as stack:
        readers: dict[str, Reader] = {}
        for size, assets in SIZES.items():
            server = neo4j_server(
                f"neo4j-bench-growth-{size}", heap=args.heap, pagecache=args.pagecache, fresh=True
            )
            uri, user, password = stack.enter_context(server)
            driver = open_driver(uri, user, password)
            stack.callback(driver.close)
            log(f"{size}: writing, validating and loading the site ...")
            started = time.perf_counter()
            readers[size] = Reader(driver)
            load_sites(driver, ["synthetic"], assets, 3 * assets)
            log(f"{size}: loaded in {time.perf_counter() - started:.0f} s")
        for turn in range(args.rounds):
            for size, reader in readers.items():
                measured = one_round(reader)
                for name, seconds in measured.items():
                    times[size][name].append(seconds)
                log(
                    f"round {turn + 1}/{args.rounds} {size}: "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in measured.items())
                )
    print(f"\n{'measure (median of ' + str(args.rounds) + ', s)':40}{'100k':>9}{'1m':>9}  exponent")
    failed = False
    for name in MEASURES:
        small, large = (statistics.median(times[s][name]) for s in SIZES)
        exponent = math.log10(large / small) / math.log10(SIZES["1m"] / SIZES["100k"])
        met = exponent <= LIMIT
        failed |= not met
        print(f"{name:40}{small:>9.2f}{large:>9.2f}  {exponent:8.2f}  {'met' if met else 'MISSED'}")
    print(f"(goal: exponent <= {LIMIT}; both sizes measured in turns, {args.rounds} rounds)")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
