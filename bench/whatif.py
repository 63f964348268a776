"""Benchmark: the what-if engine against Cypher and networkx, on the same questions.

Generates the synthetic site (bench/synthetic.py), validates and loads it, then, in one
run and side by side:

- **snapshot build**: what the server's graph cache does (``GraphCache.refresh``), timed
  ``--builds`` times: the Neo4j reads (graph version, terms, dependency edges, assets)
  and the pure ``build_snapshot``; next to it, building a networkx ``DiGraph`` (supplier
  to consumer, with each node's need) from the same edges and assets.
- **single-failure propagation**: a fixed sample of starts drawn with ``--seed`` (a
  switchgear, a UPS, three PDUs, three racks, three of the 1% of services with the most
  direct dependants), each failed alone ``--repeat`` times after two unmeasured runs,
  the methods interleaved (their order rotating). Every method must find the same down
  set (checked on the first run; a mismatch is reported and makes the run fail):

  * kgtwin: ``simulation.propagation.propagate`` on the snapshot;
  * Cypher var-length: a node that needs all its suppliers is down as soon as one is, so
    the down set grows by variable-length traversals through such nodes: one statement
    follows the forward dependency types ``-[:FEEDS|HOSTS|...*0..]->`` then the reversed
    ones ``<-[:DEPENDS_ON*0..]-`` from the newly down nodes, with a node predicate that
    stops at redundant nodes (policy ``any`` or ``k-of-n``), which Neo4j plans as a
    pruning breadth-first expand (each node visited once; repeated, rarely, when a node
    reached backwards has forward consumers); then one statement counts, for each
    consumer of the newly down nodes not yet down, its down suppliers against its policy
    (the boundary). What went down at the boundary starts the next round; no new node
    ends it (2 statements per failure on the synthetic site);
  * Cypher one-hop: the same boundary statement alone, round after round from the
    newly down nodes (semi-naive evaluation: a statement per level of the down set);
  * networkx: ``nx.descendants`` of the failed node, then those in topological order
    (``nx.topological_sort`` of the whole graph, once, with the build), each node down
    when fewer of its predecessors are up than its need (when the graph has a cycle,
    passes in any order until nothing changes).

  The relationship types come from the ontology (``Terms.dependency_types`` and
  ``reversed_types``), are checked against it and spelled as plain identifiers before
  they go into the query text (a variable-length pattern cannot take them as
  parameters: in Neo4j 5.26.30 ``-[:$any($types)*1..]->`` follows every type, e.g.
  HAS_POINT and LOCATED_IN); every value is a parameter. Statements have a timeout, so
  the run ends by itself.
- **single points of failure** of a rack and of the service with the most ancestors
  among ``SPOF_SAMPLE`` sampled: ``simulation.spof.single_points_of_failure`` against
  networkx brute force (each ancestor failed alone within the ancestors' subgraph) and,
  when the target has at most ``CYPHER_SPOF_MAX_ANCESTORS`` ancestors, Cypher brute
  force (ancestors by one statement per level, then each failed with the var-length
  method). Each timed 3 times (the median kept); all must give the same set.
- **Monte Carlo**: ``simulation.availability.monte_carlo`` of ``--trials`` trials, seed
  1, failure probabilities ``unavailability(snapshot)``, for 50 racks and 50 services,
  timed ``--mc-runs`` times; against the same trials in networkx (failures drawn per
  trial with numpy, propagated within the targets' ancestors as above) on
  ``--nx-trials`` trials (default: as many), its time extrapolated to ``--trials``
  when fewer. With the site's MTBF and MTTR a trial has about 0.1 failures among the
  targets' ancestors, so both again with every probability ``--stress`` times higher
  (capped at 1; 0 skips it).

Prints the measurements, the ratios (baseline / kgtwin) and the goals on a 2-core
machine: single-failure propagation P50 < 50 ms, 1,000 trials < 10 s, propagation at
least 10x faster than Cypher (the faster of the two Cypher methods), each judged on the
P50 of all starts' runs together and again on every start's own P50. Progress goes to
stderr.

    .venv/bin/python bench/whatif.py [--assets 100000] [--relationships 300000]
        [--repeat 20] [--builds 3] [--trials 1000] [--nx-trials N] [--seed 1]

Neo4j: NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server started for
the run on free ports (and stopped after). The site is loaded with the sync, a no-op when
it is there already.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, LiteralString

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import neo4j  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from bench.neo4j_server import neo4j_server  # noqa: E402
from bench.query import load_site, log, p50, p95, timed  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402
from kgtwin.graph.dependencies import (  # noqa: E402
    AssetRow,
    Edges,
    read_assets,
    read_dependencies,
    read_edges,
)
from kgtwin.graph.ontology_read import Terms, read_terms  # noqa: E402
from kgtwin.graph.reader import Reader  # noqa: E402
from kgtwin.graph.versions import graph_version  # noqa: E402
from kgtwin.ontology.files import default_ontology_files  # noqa: E402
from kgtwin.ontology.validate import Ontology  # noqa: E402
from kgtwin.simulation.availability import monte_carlo, unavailability  # noqa: E402
from kgtwin.simulation.propagation import propagate  # noqa: E402
from kgtwin.simulation.snapshot import Snapshot, build_snapshot, snapshot_of  # noqa: E402
from kgtwin.simulation.spof import single_points_of_failure, upstream  # noqa: E402

GOAL_PROPAGATION_MS = 50.0
GOAL_TRIALS_S = 10.0
GOAL_RATIO = 10.0
WARM_UP = 2  # unmeasured runs per start and method; the first is checked
STATEMENT_TIMEOUT = 120.0  # seconds, per Cypher statement
SPOF_SAMPLE = 200  # services sampled for the one with the most ancestors
SPOF_RUNS = 3  # timed runs per target and method
CYPHER_SPOF_MAX_ANCESTORS = 50  # Cypher brute force only up to this: a propagation each
MC_TARGETS = 50  # racks, and as many services
MC_SEED = 1
REDUNDANT = ["any", "k-of-n"]  # policies that may stay up after losing a supplier

KGTWIN, VAR_LENGTH, ONE_HOP, NETWORKX = "kgtwin", "Cypher var-length", "Cypher one-hop", "networkx"
METHODS = (KGTWIN, VAR_LENGTH, ONE_HOP, NETWORKX)
CYPHER_METHODS = (VAR_LENGTH, ONE_HOP)

# From the newly down nodes ($iris): every node reached along forward types, then from
# those along reversed types, through nodes that need all their suppliers (the start of
# a path may be redundant: it is down already). ``forward``: the nodes whose forward
# closure this includes; ``onward``: nodes reached with forward consumers of that kind,
# which need a forward walk of their own. ``n = s OR ...`` keeps the predicate on every
# node of the path, which lets Neo4j plan a pruning breadth-first expand.
CLOSURE: LiteralString = """
UNWIND $iris AS iri
MATCH (s:Twin {iri: iri})
MATCH p = (s)-[:FORWARD_TYPES*0..]->(y:Twin)
WHERE all(n IN nodes(p) WHERE n = s OR NOT coalesce(n.redundancyPolicy, 'all') IN $redundant)
WITH DISTINCT y
WITH collect(y) AS ys
UNWIND ys AS y
MATCH q = (y)<-[:BACKWARD_TYPES*0..]-(x:Twin)
WHERE all(n IN nodes(q) WHERE n = y OR NOT coalesce(n.redundancyPolicy, 'all') IN $redundant)
WITH ys, collect(DISTINCT x) AS xs
RETURN [y IN ys | y.iri] AS forward, [x IN xs | x.iri] AS reached,
       [x IN xs WHERE EXISTS {
          (x)-[:FORWARD_TYPES]->(z:Twin)
          WHERE NOT coalesce(z.redundancyPolicy, 'all') IN $redundant
        } | x.iri] AS onward
