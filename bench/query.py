"""Benchmark: a typical nested GraphQL query, with dataloaders and with a naive baseline.

The query asks for 100 assets with their classes, properties, points (live fields) and
relationships. It runs through ``schema.execute`` exactly as the server runs it, twice
side by side: with the per-request dataloaders (one statement per batch), and with the
same resolvers on loaders that never batch (``max_batch_size=1``: one statement per asset
per nested field, the resolver-per-field baseline). Prints median and P95 latency and
the Cypher statements each query sends.

    .venv/bin/python bench/query.py [--runs 30] [--first 100]

Neo4j: NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server started for
the run on free ports (and stopped after). The database is emptied and the example site
ontology/sites/dc1.ttl loaded first.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, LiteralString

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from strawberry.dataloader import DataLoader  # noqa: E402

from graph import launcher  # noqa: E402
from graph.connection import open_driver  # noqa: E402
from graph.reader import Reader  # noqa: E402
from ontology.catalogue import Catalogue  # noqa: E402
from ontology.files import default_ontology_files  # noqa: E402
from ontology.validate import Ontology  # noqa: E402
from server.loading import load_model  # noqa: E402
from server.schema import TwinSchema, build_schema  # noqa: E402
from server.schema.context import Context, Services  # noqa: E402
from server.schema.loaders import Loaders  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.neo4j_service import clean_database, free_ports  # noqa: E402

SITE = REPO / "ontology" / "sites" / "dc1.ttl"

QUERY = """
query Nested($first: Int!) {
  assets(class: "Asset", first: $first) {
    edges { node {
      id label
      classes { name }
      properties { name value unit }
      points { id unit value observedAt stale }
      relationships { type direction other { id label } }
    } }
  }
}
"""


class NaiveLoaders(Loaders):
    """The same loaders, never batching: one statement per asset and nested field."""

    def __init__(self, reader: Reader, max_page_size: int) -> None:
        super().__init__(reader, max_page_size)
        self.nodes = DataLoader(load_fn=self._nodes, max_batch_size=1)
        self.classes = DataLoader(load_fn=self._classes, max_batch_size=1)
        self.points = DataLoader(load_fn=self._points, max_batch_size=1)
        self.relationships = DataLoader(load_fn=self._relationships, max_batch_size=1)


@contextmanager
def neo4j() -> Iterator[tuple[str, str, str | None]]:
    settings = Settings.from_env()
    if settings.neo4j_uri:
        yield settings.neo4j_connection()
        return
    bolt, http = free_ports(2)
    config = launcher.LocalNeo4jConfig(
        root=REPO / ".kgtwin",
        name="neo4j-bench-query",
        bolt_port=bolt,
        http_port=http,
        heap="1g",
        pagecache="256m",
    )
    status = launcher.start(config, progress=lambda line: print(line, file=sys.stderr))
    try:
        yield status.bolt_uri, status.user, status.password
    finally:
        launcher.stop(config)


async def run_once(schema: TwinSchema, services: Services, loaders: Loaders, first: int) -> float:
    context = Context(
        request=None, response=None, principal=None, services=services, loaders=loaders
    )
    started = time.perf_counter()
    result = await schema.execute(QUERY, {"first": first}, context_value=context)
    elapsed = time.perf_counter() - started
    if result.errors:
        raise SystemExit(f"the query failed: {[e.formatted for e in result.errors]}")
    assert result.data is not None
    assert len(result.data["assets"]["edges"]) == first
    return elapsed


def measure(
    schema: TwinSchema,
    services: Services,
    statements: list[LiteralString],
    loaders_class: type[Loaders],
    runs: int,
    first: int,
) -> dict[str, Any]:
    def once() -> float:
        loaders = loaders_class(services.reader, services.settings.max_page_size)
        return asyncio.run(run_once(schema, services, loaders, first))

    for _ in range(3):  # warm up: the driver's pool, Neo4j's query cache
        once()
    statements.clear()
    times = [once() for _ in range(runs)]
    return {
        "median": statistics.median(times) * 1000,
        "p95": statistics.quantiles(times, n=20)[-1] * 1000,
        "statements": len(statements) // runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--first", type=int, default=100, help="assets per query (max 100)")
    args = parser.parse_args()

    settings = Settings(anonymous_read=True, ontology=tuple(default_ontology_files()))
    ontology = Ontology.load(default_ontology_files())
    with neo4j() as (uri, user, password):
        driver = open_driver(uri, user, password)
        try:
            print(f"emptying {uri} and loading {SITE.name} ...", file=sys.stderr)
            clean_database(driver)
            if not load_model(driver, [SITE], "dc1", ontology).report.ok:
                raise SystemExit(f"{SITE} does not validate")
            statements: list[LiteralString] = []
            services = Services(
                settings,
                Reader(driver, None, statements.append),
                Catalogue.build(ontology.graph, ontology.vocabulary),
            )
            schema = build_schema(settings)
            batched = measure(schema, services, statements, Loaders, args.runs, args.first)
            naive = measure(schema, services, statements, NaiveLoaders, args.runs, args.first)
        finally:
            driver.close()

    print(
        f"\nnested query over {args.first} assets (classes, properties, points, "
        f"relationships), {args.runs} runs each:"
    )
    print(f"{'':24}{'median ms':>12}{'P95 ms':>12}{'statements':>12}")
    for name, row in (("dataloaders", batched), ("naive (no batching)", naive)):
        print(f"{name:24}{row['median']:>12.1f}{row['p95']:>12.1f}{row['statements']:>12}")
    print(
        f"dataloaders: {naive['median'] / batched['median']:.1f}x faster at the median, "
        f"{naive['statements'] / batched['statements']:.0f}x fewer statements"
    )


if __name__ == "__main__":
    main()
