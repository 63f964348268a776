"""Benchmark: validate + load of a synthetic 100k-asset / 300k-relationship site.

Prints the time of validate and of load, nodes/s, and side by side a baseline that writes
one statement per node (auto-commit, as a naive loader would). The baseline runs on a Neo4j
started for it, as the load's first run does, over the whole model (``--baseline-nodes``:
at most that many, the rest at the rate of the second half): its rate grows as Neo4j's JIT
compiles its code (from about 400 to 900 nodes/s over the first 25,000 statements here),
so a sample from its start, or from any one moment, says little about the whole load.
Goal: validate + load within 60 s; batched load >= 20x the baseline.

    .venv/bin/python bench/load.py [--assets 100000] [--relationships 300000]

Neo4j: NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server started for
the run on free ports (and stopped after). The database is emptied first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from neo4j import Driver  # noqa: E402

from bench.neo4j_server import empty_database, neo4j_server  # noqa: E402
from bench.synthetic import write_site  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402
from kgtwin.graph.schema import ensure_schema  # noqa: E402
from kgtwin.graph.sync import ONTOLOGY, sync_model  # noqa: E402
from kgtwin.ontology.files import default_ontology_files  # noqa: E402
from kgtwin.ontology.mapping import ONTOLOGY_MODEL, map_ontology  # noqa: E402
from kgtwin.ontology.validate import Ontology, validate  # noqa: E402

BASELINE: LiteralString = "CREATE (n:Twin) SET n:$($labels), n = $props"
CLEAR_BASELINE: LiteralString = "MATCH (n:Baseline) DETACH DELETE n"


def one_statement_per_node(
    driver: Driver, nodes: Sequence[tuple[str, Sequence[str], Mapping[str, Any]]]
) -> list[float]:
    """The naive loader: each of ``nodes`` (IRI, labels with ``Twin`` first, properties)
    created by an auto-commit statement of its own, as a copy labelled ``Baseline`` (and
    deleted after); the seconds each took."""
    timings = []
    with driver.session() as session:
        session.run(CLEAR_BASELINE).consume()
        for iri, labels, props in nodes:
            copy = {**props, "iri": "baseline:" + iri}
            t = time.perf_counter()
            session.run(BASELINE, labels=["Baseline", *labels[1:]], props=copy).consume()
            timings.append(time.perf_counter() - t)
        session.run(CLEAR_BASELINE).consume()
    return timings


@dataclass(frozen=True, slots=True)
class NaiveLoad:
    """What the naive loader took: ``nodes`` statements in ``seconds``, the last half of
    them at ``steady_rate`` nodes/s (its speed once Neo4j's code is compiled)."""

    nodes: int
    seconds: float
    steady_rate: float

    @classmethod
    def of(cls, timings: Sequence[float]) -> NaiveLoad:
        if len(timings) < 2:
            raise ValueError("the naive loader needs at least two statements to be measured")
        half = timings[len(timings) // 2 :]
        return cls(len(timings), sum(timings), len(half) / sum(half))

    def seconds_for(self, nodes: int) -> float:
        """Its time for ``nodes``: the statements measured, then the rest at the steady rate
        (the measured ones alone when they are as many or more, scaled down)."""
        if nodes <= self.nodes:
            return self.seconds * nodes / self.nodes
        return self.seconds + (nodes - self.nodes) / self.steady_rate


def naive_load(
    name: str,
    nodes: Sequence[tuple[str, Sequence[str], Mapping[str, Any]]],
    ontology: Ontology,
    *,
    heap: str | None,
    pagecache: str | None,
) -> NaiveLoad:
    """The naive loader over ``nodes`` on a Neo4j ``name`` started for it with a fresh
    database (NEO4J_URI's, as it is, if set), with the schema and the ontology in place as
    a first load finds them."""
    print(
        f"one statement per node: {len(nodes):,} nodes on a Neo4j started for it "
        f"(about {len(nodes) / 900:.0f} s at the 900 nodes/s it reaches here) ...",
        file=sys.stderr,
        flush=True,
    )
    with neo4j_server(name, heap=heap, pagecache=pagecache, fresh=True) as (uri, user, pw):
        driver = open_driver(uri, user, pw)
        try:
            ensure_schema(driver)
            sync_model(driver, ONTOLOGY_MODEL, map_ontology(ontology.vocabulary), scope=ONTOLOGY)
            return NaiveLoad.of(one_statement_per_node(driver, nodes))
        finally:
            driver.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    parser.add_argument(
        "--baseline-nodes",
        type=int,
        default=150_000,
        help="nodes the naive loader writes (the rest at its steady rate); default 150,000",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "synthetic.ttl"
        t0 = time.perf_counter()
        size = write_site(site, args.assets, args.relationships)
        print(
            f"generated {size.assets:,} assets, {size.nodes:,} nodes, "
            f"{size.relationships:,} relationships in {time.perf_counter() - t0:.1f} s"
        )

        ontology = Ontology.load(default_ontology_files())
        t0 = time.perf_counter()
        report = validate([site], ontology)
        validate_s = time.perf_counter() - t0
        if not report.ok:
            for problem in report.problems[:10]:
                print(problem.render())
            raise SystemExit("the synthetic site does not validate")
        desired = report.raise_for_problems()

    with neo4j_server("neo4j-bench") as (uri, user, password):
        driver = open_driver(uri, user, password)
        try:
            empty_database(driver)
            ensure_schema(driver)
            sync_model(driver, ONTOLOGY_MODEL, map_ontology(ontology.vocabulary), scope=ONTOLOGY)
            t0 = time.perf_counter()
            first = sync_model(driver, "synthetic", desired, digest=report.digest)
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = sync_model(driver, "synthetic", desired, digest=report.digest)
            reload_s = time.perf_counter() - t0
        finally:
            driver.close()

    sample = list(desired.nodes.values())[: max(2, args.baseline_nodes)]
    naive = naive_load(
        "neo4j-bench",
        [(node.iri, node.labels, node.props) for node in sample],
        ontology,
        heap="3g",
        pagecache="1g",
    )
    nodes = len(desired.nodes)
    rels = len(desired.rels)
    batched_rate = nodes / load_s
    baseline_s = naive.seconds_for(nodes)
    print()
    print(f"{'':34}{'kgtwin (UNWIND batches)':>26}{'baseline (1 stmt/node)':>26}")
    print(f"{'validate (parse+SHACL+map)':34}{validate_s:>24.1f} s{'-':>26}")
    print(f"{'load nodes+relationships':34}{load_s:>24.1f} s{baseline_s:>22.1f} s *")
    print(f"{'validate + load':34}{validate_s + load_s:>24.1f} s{'-':>26}")
    print(f"{'nodes/s':34}{batched_rate:>26,.0f}{nodes / baseline_s:>26,.0f}")
    print(f"{'reload, unchanged (idempotent)':34}{reload_s:>24.1f} s{'-':>26}")
    print(
        f"* baseline: {naive.nodes:,} nodes written one statement each in {naive.seconds:.1f} s "
        f"on a Neo4j started for it (the second half at {naive.steady_rate:,.0f} nodes/s)"
        + (f", the other {nodes - naive.nodes:,} at that rate" if nodes > naive.nodes else "")
        + "; it writes no relationships, so the comparison favours the baseline"
    )
    print(
        f"first load: {first.nodes_created:,} nodes and {first.rels_created:,} of {rels:,} "
        f"relationships created; reload changed {'something' if again.changed else 'nothing'}"
    )
    print(
        f"speed-up over baseline: {baseline_s / load_s:.1f}x (goal >= 20x); "
        f"validate + load {validate_s + load_s:.1f} s (goal <= 60 s)"
    )


if __name__ == "__main__":
    main()