"""

# The consumers of the newly down nodes ($fresh) not yet down that go down now: fewer of
# their (distinct) suppliers are up than their policy needs (all: every one; any: one;
# k-of-n: k, capped at the number of suppliers; a k-of-n without k, or another policy:
# all), as simulation.snapshot.required_suppliers resolves it.
BOUNDARY: LiteralString = """
UNWIND $fresh AS iri
MATCH (s:Twin {iri: iri})
CALL (s) {
  MATCH (s)-[:FORWARD_TYPES]->(c:Twin) RETURN c
  UNION
  MATCH (s)<-[:BACKWARD_TYPES]-(c:Twin) RETURN c
}
WITH DISTINCT c
WHERE NOT c.iri IN $down
CALL (c) {
  MATCH (c)<-[:FORWARD_TYPES]-(p:Twin) RETURN p
  UNION
  MATCH (c)-[:BACKWARD_TYPES]->(p:Twin) RETURN p
}
WITH c, count(p) AS n, count(CASE WHEN p.iri IN $down THEN 1 END) AS lost
WITH c, n, lost, CASE
    WHEN c.redundancyPolicy = 'any' THEN CASE WHEN n > 0 THEN 1 ELSE 0 END
    WHEN c.redundancyPolicy = 'k-of-n' AND c.requiredSuppliers < n THEN c.requiredSuppliers
    ELSE n
  END AS need
