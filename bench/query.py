"""Benchmark: GraphQL over HTTP against the same questions asked as raw Cypher.

Generates the synthetic site (bench/synthetic.py), validates and loads it, starts the real
server (``create_app`` under uvicorn on a free port, anonymous read on) and asks, after a
warm-up, ``--repeat`` times each, interleaved:

- downstream: ``downstream(id, maxDepth: 5)`` from a switchgear and from a PDU, through
  the API (httpx, one keep-alive client) both ways the server answers it (without ``via``
  from its in-memory dependency snapshot; with ``via`` naming the same types by walking
  Neo4j one level per statement), and as one variable-length Cypher traversal
  along the same relationship types in the same directions, returning every id reached
  with its depth (checked to be the API's answer);
- asset: ``asset(id)`` of a rack with its classes, properties and power point, and as one
  Cypher query returning the node, its labels and its points.

Prints P50 and P95 of both sides, the ratio of the P50s, the answer sizes, the Cypher
statements each API request sent, and the goals: downstream depth 5 P95 < 50 ms, API
overhead < 1.5x raw Cypher. Progress goes to stderr.

    .venv/bin/python bench/query.py [--assets 100000] [--relationships 300000] [--repeat 200]

``--nested`` adds the dataloader comparison: a nested query over 100 racks (classes,
properties, points, relationships) run in-process through ``schema.execute`` with the
per-request dataloaders and with loaders that never batch (one statement per rack and
nested field, the resolver-per-field baseline).

Neo4j: NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server started for
the run on free ports (and stopped after). The site is loaded with the sync, a no-op when
it is there already.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import neo4j  # noqa: E402
from strawberry.dataloader import DataLoader  # noqa: E402

from bench.neo4j_server import neo4j_server  # noqa: E402
from bench.synthetic import write_site  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402
from kgtwin.graph.ontology_read import read_terms  # noqa: E402
from kgtwin.graph.reader import Reader  # noqa: E402
from kgtwin.graph.topology import direction_for  # noqa: E402
from kgtwin.ontology.catalogue import Catalogue  # noqa: E402
from kgtwin.ontology.files import default_ontology_files  # noqa: E402
from kgtwin.ontology.units import Units  # noqa: E402
from kgtwin.ontology.validate import Ontology  # noqa: E402
from kgtwin.server.app import create_app  # noqa: E402
from kgtwin.server.loading import load_model  # noqa: E402
from kgtwin.server.schema import TwinSchema, build_schema  # noqa: E402
from kgtwin.server.schema.context import Services, make_context  # noqa: E402
from kgtwin.server.schema.loaders import Loaders  # noqa: E402
from kgtwin.server.settings import Settings  # noqa: E402
from tests.server.serving import serving  # noqa: E402

DEPTH = 5
# (start, what it is): a switchgear reaches ~16k nodes in 5 steps at the default size, a
# PDU ~700; a utility feed would exceed the walk's 20k-node budget (a truncated answer)
STARTS = (("swg-1", "switchgear"), ("pdu-1", "PDU"))  # ids every size of the site has
RACK = "rack-1"
WARM_UP = 20
GOAL_P95_MS = 50.0
GOAL_RATIO = 1.5

DOWNSTREAM = """
query Downstream($id: String!, $depth: Int!, $via: [String!]) {
  downstream(id: $id, maxDepth: $depth, via: $via) {
    totalCount truncated items { depth id }
  }
}
"""

ASSET = """
query Asset($id: String!) {
  asset(id: $id) {
    id label
    classes { name }
    properties { name value unit }
    points { id label unit value observedAt stale }
  }
}
"""

# Every path of 1..5 steps, each step along a `forward` type or against a `backward` one;
# a node's depth is its shortest path. One row of two lists: a row per node costs the
# (pure Python) driver several times what Neo4j takes to answer.
RAW_DOWNSTREAM: LiteralString = """
MATCH (s:Twin {id: $id})
MATCH p = (s) ((a)-[r]-(b)
  WHERE (type(r) IN $forward AND startNode(r) = a)
     OR (type(r) IN $backward AND endNode(r) = a)){1,5} (n:Twin)
