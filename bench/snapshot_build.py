"""Benchmark: the dependency snapshot of a synthetic site built in memory (no Neo4j), its
build time and size against networkx's DiGraph from the same rows, and the what-if
engine's timings on it.

The rows are those :func:`bench.synthetic.write_site` describes (feeds, switchgear, UPS,
PDUs, 2N racks, hosted services depending on older services), made directly as
``Edges`` (by their ends) and ``AssetRow`` lists. Printed: ``build_snapshot``'s time (median of
``--builds``), what it holds (traced by ``tracemalloc``: what stays allocated after the
build, the rows excepted), networkx's DiGraph build time and size from the same rows,
and the P50/P95 of single-failure propagation and of ``downstream`` to depth 5 over
sample starts, SPOF of a rack and of a service with many ancestors, and 1,000 Monte
Carlo trials for 100 targets.

    .venv/bin/python bench/snapshot_build.py [--assets 100000] [--relationships 300000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import networkx as nx  # noqa: E402

from kgtwin.graph.dependencies import AssetRow, Edges  # noqa: E402
from kgtwin.simulation.availability import monte_carlo, unavailability  # noqa: E402
from kgtwin.simulation.batch import upstream  # noqa: E402
from kgtwin.simulation.propagation import propagate  # noqa: E402
from kgtwin.simulation.snapshot import Snapshot, build_snapshot  # noqa: E402
from kgtwin.simulation.spof import single_points_of_failure  # noqa: E402

TYPES = ("DEPENDS_ON", "FEEDS", "HOSTS")
REVERSED = frozenset({"DEPENDS_ON"})
SITE = "https://w3id.org/kgtwin/site/synthetic#"
RELIABILITY = {  # MTBF, MTTR hours, as bench/synthetic.py gives them
    "UtilityFeed": (4380.0, 2.0),
    "Switchgear": (200000.0, 8.0),
    "UPS": (100000.0, 8.0),
    "PDU": (300000.0, 4.0),
    "Rack": (500000.0, 2.0),
}
CAPACITY = {"UtilityFeed": (20000.0, 4000.0), "Switchgear": (5000.0, 2000.0)}
CAPACITY |= {"UPS": (500.0, 200.0), "PDU": (50.0, 20.0)}


def site_rows(assets: int, relationships: int, seed: int = 7) -> tuple[Edges, list[AssetRow]]:
    """The dependency edges and assets of ``write_site(assets, relationships, seed)``."""
    rng = random.Random(seed)
    scale = assets / 100_000
    counts = {
        "UtilityFeed": max(2, round(10 * scale)),
        "Switchgear": max(2, round(20 * scale)),
        "UPS": max(2, round(200 * scale)),
        "PDU": max(4, round(2_000 * scale)),
        "Rack": max(4, round(40_000 * scale)),
    }
    counts["ITService"] = assets - sum(counts.values())
    prefix = {"UtilityFeed": "feed", "Switchgear": "swg", "UPS": "ups", "PDU": "pdu"}
    prefix |= {"Rack": "rack", "ITService": "svc"}
    policy = {"Switchgear": "any", "UPS": "all", "Rack": "any"}
    rows: list[AssetRow] = []
    for kind, count in counts.items():
        labels = frozenset({"Twin", "Asset", kind})
        capacity, design = CAPACITY.get(kind, (None, None))
        mtbf, mttr = RELIABILITY.get(kind, (None, None))
        unit = None if capacity is None else "KiloW"
        for i in range(count):
            node = f"{prefix[kind]}-{i}"
            rows.append(
                AssetRow(
                    SITE + node,
                    node,
                    labels,
                    policy.get(kind),
                    None,
                    capacity,
                    unit,
                    design,
                    mtbf,
                    mttr,
                )
            )
    triples: list[tuple[str, str, str]] = []
    feeds, swg, ups, pdus, racks, services = counts.values()
    for i in range(swg):
        triples += [(f"feed-{2 * i % feeds}", f"swg-{i}", "FEEDS")]
        triples += [(f"feed-{(2 * i + 1) % feeds}", f"swg-{i}", "FEEDS")]
    triples += [(f"swg-{i % swg}", f"ups-{i}", "FEEDS") for i in range(ups)]
    triples += [(f"ups-{i % ups}", f"pdu-{i}", "FEEDS") for i in range(pdus)]
    for i in range(racks):
        triples += [(f"pdu-{2 * i % pdus}", f"rack-{i}", "FEEDS")]
        triples += [(f"pdu-{(2 * i + 1) % pdus}", f"rack-{i}", "FEEDS")]
    triples += [(f"rack-{i % racks}", f"svc-{i}", "HOSTS") for i in range(services)]
    written = 2 * swg + ups + pdus + 3 * racks + services + 2 + feeds + swg + ups + pdus + racks
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < relationships - written and services > 1:
        j = rng.randrange(1, services)
        pairs.add((j, rng.randrange(0, j)))
    triples += [(f"svc-{j}", f"svc-{k}", "DEPENDS_ON") for j, k in sorted(pairs)]
    # each end once, as read_edges gives them
    edges = Edges.of(
        sources=[SITE + a for a, _b, _t in triples],
        source_ids=[a for a, _b, _t in triples],
        targets=[SITE + b for _a, b, _t in triples],
        target_ids=[b for _a, b, _t in triples],
        types=[t for _a, _b, t in triples],
    )
    return edges, rows


def nx_graph(edges: Edges, assets: list[AssetRow]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(row.iri for row in assets)
    graph.add_edges_from((b, a) if t in REVERSED else (a, b) for a, b, t in edges.named())
    return graph


def traced(build: Callable[[], Any]) -> tuple[Any, int]:
    """What ``build`` returns and the bytes it leaves allocated."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return built, after - before