WHERE n - lost < need
RETURN collect(c.iri) AS down
"""

# The suppliers of $iris: one level of the walk to a target's ancestors.
SUPPLIERS: LiteralString = """
UNWIND $iris AS iri
MATCH (c:Twin {iri: iri})
CALL (c) {
  MATCH (c)<-[:FORWARD_TYPES]-(p:Twin) RETURN p
  UNION
  MATCH (c)-[:BACKWARD_TYPES]->(p:Twin) RETURN p
}
RETURN collect(DISTINCT p.iri) AS suppliers
"""

IDENTIFIER = re.compile(r"[A-Z][A-Z0-9_]*")


def type_union(terms: Terms, types: Iterable[str]) -> LiteralString:
    """``A|B|C`` for a relationship pattern: each type one of the ontology's and a plain
    identifier, so that it can go into the query text (the one place here where a built
    string becomes Cypher)."""
    checked = terms.check_relationships(sorted(types))
    odd = [t for t in checked if not IDENTIFIER.fullmatch(t)]
    if not checked or odd:
        raise SystemExit(f"cannot spell the relationship types {odd or checked} in Cypher")
    return "|".join(checked)


class CypherWhatIf:
    """The down set of a failure and a target's single points of failure, by Cypher
    statements (each in its own auto-commit read); values only as parameters."""

    def __init__(self, driver: neo4j.Driver, terms: Terms) -> None:
        types = terms.dependency_types
        backward = terms.reversed_types(types)
        forward = [t for t in types if t not in backward]
        if not forward or not backward:
            raise SystemExit("the Cypher baseline needs forward and reversed dependency types")
        f, b = type_union(terms, forward), type_union(terms, backward)
        self.driver = driver
        self.closure, self.boundary, self.suppliers = (
            query.replace("FORWARD_TYPES", f).replace("BACKWARD_TYPES", b)
            for query in (CLOSURE, BOUNDARY, SUPPLIERS)
        )
        self.statements = 0  # sent so far

    def row(self, session: neo4j.Session, query: LiteralString, **params: Any) -> dict[str, Any]:
        self.statements += 1
        record = session.run(neo4j.Query(query, timeout=STATEMENT_TIMEOUT), params).single()
        assert record is not None  # every statement here aggregates into one row
        return record.data()

    def down_var_length(self, failed: str) -> frozenset[str]:
        down = {failed}
        fresh = [failed]
        with self.driver.session(default_access_mode=neo4j.READ_ACCESS) as session:
            while fresh:
                starts, walked, reached = fresh, set[str](), set[str]()
                while starts:
                    row = self.row(session, self.closure, iris=starts, redundant=REDUNDANT)
                    walked.update(row["forward"])
                    reached.update(row["reached"])
                    starts = sorted(set(row["onward"]) - walked)
                newly = reached - down
                down |= newly
                row = self.row(session, self.boundary, fresh=[*fresh, *newly], down=list(down))
                fresh = row["down"]
                down.update(fresh)
        return frozenset(down)

    def down_one_hop(self, failed: str) -> frozenset[str]:
        down = {failed}
        fresh = [failed]
        with self.driver.session(default_access_mode=neo4j.READ_ACCESS) as session:
            while fresh:
                fresh = self.row(session, self.boundary, fresh=fresh, down=list(down))["down"]
                down.update(fresh)
        return frozenset(down)

    def ancestors(self, target: str) -> set[str]:
        seen: set[str] = set()
        level = [target]
        with self.driver.session(default_access_mode=neo4j.READ_ACCESS) as session:
            while level:
                found = self.row(session, self.suppliers, iris=level)["suppliers"]
                level = [iri for iri in found if iri not in seen and iri != target]
                seen.update(level)
        return seen

    def spof(self, target: str) -> frozenset[str]:
        """Brute force: each ancestor failed alone."""
        return frozenset(a for a in self.ancestors(target) if target in self.down_var_length(a))


@dataclass(frozen=True, slots=True)
class NxModel:
    """The dependency graph in networkx: supplier -> consumer, nodes by IRI."""

    graph: nx.DiGraph
    need: Mapping[str, int]  # the fewest working suppliers each node needs
    probability: Mapping[str, float]  # MTTR / (MTBF + MTTR); absent: never fails
    topological: Mapping[str, int] | None  # node -> its place in a topological order; None: a cycle


def nx_build(edges: Edges, reversed_types: Collection[str], assets: Sequence[AssetRow]) -> NxModel:
    graph = nx.DiGraph()
    graph.add_nodes_from(row.iri for row in assets)
    graph.add_edges_from(  # the rows of strings, made from the ends: 0.19 s of 10 s at 1M
        (target, source) if rel_type in reversed_types else (source, target)
        for source, target, rel_type in edges.named()
    )
    rows = {row.iri: row for row in assets}
    need: dict[str, int] = {}
    for node, suppliers in graph.in_degree():
        row = rows.get(node)
        policy, k = (row.policy, row.required_suppliers) if row else (None, None)
        if policy == "any":
            need[node] = min(1, suppliers)
        elif policy == "k-of-n" and k is not None:
            need[node] = max(0, min(k, suppliers))
        else:
            need[node] = suppliers
    probability = {
        row.iri: row.mttr_hours / (row.mtbf_hours + row.mttr_hours)
        for row in assets
        if row.mtbf_hours and row.mttr_hours and row.mtbf_hours > 0 and row.mttr_hours > 0
    }
    try:
        topological = {node: i for i, node in enumerate(nx.topological_sort(graph))}
    except nx.NetworkXUnfeasible:  # a cycle
        topological = None
    return NxModel(graph, need, probability, topological)


def nx_down(model: NxModel, failed: Iterable[str], graph: nx.DiGraph | None = None) -> set[str]:
    """What ``failed`` takes down in ``graph`` (default: the whole model), which must hold
    every supplier of the nodes it holds."""
    graph = model.graph if graph is None else graph
    down = set(failed)
    reach = set(down)
    for node in down:
        reach |= nx.descendants(graph, node)
    topological = model.topological
    order = sorted(reach, key=topological.__getitem__) if topological else list(reach)
    need, in_degree, predecessors = model.need, graph.in_degree, graph.predecessors
    changed = True
    while changed:
        changed = False
        for node in order:
            if node not in down:
                lost = sum(1 for supplier in predecessors(node) if supplier in down)
                if in_degree(node) - lost < need[node]:
                    down.add(node)
                    changed = True
        changed = changed and topological is None  # in topological order one pass settles it
    return down


def nx_ancestry(model: NxModel, targets: Iterable[str]) -> nx.DiGraph:
    """The subgraph of ``targets`` and their ancestors (a copy): all that can take them
    down, with every supplier of each node in it."""
    nodes = set(targets)
    for target in list(nodes):
        nodes |= nx.ancestors(model.graph, target)
    return model.graph.subgraph(nodes).copy()


def nx_spof(model: NxModel, target: str) -> frozenset[str]:
    """Brute force: each ancestor failed alone, within the ancestors' subgraph."""
    sub = nx_ancestry(model, [target])
    return frozenset(a for a in sub if a != target and target in nx_down(model, [a], sub))