WHERE n <> s
WITH n, min(length(p)) AS depth
RETURN collect(n.id) AS ids, collect(depth) AS depths
"""

RAW_ASSET: LiteralString = """
MATCH (n:Twin {id: $id})
RETURN n {.*} AS node, labels(n) AS labels,
       COLLECT { MATCH (n)-[:HAS_POINT]->(p:Twin) RETURN p {.*} } AS points
"""

NESTED = """
query Nested($first: Int!) {
  assets(class: "Rack", first: $first) {
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


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Case:
    """One question, asked through the API and as raw Cypher; latencies in seconds."""

    name: str
    ask_api: Callable[[], Any]
    ask_raw: Callable[[], Any]
    answer: str = ""  # its size, for the report
    statements: float = 0.0  # Cypher statements per API request
    api: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)


def timed(function: Callable[[], Any], into: list[float]) -> Any:
    started = time.perf_counter()
    answer = function()
    into.append(time.perf_counter() - started)
    return answer


def p50(times: list[float]) -> float:
    return statistics.median(times) * 1000


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] * 1000


def graphql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise SystemExit(f"the API answered {response.status_code}: {body}")
    data: dict[str, Any] = body["data"]
    return data


def round_trips(client: httpx.Client) -> float:
    """The server's count of Cypher statements sent so far (from /metrics)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("kgtwin_neo4j_round_trips_total "):
            return float(line.split()[1])
    return 0.0


def wait_for_graph_cache(client: httpx.Client, timeout: float = 120.0) -> None:
    """Until /healthz shows the server's graph cache (terms and dependency snapshot) built."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        graph = client.get("/healthz").json().get("graph")
        if graph:
            log(
                f"the server's dependency snapshot ({graph['dependencyNodes']:,} nodes) was "
                f"ready {time.perf_counter() - started:.1f} s after start-up"
            )
            return
        time.sleep(0.2)
    raise SystemExit(f"the server built no graph cache in {timeout:.0f} s")


def raw_rows(driver: neo4j.Driver, query: LiteralString, **params: Any) -> list[dict[str, Any]]:
    """``query``'s rows as dicts: an auto-commit read in a fresh session, as the server does."""
    with driver.session(default_access_mode=neo4j.READ_ACCESS) as session:
        return [record.data() for record in session.run(query, params)]