def timings(work: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def ms(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"P50 {statistics.median(times) * 1e3:.2f} ms, P95 {p95 * 1e3:.2f} ms"


def of_class(snapshot: Snapshot, name: str) -> list[int]:
    return sorted(
        (i for i, labels in enumerate(snapshot.labels) if name in labels),
        key=snapshot.rank.__getitem__,
    )


def engine(snapshot: Snapshot, repeat: int, seed: int) -> None:
    rng = random.Random(seed)
    services = of_class(snapshot, "ITService")
    busiest = max(services[:2000], key=lambda i: len(snapshot.consumers[i]))
    starts = [rng.choice(of_class(snapshot, "Switchgear")), rng.choice(of_class(snapshot, "UPS"))]
    starts += rng.sample(of_class(snapshot, "PDU"), 3) + rng.sample(of_class(snapshot, "Rack"), 3)
    starts += [*rng.sample(services, 2), busiest]
    runs = [t for node in starts for t in timings(lambda n=node: propagate(snapshot, [n]), repeat)]
    print(f"single-failure propagation, {len(starts)} starts x {repeat}: {ms(runs)}")
    walks = [
        t
        for node in starts
        for t in timings(
            lambda n=node: snapshot.reach(snapshot.iris[n], 5, downstream=True), repeat
        )
    ]
    print(f"downstream depth 5 (reach), same starts: {ms(walks)}")
    sample = rng.sample(services, 200)
    most = max(sample, key=lambda i: (len(upstream(snapshot, [i])), -snapshot.rank[i]))
    rack = rng.choice(of_class(snapshot, "Rack"))
    for what, node in (("rack", rack), ("service", most)):
        ancestors = len(upstream(snapshot, [node])) - 1
        times = timings(lambda n=node: single_points_of_failure(snapshot, n), 3)
        print(f"SPOF {what} ({ancestors:,} ancestors): {statistics.median(times):.3f} s")
    targets = rng.sample(of_class(snapshot, "Rack"), 50) + rng.sample(services, 50)
    chances = unavailability(snapshot)
    times = timings(lambda: monte_carlo(snapshot, targets, chances, 1000, 1), 3)
    print(f"1,000 Monte Carlo trials, 100 targets: {statistics.median(times):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20, help="runs per start")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-engine", action="store_true", help="build and size only")
    args = parser.parse_args()
    edges, assets = site_rows(args.assets, args.relationships)
    print(f"rows: {len(assets):,} assets, {len(edges):,} dependency edges")

    def build() -> Snapshot:
        return build_snapshot(edges, TYPES, REVERSED, "v", assets)

    builds = timings(build, args.builds)
    snapshot, held = traced(build)
    edge_count = len(snapshot.consumers.values) if hasattr(snapshot.consumers, "values") else 0
    edge_count = edge_count or sum(map(len, snapshot.consumers))
    # its strings are the rows' (allocated before): counted apart
    strings = sum(map(sys.getsizeof, snapshot.iris)) + sum(map(sys.getsizeof, snapshot.ids))
    total = held + strings
    print(
        f"build_snapshot: {statistics.median(builds):.2f} s (median of {args.builds}); "
        f"holds {total / 2**20:,.0f} MiB ({strings / 2**20:,.0f} of them IRI and id strings) "
        f"for {len(snapshot):,} nodes and {edge_count:,} edges ({total / len(snapshot):,.0f} "
        "bytes a node)"
    )
    nx_times = timings(lambda: nx_graph(edges, assets), args.builds)
    graph, nx_held = traced(lambda: nx_graph(edges, assets))
    print(
        f"networkx DiGraph from the same rows: {statistics.median(nx_times):.2f} s; "
        f"holds {nx_held / 2**20:,.0f} MiB ({graph.number_of_edges():,} edges)"
    )
    del graph
    if not args.no_engine:
        engine(snapshot, args.repeat, args.seed)


if __name__ == "__main__":
    main()