def nx_monte_carlo(
    model: NxModel, targets: Sequence[str], trials: int, seed: int
) -> dict[str, int]:
    """Each target's number of trials up: every node of the targets' ancestry fails with
    its probability, drawn with numpy; the failures propagated within the ancestry."""
    sub = nx_ancestry(model, targets)
    risky = [node for node in sub if model.probability.get(node, 0.0) > 0]
    chance = np.array([model.probability[node] for node in risky])
    rng = np.random.default_rng(seed)
    up = dict.fromkeys(targets, 0)
    for _ in range(trials):
        failed = [risky[j] for j in np.flatnonzero(rng.random(len(risky)) < chance)]
        down = nx_down(model, failed, sub) if failed else set()
        for target in targets:
            if target not in down:
                up[target] += 1
    return up


@dataclass
class Built:
    """The last build, and every build's times in seconds."""

    terms: Terms
    edges: Edges
    assets: list[AssetRow]
    snapshot: Snapshot
    model: NxModel
    reads: list[float] = field(default_factory=list)  # version, terms, edges, assets
    edge_reads: list[float] = field(default_factory=list)
    asset_reads: list[float] = field(default_factory=list)
    pure: list[float] = field(default_factory=list)  # build_snapshot
    nx: list[float] = field(default_factory=list)  # nx_build from the same edges and assets
    # what a server does (server/graph_cache.py): its numbered read, then snapshot_of
    server_reads: list[float] = field(default_factory=list)
    server_pure: list[float] = field(default_factory=list)


def build(reader: Reader, builds: int) -> Built:
    """What ``GraphCache.refresh`` does, ``builds`` times, and the networkx graph."""
    built: Built | None = None
    for run in range(builds):
        log(f"snapshot build {run + 1}/{builds} ...")
        started = time.perf_counter()
        version = graph_version(reader)
        terms = read_terms(reader)
        types = terms.dependency_types
        before_edges = time.perf_counter()
        edges = read_edges(reader, types)
        before_assets = time.perf_counter()
        assets = read_assets(reader)
        read = time.perf_counter()
        reversed_types = terms.reversed_types(types)
        snapshot = build_snapshot(edges, types, reversed_types, version, assets)
        pure = time.perf_counter()
        model = nx_build(edges, reversed_types, assets)
        done = time.perf_counter()
        graph = read_dependencies(reader, types)
        server_read = time.perf_counter()
        snapshot_of(graph, types, reversed_types, version)
        server_done = time.perf_counter()
        del graph
        if built is None:
            built = Built(terms, edges, assets, snapshot, model)
        else:
            built.terms, built.edges, built.assets = terms, edges, assets
            built.snapshot, built.model = snapshot, model
        built.reads.append(read - started)
        built.edge_reads.append(before_assets - before_edges)
        built.asset_reads.append(read - before_assets)
        built.pure.append(pure - read)
        built.nx.append(done - pure)
        built.server_reads.append(server_read - done)
        built.server_pure.append(server_done - server_read)
    assert built is not None
    log(
        f"snapshot: {len(built.snapshot):,} nodes, {len(built.edges):,} edges; "
        f"networkx: {built.model.graph.number_of_nodes():,} nodes, "
        f"{built.model.graph.number_of_edges():,} edges"
        + ("" if built.model.topological else " (with a cycle)")
    )
    return built