def load_site(driver: neo4j.Driver, ontology: Ontology, assets: int, relationships: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "synthetic.ttl"
        started = time.perf_counter()
        size = write_site(site, assets, relationships)
        log(
            f"generated {size.assets:,} assets, {size.nodes:,} nodes, {size.relationships:,} "
            f"relationships in {time.perf_counter() - started:.1f} s"
        )
        log("validating and loading (a no-op when the site is already there) ...")
        started = time.perf_counter()
        result = load_model(driver, [site], "synthetic", ontology)
        if not result.report.ok:
            for problem in result.report.problems[:10]:
                log(problem.render())
            raise SystemExit("the synthetic site does not validate")
        log(
            f"validated in {result.validate_seconds:.1f} s, loaded in "
            f"{time.perf_counter() - started - result.validate_seconds:.1f} s"
        )


def downstream_case(
    client: httpx.Client,
    driver: neo4j.Driver,
    start: str,
    what: str,
    walk: dict[str, list[str]],
    via: list[str] | None,
) -> Case:
    """``downstream`` from ``start``, checked against the raw traversal: same nodes, same
    depths, and the API's page is the first of them by depth, then id. Without ``via`` the
    server walks its dependency snapshot; with it, Neo4j (one statement per level)."""
    how = "snapshot" if via is None else "Neo4j walk"
    case = Case(
        f"downstream {what} {start} ({how})",
        lambda: graphql(client, DOWNSTREAM, id=start, depth=DEPTH, via=via)["downstream"],
        lambda: raw_rows(driver, RAW_DOWNSTREAM, id=start, **walk),
    )
    reach, (raw,) = case.ask_api(), case.ask_raw()
    expected = sorted(zip(raw["depths"], raw["ids"], strict=True))
    page = [(item["depth"], item["id"]) for item in reach["items"]]
    if reach["truncated"] or reach["totalCount"] != len(expected) or page != expected[: len(page)]:
        raise SystemExit(
            f"downstream of {start}: the API reached {reach['totalCount']} nodes (truncated: "
            f"{reach['truncated']}), raw Cypher {len(expected)}, or their depths differ"
        )
    by_depth = "/".join(str(raw["depths"].count(d)) for d in range(1, DEPTH + 1))
    case.answer = (
        f"{len(expected):,} nodes (by depth {by_depth}); the API lists the first {len(page)}"
    )
    return case


def asset_case(client: httpx.Client, driver: neo4j.Driver) -> Case:
    case = Case(
        f"asset {RACK} + points",
        lambda: graphql(client, ASSET, id=RACK)["asset"],
        lambda: raw_rows(driver, RAW_ASSET, id=RACK),
    )
    api, (raw,) = case.ask_api(), case.ask_raw()
    if [p["id"] for p in api["points"]] != [p["id"] for p in raw["points"]] or not api["points"]:
        raise SystemExit(f"asset {RACK}: the API and raw Cypher give different points")
    case.answer = f"1 node ({len(raw['node'])} properties), {len(raw['points'])} point(s)"
    return case


def dependency_walk(driver: neo4j.Driver) -> tuple[dict[str, list[str]], list[str]]:
    """RAW_DOWNSTREAM's parameters (the types it follows forward and backward), and the
    dependency types to name as ``via``."""
    terms = read_terms(Reader(driver))
    types = terms.dependency_types
    direction = direction_for(types, terms.reversed_types(types), downstream=True)
    walk = {"forward": sorted(direction.forward), "backward": sorted(direction.backward)}
    return walk, list(types)


def compare(client: httpx.Client, driver: neo4j.Driver, repeat: int) -> list[Case]:
    """Every case checked, then a warm-up, then ``repeat`` interleaved rounds."""
    walk, via = dependency_walk(driver)  # via: the same types, named: a walk in Neo4j
    cases = [
        downstream_case(client, driver, start, what, walk, types_given)
        for types_given in (None, via)
        for start, what in STARTS
    ]
    cases.append(asset_case(client, driver))
    return measure(client, cases, repeat)


def measure(client: httpx.Client, cases: list[Case], repeat: int) -> list[Case]:
    """The statements each case's API request sends, then a warm-up, then ``repeat``
    interleaved rounds."""
    for case in cases:
        before = round_trips(client)
        case.ask_api()
        case.statements = round_trips(client) - before

    log(f"warming up ({WARM_UP} rounds) ...")
    for _ in range(WARM_UP):
        for case in cases:
            case.ask_api()
            case.ask_raw()
    log(f"measuring ({repeat} rounds) ...")
    for i in range(repeat):
        for case in cases:  # alternate which side goes first
            first, second = (case.ask_api, case.api), (case.ask_raw, case.raw)
            for ask, into in (first, second) if i % 2 else (second, first):
                timed(ask, into)
        if (i + 1) % 25 == 0:
            log(f"  {i + 1}/{repeat}")
    return cases


class NaiveLoaders(Loaders):
    """The same loaders, never batching: one statement per asset and nested field."""

    def __init__(self, reader: Reader, max_page_size: int) -> None:
        super().__init__(reader, max_page_size)
        self.nodes = DataLoader(load_fn=self._nodes, max_batch_size=1)
        self.classes = DataLoader(load_fn=self._classes, max_batch_size=1)
        self.points = DataLoader(load_fn=self._points, max_batch_size=1)
        self.relationships = DataLoader(load_fn=self._relationships, max_batch_size=1)


async def nested_times(
    schema: TwinSchema, services: Services, loaders_class: type[Loaders], runs: int
) -> list[float]:
    """``runs`` timings of the nested query (after 3 unmeasured ones), each request with
    fresh loaders of ``loaders_class``."""
    times: list[float] = []
    for run in range(3 + runs):
        context = make_context(services, None)
        context["loaders"] = loaders_class(services.reader, services.settings.max_page_size)
        started = time.perf_counter()
        result = await schema.execute(NESTED, {"first": 100}, context_value=context)
        if result.errors:
            raise SystemExit(f"the nested query failed: {result.errors}")
        if run >= 3:
            times.append(time.perf_counter() - started)
    return times


def nested(driver: neo4j.Driver, settings: Settings, ontology: Ontology, repeat: int) -> None:
    """Dataloaders against no batching on a nested query over 100 racks, in-process."""
    statements: list[LiteralString] = []
    services = Services(
        settings,
        Reader(driver, None, statements.append),
        Catalogue.build(ontology.graph, ontology.vocabulary),
        units=Units.of(ontology.graph),
    )
    schema = build_schema(settings)
    runs = max(repeat // 10, 10)
    print("\nnested query over 100 racks (classes, properties, points, relationships):")
    print(f"{'':24}{'P50 ms':>10}{'P95 ms':>10}{'statements':>12}")
    for name, loaders_class in (("dataloaders", Loaders), ("naive (no batching)", NaiveLoaders)):
        log(f"nested query, {name}: {runs} runs ...")
        statements.clear()
        times = asyncio.run(nested_times(schema, services, loaders_class, runs))
        per_query = len(statements) // (3 + runs)
        print(f"{name:24}{p50(times):>10.1f}{p95(times):>10.1f}{per_query:>12}")


def report(cases: list[Case]) -> None:
    print(f"\n{'query':38}{'API P50':>9}{'P95':>8}{'raw P50':>9}{'P95':>8}{'P50 ratio':>11}")
    for case in cases:
        print(
            f"{case.name:38}{p50(case.api):>9.1f}{p95(case.api):>8.1f}"
            f"{p50(case.raw):>9.1f}{p95(case.raw):>8.1f}{p50(case.api) / p50(case.raw):>10.2f}x"
        )
    print(
        f"(ms, {len(cases[0].api)} rounds; API: GraphQL over HTTP, keep-alive; "
        "raw: one Cypher statement through the driver)"
    )
    for case in cases:
        print(f"{case.name}: {case.answer}; {case.statements:.0f} statement(s) per API request")
    for case in cases:
        if case.name.startswith("downstream"):
            met = "met" if p95(case.api) < GOAL_P95_MS else "MISSED"
            print(f"goal: {case.name} API P95 < {GOAL_P95_MS:.0f} ms: {met}")
    for case in cases:
        met = "met" if p50(case.api) / p50(case.raw) < GOAL_RATIO else "MISSED"
        print(f"goal: {case.name} API overhead < {GOAL_RATIO}x raw Cypher: {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=200, help="measured rounds per query")
    parser.add_argument("--nested", action="store_true", help="also the dataloader comparison")
    args = parser.parse_args()
    if args.repeat < 20:
        parser.error("--repeat: at least 20 rounds, for a P95")

    ontology = Ontology.load(default_ontology_files())
    with neo4j_server("neo4j-bench-query") as (uri, user, password):
        settings = Settings.from_env().override(
            neo4j_uri=uri,
            neo4j_user=user,
            neo4j_password=password,
            anonymous_read=True,
            rate_limit=0,  # the bench is one client asking as fast as it can
        )
        driver = open_driver(uri, user, password)
        try:
            load_site(driver, ontology, args.assets, args.relationships)
            log("starting the server ...")
            with serving(create_app(settings), start_timeout=60) as client:
                wait_for_graph_cache(client)
                cases = compare(client, driver, args.repeat)
            report(cases)
            if args.nested:
                nested(driver, settings, ontology, args.repeat)
        finally:
            driver.close()


if __name__ == "__main__":
    main()
