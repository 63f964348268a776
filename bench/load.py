"""Benchmark: validate + load of a synthetic 100k-asset / 300k-relationship site.

Prints the time of validate and of load, nodes/s, and side by side a baseline that writes
one statement per node (auto-commit, as a naive loader would) on a sample, extrapolated.
Goal: validate + load within 60 s; batched load >= 20x the baseline's rate.

    .venv/bin/python bench/load.py [--assets 100000] [--relationships 300000]

Neo4j: NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server started for
the run on free ports (and stopped after). The database is emptied first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    parser.add_argument("--baseline-sample", type=int, default=2_000)
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

            sample = list(desired.nodes.values())[: args.baseline_sample]
            timings = one_statement_per_node(
                driver, [(node.iri, node.labels, node.props) for node in sample]
            )
        finally:
            driver.close()

    nodes = len(desired.nodes)
    rels = len(desired.rels)
    batched_rate = nodes / load_s
    baseline_rate = len(timings) / sum(timings)
    print()
    print(f"{'':34}{'kgtwin (UNWIND batches)':>26}{'baseline (1 stmt/node)':>26}")
    print(f"{'validate (parse+SHACL+map)':34}{validate_s:>24.1f} s{'-':>26}")
    print(f"{'load nodes+relationships':34}{load_s:>24.1f} s{nodes / baseline_rate:>22.1f} s *")
    print(f"{'validate + load':34}{validate_s + load_s:>24.1f} s{'-':>26}")
    print(f"{'nodes/s':34}{batched_rate:>26,.0f}{baseline_rate:>26,.0f}")
    print(f"{'reload, unchanged (idempotent)':34}{reload_s:>24.1f} s{'-':>26}")
    print(
        f"* baseline: {len(timings):,} nodes written one statement each (median "
        f"{statistics.median(timings) * 1000:.2f} ms), extrapolated to {nodes:,} nodes; "
        "it writes no relationships, so the comparison favours the baseline"
    )
    print(
        f"first load: {first.nodes_created:,} nodes and {first.rels_created:,} of {rels:,} "
        f"relationships created; reload changed {'something' if again.changed else 'nothing'}"
    )
    print(
        f"speed-up over baseline: {batched_rate / baseline_rate:.1f}x (goal >= 20x); "
        f"validate + load {validate_s + load_s:.1f} s (goal <= 60 s)"
    )


if __name__ == "__main__":
    main()