def of_class(snapshot: Snapshot, name: str) -> list[int]:
    """The nodes labelled ``name``, in rank (id) order: the same list every run."""
    return sorted(
        (i for i, labels in enumerate(snapshot.labels) if name in labels),
        key=snapshot.rank.__getitem__,
    )


def pick_starts(snapshot: Snapshot, rng: random.Random) -> list[tuple[str, int]]:
    services = of_class(snapshot, "ITService")
    busiest = sorted(services, key=lambda i: (-len(snapshot.consumers[i]), snapshot.rank[i]))
    starts = [
        ("switchgear", rng.choice(of_class(snapshot, "Switchgear"))),
        ("UPS", rng.choice(of_class(snapshot, "UPS"))),
        *(("PDU", i) for i in rng.sample(of_class(snapshot, "PDU"), 3)),
        *(("rack", i) for i in rng.sample(of_class(snapshot, "Rack"), 3)),
        *(("service", i) for i in rng.sample(busiest[: max(3, len(busiest) // 100)], 3)),
    ]
    return starts


@dataclass
class Start:
    """One failure start and its measurements, per method, in seconds."""

    what: str
    node: int
    iri: str
    id: str
    down: int = 0
    statements: dict[str, float] = field(default_factory=dict)  # per Cypher answer
    times: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METHODS})
    mismatch: str = ""


def propagation(built: Built, cypher: CypherWhatIf, repeat: int, seed: int) -> list[Start]:
    snapshot, model = built.snapshot, built.model
    starts = [
        Start(what, node, snapshot.iris[node], snapshot.ids[node])
        for what, node in pick_starts(snapshot, random.Random(seed))
    ]

    def asks(start: Start) -> dict[str, Callable[[], Any]]:
        """Each method's question; only what it does is timed, not the IRIs for the check."""
        node, iri = start.node, start.iri
        return {
            KGTWIN: lambda: propagate(snapshot, [node]),
            VAR_LENGTH: lambda: cypher.down_var_length(iri),
            ONE_HOP: lambda: cypher.down_one_hop(iri),
            NETWORKX: lambda: nx_down(model, [iri]),
        }

    def down_iris(method: str, answer: Any) -> frozenset[str]:
        if method == KGTWIN:
            return frozenset(snapshot.iris[i] for i in answer.down)
        return frozenset(answer)

    questions = {start.id: asks(start) for start in starts}
    for start in starts:
        log(f"checking and warming up: {start.what} {start.id} ...")
        answers: dict[str, frozenset[str]] = {}
        for method, ask in questions[start.id].items():
            before = cypher.statements
            answers[method] = down_iris(method, ask())
            if method in CYPHER_METHODS:
                start.statements[method] = cypher.statements - before
            for _ in range(WARM_UP - 1):
                ask()
        start.down = len(answers[KGTWIN])
        for method, answer in answers.items():
            if answer != answers[KGTWIN]:
                start.mismatch = (
                    f"{method} finds {len(answer):,} down, kgtwin {start.down:,}; e.g. only "
                    f"{method}: {sorted(answer - answers[KGTWIN])[:3]}, only kgtwin: "
                    f"{sorted(answers[KGTWIN] - answer)[:3]}"
                )
                log(f"!!! MISMATCH from {start.id}: {start.mismatch}")
    log(f"measuring ({repeat} rounds of {len(starts)} starts x {len(METHODS)} methods) ...")
    for round_ in range(repeat):
        for start in starts:
            rotation = round_ % len(METHODS)
            for method in METHODS[rotation:] + METHODS[:rotation]:
                timed(questions[start.id][method], start.times[method])
        log(f"  {round_ + 1}/{repeat}")
    return starts


@dataclass
class Spof:
    what: str
    id: str
    ancestors: int
    found: int = 0
    times: dict[str, float] = field(default_factory=dict)  # seconds, one run each
    mismatch: str = ""


def spof_targets(snapshot: Snapshot, rng: random.Random) -> list[tuple[str, int]]:
    sample = rng.sample(of_class(snapshot, "ITService"), SPOF_SAMPLE)
    most = max(sample, key=lambda i: (len(upstream(snapshot, [i])), -snapshot.rank[i]))
    return [("rack", rng.choice(of_class(snapshot, "Rack"))), ("service", most)]


def spofs(built: Built, cypher: CypherWhatIf, seed: int) -> list[Spof]:
    """Each target's single points of failure by every method, ``SPOF_RUNS`` times each
    (the median kept), checked against kgtwin's."""
    snapshot, model = built.snapshot, built.model
    results = []
    for what, node in spof_targets(snapshot, random.Random(seed + 1)):
        iri = snapshot.iris[node]
        result = Spof(what, snapshot.ids[node], len(upstream(snapshot, [node])) - 1)
        log(f"single points of failure of {what} {result.id} ({result.ancestors} ancestors) ...")
        asks: dict[str, Callable[[], Iterable[Any]]] = {
            KGTWIN: partial(single_points_of_failure, snapshot, node),
            NETWORKX: partial(nx_spof, model, iri),
        }
        if result.ancestors <= CYPHER_SPOF_MAX_ANCESTORS:
            asks[VAR_LENGTH] = partial(cypher.spof, iri)
        answers: dict[str, frozenset[str]] = {}
        for method, ask in asks.items():
            runs: list[float] = []
            answer = timed(ask, runs)
            for _ in range(SPOF_RUNS - 1):
                timed(ask, runs)
            result.times[method] = statistics.median(runs)
            answers[method] = frozenset(
                (snapshot.iris[i] for i in answer) if method == KGTWIN else answer
            )
        result.found = len(answers[KGTWIN])
        for method, answer in answers.items():
            if answer != answers[KGTWIN]:
                result.mismatch += f"{method} finds {len(answer)}, kgtwin {result.found}. "
                log(f"!!! MISMATCH, single points of failure of {result.id}: {result.mismatch}")
        results.append(result)
    return results


@dataclass
class Trials:
    """One Monte Carlo comparison; failure probabilities ``scale`` times the model's."""

    scale: float
    targets: int
    trials: int
    nx_trials: int
    kgtwin: list[float] = field(default_factory=list)  # seconds per run of all trials
    nx_seconds: float = 0.0  # for nx_trials
    kgtwin_availability: float = 0.0  # mean over the targets
    nx_availability: float = 0.0

    @property
    def name(self) -> str:
        return "" if self.scale == 1 else f", probabilities x{self.scale:g}"

    @property
    def short(self) -> str:
        return "" if self.scale == 1 else f", p x{self.scale:g}"

    @property
    def nx_extrapolated(self) -> float:
        return self.nx_seconds / self.nx_trials * self.trials


def trials(built: Built, runs: int, count: int, nx_count: int, seed: int, scale: float) -> Trials:
    """kgtwin's ``monte_carlo`` (with ``unavailability``, timed together) ``runs`` times,
    and networkx's trials once, for the same targets."""
    snapshot, model = built.snapshot, built.model
    rng = random.Random(seed + 2)
    chosen = [
        *rng.sample(of_class(snapshot, "Rack"), MC_TARGETS),
        *rng.sample(of_class(snapshot, "ITService"), MC_TARGETS),
    ]
    result = Trials(scale, len(chosen), count, nx_count)
    for run in range(runs):
        log(f"Monte Carlo{result.name}, kgtwin, {count:,} trials, run {run + 1}/{runs} ...")
        started = time.perf_counter()
        probability = [min(1.0, p * scale) for p in unavailability(snapshot)]
        answer = monte_carlo(snapshot, chosen, probability, count, MC_SEED)
        result.kgtwin.append(time.perf_counter() - started)
    result.kgtwin_availability = statistics.fmean(a.estimate for a in answer)
    log(f"Monte Carlo{result.name}, networkx, {nx_count:,} trials ...")
    targets = [snapshot.iris[i] for i in chosen]
    scaled = {node: min(1.0, p * scale) for node, p in model.probability.items()}
    scaled_model = NxModel(model.graph, model.need, scaled, model.topological)
    started = time.perf_counter()
    up = nx_monte_carlo(scaled_model, targets, nx_count, MC_SEED)
    result.nx_seconds = time.perf_counter() - started
    result.nx_availability = statistics.fmean(up[t] / nx_count for t in targets)
    return result


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def times(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def best_cypher(start: Start) -> float:
    """The P50 of the faster Cypher method for ``start``, in ms."""
    return min(p50(start.times[m]) for m in CYPHER_METHODS)


def print_build(built: Built) -> None:
    median = statistics.median
    reads, pure = median(built.reads), median(built.pure)
    print(f"\nsnapshot build (median of {len(built.reads)}; s):")
    print(
        f"  Neo4j reads {reads:.2f} (edges {median(built.edge_reads):.2f}, assets "
        f"{median(built.asset_reads):.2f}) + build_snapshot {pure:.2f} = {reads + pure:.2f}; "
        f"networkx DiGraph (and topological order) from the same rows {median(built.nx):.2f}"
    )
    server_reads, server_pure = median(built.server_reads), median(built.server_pure)
    print(
        f"  a server's path: read_dependencies {server_reads:.2f} + snapshot_of "
        f"{server_pure:.2f} = {server_reads + server_pure:.2f}"
    )


def print_propagation(starts: list[Start]) -> dict[str, list[float]]:
    """The table per start; returns every time of each method."""
    print(
        f"\nsingle-failure propagation (ms, {len(starts[0].times[KGTWIN])} runs per start, "
        "methods interleaved):"
    )
    head = "".join(f"{m:>20}" for m in METHODS)
    print(f"{'start':22}{'down':>8}{head}{'Cypher/kg':>11}{'nx/kg':>8}")
    print(f"{'':30}" + "       P50     P95" * len(METHODS) + "  (P50s; Cypher: the faster)")
    for s in starts:
        cells = "".join(f"{p50(s.times[m]):>12.2f}{p95(s.times[m]):>8.1f}" for m in METHODS)
        kg = p50(s.times[KGTWIN])
        print(
            f"{s.what + ' ' + s.id:22}{s.down:>8,}{cells}{times(best_cypher(s) / kg):>11}"
            f"{times(p50(s.times[NETWORKX]) / kg):>8}{'  MISMATCH' if s.mismatch else ''}"
        )
    overall = {m: [t for s in starts for t in s.times[m]] for m in METHODS}
    cells = "".join(f"{p50(overall[m]):>12.2f}{p95(overall[m]):>8.1f}" for m in METHODS)
    kg = p50(overall[KGTWIN])
    cypher = min(p50(overall[m]) for m in CYPHER_METHODS)
    print(
        f"{'all starts':30}{cells}{times(cypher / kg):>11}{times(p50(overall[NETWORKX]) / kg):>8}"
    )
    statements = ", ".join(
        f"{s.id} {s.statements[VAR_LENGTH]:.0f}/{s.statements[ONE_HOP]:.0f}" for s in starts
    )
    print(f"Cypher statements per answer (var-length/one-hop): {statements}")
    return overall


def print_spofs(found: list[Spof]) -> None:
    print(f"\nsingle points of failure (s, median of {SPOF_RUNS} runs):")
    print(f"{'target':24}{'ancestors':>10}{'SPOFs':>7}{'kgtwin':>9}{'networkx':>10}{'Cypher':>9}")
    for f in found:
        cypher = f"{f.times[VAR_LENGTH]:>9.2f}" if VAR_LENGTH in f.times else f"{'skipped':>9}"
        print(
            f"{f.what + ' ' + f.id:24}{f.ancestors:>10,}{f.found:>7,}{f.times[KGTWIN]:>9.3f}"
            f"{f.times[NETWORKX]:>10.2f}{cypher}{'  MISMATCH' if f.mismatch else ''}"
        )
    print(
        f"(Cypher brute force only for targets with at most {CYPHER_SPOF_MAX_ANCESTORS} "
        "ancestors: one var-length propagation per ancestor)"
    )


def print_trials(mcs: list[Trials]) -> None:
    for mc in mcs:
        runs = ", ".join(f"{t:.3f}" for t in mc.kgtwin)
        extrapolated = f", extrapolated to {mc.trials:,}: {mc.nx_extrapolated:.2f} s"
        print(
            f"\nMonte Carlo{mc.name}: {mc.targets} targets (racks and services), seed "
            f"{MC_SEED}: kgtwin {mc.trials:,} trials in {statistics.median(mc.kgtwin):.3f} s "
            f"(median; runs {runs} s); networkx {mc.nx_trials:,} trials in "
            f"{mc.nx_seconds:.2f} s{extrapolated if mc.nx_trials != mc.trials else ''}. Mean "
            f"availability: kgtwin {mc.kgtwin_availability:.6f}, networkx "
            f"{mc.nx_availability:.6f} (its own draws)"
        )


def report(built: Built, starts: list[Start], found: list[Spof], mcs: list[Trials]) -> bool:
    """Prints every table, the summary and the goals; False if any answers differed."""
    print_build(built)
    overall = print_propagation(starts)
    print_spofs(found)
    print_trials(mcs)

    median = statistics.median
    pure = median(built.pure)
    kg = p50(overall[KGTWIN])
    cypher = min(p50(overall[m]) for m in CYPHER_METHODS)
    rows: list[tuple[str, float, float | None, float | None, str]] = [
        ("snapshot: Neo4j reads + build (s)", median(built.reads) + pure, None, None, "{:.2f}"),
        ("snapshot: build from the rows (s)", pure, None, median(built.nx), "{:.2f}"),
        ("propagation P50, all starts (ms)", kg, cypher, p50(overall[NETWORKX]), "{:.2f}"),
        *(
            (
                f"SPOF {f.what} {f.id} (s)",
                f.times[KGTWIN],
                f.times.get(VAR_LENGTH),
                f.times[NETWORKX],
                "{:.3f}",
            )
            for f in found
        ),
        *(
            (
                f"{mc.trials:,} Monte Carlo trials{mc.short} (s)",
                median(mc.kgtwin),
                None,
                mc.nx_extrapolated,
                "{:.3f}",
            )
            for mc in mcs
        ),
    ]
    print(f"\n{'summary':38}{'kgtwin':>10}{'Cypher':>10}{'networkx':>10}{'Cy/kg':>8}{'nx/kg':>8}")
    for name, ours, cy, nxv, fmt in rows:
        shown = [fmt.format(v) if v is not None else "-" for v in (ours, cy, nxv)]
        ratios = [times(v / ours) if v is not None and ours else "-" for v in (cy, nxv)]
        print(f"{name:38}{shown[0]:>10}{shown[1]:>10}{shown[2]:>10}{ratios[0]:>8}{ratios[1]:>8}")
    print(
        "(Cypher: the faster of var-length and one-hop; build from the rows: build_snapshot, "
        "and networkx's DiGraph with its topological order"
        + (
            f"; Monte Carlo networkx: {mcs[0].nx_trials:,} trials extrapolated)"
            if mcs[0].nx_trials != mcs[0].trials
            else ")"
        )
    )

    slowest = max(starts, key=lambda s: p50(s.times[KGTWIN]))
    slowest_ms = p50(slowest.times[KGTWIN])
    worst = min(starts, key=lambda s: best_cypher(s) / p50(s.times[KGTWIN]))
    worst_ratio = best_cypher(worst) / p50(worst.times[KGTWIN])
    goals = [
        (
            f"single-failure propagation P50 < {GOAL_PROPAGATION_MS:.0f} ms, all starts",
            kg < GOAL_PROPAGATION_MS,
            f"{kg:.2f} ms",
        ),
        (
            "  and for each start",
            slowest_ms < GOAL_PROPAGATION_MS,
            f"slowest: {slowest.id}, {slowest.down:,} down, {slowest_ms:.2f} ms",
        ),
        *(
            (
                f"{mc.trials:,} Monte Carlo trials{mc.name} < {GOAL_TRIALS_S:.0f} s",
                median(mc.kgtwin) < GOAL_TRIALS_S,
                f"{median(mc.kgtwin):.3f} s",
            )
            for mc in mcs
        ),
        (
            f"propagation >= {GOAL_RATIO:.0f}x faster than Cypher, P50 of all starts",
            cypher / kg >= GOAL_RATIO,
            times(cypher / kg),
        ),
        (
            "  and for each start",
            worst_ratio >= GOAL_RATIO,
            f"least: {worst.id}, {times(worst_ratio)}",
        ),
    ]
    for goal, ok, measured in goals:
        print(f"goal: {goal}: {met(ok)} ({measured})")
    mismatches = [s.id + ": " + s.mismatch for s in starts if s.mismatch]
    mismatches += [f.id + ": " + f.mismatch for f in found if f.mismatch]
    for line in mismatches:
        print(f"MISMATCH {line}")
    if not mismatches:
        print("every method found the same down sets and single points of failure")
    return not mismatches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=20, help="measured runs per start")
    parser.add_argument("--builds", type=int, default=3, help="snapshot builds timed")
    parser.add_argument("--trials", type=int, default=1_000, help="Monte Carlo trials")
    parser.add_argument("--mc-runs", type=int, default=3, help="timed Monte Carlo runs")
    parser.add_argument(
        "--stress", type=float, default=100, help="the Monte Carlo again, probabilities x this"
    )
    parser.add_argument("--nx-trials", type=int, help="networkx's trials (default: --trials)")
    parser.add_argument("--seed", type=int, default=1, help="which starts and targets")
    args = parser.parse_args()
    args.nx_trials = args.trials if args.nx_trials is None else args.nx_trials
    if args.repeat < 5:
        parser.error("--repeat: at least 5 runs, for a P95")
    if min(args.builds, args.trials, args.mc_runs, args.nx_trials) < 1:
        parser.error("--builds, --trials, --mc-runs and --nx-trials: at least 1")

    ontology = Ontology.load(default_ontology_files())
    with neo4j_server("neo4j-bench-whatif") as (uri, user, password):
        driver = open_driver(uri, user, password)
        try:
            load_site(driver, ontology, args.assets, args.relationships)
            built = build(Reader(driver), args.builds)
            cypher = CypherWhatIf(driver, built.terms)
            starts = propagation(built, cypher, args.repeat, args.seed)
            found = spofs(built, cypher, args.seed)
            mcs = [
                trials(built, args.mc_runs, args.trials, args.nx_trials, args.seed, scale)
                for scale in (1, args.stress)
                if scale
            ]
        finally:
            driver.close()
    if not report(built, starts, found, mcs):
        raise SystemExit("the methods' answers differ (see MISMATCH above)")


if __name__ == "__main__":
    main()
