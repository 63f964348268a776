"""``bench/abuse.py --prices``: each expensive field's price (server.schema.prices) beside
the CPU time its work took, on a synthetic site built in memory (no Neo4j).

One unit of the estimate is meant as about 10 µs: a ratio of time to price near 1 means
the price is right, above 1 that the work costs more than priced (an attacker could get
more than the limits say), below 1 that it costs less (a user is refused sooner than
needed). Walks in Neo4j and path searches are priced at their budgets and not measured
here.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.synthetic import write_site
from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.validate import Ontology
from kgtwin.server.schema import prices as priced
from kgtwin.server.schema.prices import GraphSize
from kgtwin.simulation.availability import monte_carlo, unavailability
from kgtwin.simulation.batch import upstream
from kgtwin.simulation.capacity import cascade
from kgtwin.simulation.propagation import propagate
from kgtwin.simulation.snapshot import measured
from kgtwin.simulation.spof import rank_by_targets, single_points_of_failure
from tests.simulation.sites import site_of

UNIT = 10e-6  # seconds a unit of cost stands for


def cpu(work: Callable[[], Any], repeat: int = 3) -> float:
    """The least CPU seconds of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def print_prices(assets: int) -> None:
    ontology = Ontology.load(default_ontology_files())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "site.ttl"
        write_site(path, assets=assets, relationships=3 * assets)
        snapshot = site_of([path], ontology).snapshot
    edges = len(snapshot.consumers.values)
    graph = GraphSize(snapshot, edges, {})
    ids = snapshot.ids

    racks, ups, feeds, services = (
        sorted(snapshot.with_label(name)) for name in ("Rack", "UPS", "UtilityFeed", "ITService")
    )
    chances = list(unavailability(snapshot))
    loads = list(map(measured, snapshot.design_load))
    rows: list[tuple[str, int, float]] = []

    def add(name: str, price: int, work: Callable[[], Any]) -> None:
        rows.append((name, price, cpu(work)))

    for trials, targets in ((1_000, racks[:1]), (100_000, racks[:1]), (1_000, services[-5:])):
        args: dict[str, Any] = {"trials": trials, "targets": [ids[t] for t in targets]}
        exposed = len(upstream(snapshot, targets))
        add(
            f"availability {trials} trials, {exposed} exposed",
            priced.availability(args, args, graph),
            partial(monte_carlo, snapshot, targets, chances, trials, 0),
        )
    args = {"class": "ITService", "trials": 1_000}
    add(
        f"availability 1000 trials, class of {len(services)}",
        priced.availability(args, args, graph),
        lambda: monte_carlo(snapshot, services, chances, 1_000, 0),
    )
    for target in (racks[0], services[-1]):
        root: dict[str, Any] = {"target": ids[target]}
        add(
            f"singlePoints of {ids[target]}",
            priced.single_points_targets({}, root, graph),
            partial(single_points_of_failure, snapshot, target),
        )
    root = {"class": "ITService", "first": 20}
    add(
        f"singlePoints ranking, class of {len(services)}",
        priced.single_points_ranking({}, root, graph),
        lambda: rank_by_targets(snapshot, services, 20),
    )
    add(
        "singlePoints targets, first 20 of the class",
        priced.single_points_targets({}, root, graph),
        lambda: [single_points_of_failure(snapshot, t) for t in sorted(services)[:20]],
    )
    for name, failed in (("one UPS", ups[:1]), ("every feed (worst case)", feeds)):
        args = {"fail": [ids[n] for n in failed]}
        add(
            f"whatIf {name}",
            priced.what_if(args, args, graph),
            partial(propagate, snapshot, failed),
        )
        capacity = {**args, "mode": "capacity"}
        add(
            f"whatIf CAPACITY {name} (cascade only)",
            priced.what_if(capacity, capacity, graph),
            partial(cascade, snapshot, failed, (), loads),
        )
    add(
        f"downstream of {ids[feeds[0]]} (every node)",
        priced.walk({}, {}, graph),
        lambda: snapshot.reach(snapshot.iris[feeds[0]], 50, downstream=True),
    )
    print(
        f"\nSynthetic site of {assets} assets: snapshot of {len(snapshot)} nodes, {edges} "
        f"edges. Price in units (1 unit = {UNIT * 1e6:.0f} µs), CPU the least of 3 runs.\n"
    )
    print("| work | price (units) | price as time ms | CPU ms | CPU / price |")
    print("|---|---|---|---|---|")
    for name, price, seconds in rows:
        print(
            f"| {name} | {price} | {price * UNIT * 1000:.1f} | {seconds * 1000:.1f} | "
            f"{seconds / (price * UNIT):.2f} |"
        )
