"""Benchmark: the twin at 10k, 100k and 1M assets, each measure beside its baseline, how
each grows from 100k to 1M, and the goals at 1M (and the other benchmarks' at 100k).

Per size, a synthetic site (bench/synthetic.py: 3 relationships and 0.4 points per asset)
in a temporary folder, a Neo4j of its own (a fresh database; ``--heap``/``--pagecache``, by
default the launcher's own sizing), then these phases (``--skip`` leaves any out but the
load):

- **load**: the real ``kgtwin load --json`` in a subprocess, four times (first load, on the
  Neo4j just started; a reload of the same files, which finds them loaded by their digest;
  the same with ``--verify``, which validates and syncs; a first load again into the emptied
  database, Neo4j's code now compiled by its JIT, set beside the naive loader's steady
  rate): validate and sync times from its report, wall
  time, peak RSS (the child's ``VmHWM``, read every 50 ms); meanwhile a thread asks Neo4j
  ``SHOW TRANSACTIONS`` every 0.25 s and keeps the largest ``estimatedUsedHeapMemory``
  of a transaction other than its own (a peak between two looks is missed). Then Neo4j's
  peak RSS (``VmHWM``).
- **baseline**: one statement per node (bench/load.py) on a Neo4j started for it as the
  first load's was, after the other phases: the whole site's nodes up to 150,000 (every
  n-th node of the graph beyond that, the rest at the rate of the second half), read back
  from the graph. Beside the warm load, its steady rate (that second half's).
- **snapshot**: bench/whatif.py ``build`` (``--builds`` times, the medians): Neo4j reads of
  strings, ``build_snapshot`` and a networkx DiGraph from the same rows, then what a
  server's graph cache does (its numbered reads, ``snapshot_of``); the memory of the first
  two is what ``tracemalloc`` sees still held after a second build of each (``memory``).
- **http**: ``kgtwin serve`` in a subprocess (anonymous read, no rate limit): its RSS once
  its snapshot is built, then ``downstream`` depth 5 (bench/query.py's starts) and a
  single-failure ``whatIf`` (bench/whatif.py's starts) over HTTP, interleaved with the
  same questions as raw Cypher (bench/query.py ``measure``), each answer checked.
- **propagation**, **spof**, **mc**: bench/whatif.py's single-failure propagation (kgtwin,
  two Cypher methods, networkx), single points of failure and 1,000 Monte Carlo trials
  for 100 targets.
- **ingest**: bench/ingest.py's sustained phase (``--ingest-repeat`` runs, the median),
  freshness at 5,000 msgs/s and the one-statement-per-message baseline on the site's
  power points, through a local Mosquitto.

Prints a table per size, then measure | 10k | 100k | 1M | exponent | goal | met?, every
goal, and the change against the recorded run; then records this run's sizes there.

    .venv/bin/python bench/scale.py [--sizes 10k,100k,1m] [--skip ingest,...]
        [--heap 3g] [--record PATH] [--compare PATH] [--repeat 50] [--builds 3]

Neo4j: NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set (emptied for each size!), else a
local server per size, started for it on free ports and stopped after.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, LiteralString, TextIO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import neo4j  # noqa: E402
import numpy as np  # noqa: E402

from bench import ingest, query, whatif  # noqa: E402
from bench.cpu import resident_mb  # noqa: E402
from bench.load import naive_load  # noqa: E402
from bench.neo4j_server import empty_database, neo4j_pid, neo4j_server  # noqa: E402
from bench.scale_report import (  # noqa: E402
    SIZES,
    Results,
    change_lines,
    final_table,
    goal_lines,
    parse_sizes,
    read_record,
    record,
    recorded_values,
    size_table,
    write_record,
)
from bench.synthetic import write_site  # noqa: E402
from kgtwin.devkit.broker import LocalBroker, install_mosquitto  # noqa: E402
from kgtwin.devkit.launcher import free_ports  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402
from kgtwin.graph.reader import Reader  # noqa: E402
from kgtwin.ontology.files import default_ontology_files  # noqa: E402
from kgtwin.ontology.validate import Ontology  # noqa: E402
from kgtwin.simulation.snapshot import build_snapshot  # noqa: E402

NEO4J_NAME = "neo4j-bench-scale"
MODEL = "synthetic"  # bench/ingest.py reads the points of the model named so
PHASES = ("baseline", "snapshot", "memory", "http", "propagation", "spof", "mc", "ingest")
DEFAULT_RECORD = REPO / ".kgtwin" / "bench" / "scale.json"
KGTWIN = Path(sys.executable).with_name("kgtwin")
TX_POLL = 0.25  # seconds between looks at Neo4j's transactions
BASELINE_NODES = 150_000
INGEST_MESSAGES = {"10k": 20_000}  # per sustained run; 100,000 at the other sizes
MB = 2**20

# The largest heap estimate of a transaction other than this one's (Neo4j 5: tracked by
# default, per transaction, as Neo4j's memory pools see it).
TRANSACTIONS: LiteralString = """
SHOW TRANSACTIONS YIELD currentQuery, estimatedUsedHeapMemory
WHERE NOT currentQuery STARTS WITH 'SHOW TRANSACTIONS'
RETURN max(estimatedUsedHeapMemory) AS heap, count(*) AS open
"""

# every $step-th node of the model by its number in the store, where its nodes of each kind
# lie together: all kinds, in their proportions
SAMPLE_NODES: LiteralString = """
MATCH (n:Twin {model: $model})
WHERE toInteger(last(split(elementId(n), ':'))) % $step = 0
RETURN n.iri AS iri, labels(n) AS labels, properties(n) AS props
LIMIT $limit
"""

WHAT_IF = """
query WhatIf($id: String!) {
  whatIf(fail: [$id]) { impactedCount impacted(first: 20) { id depth } }
}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SizeFailed(Exception):
    """A phase a size's later phases need failed (its load, say): skip the rest."""


@dataclass
class Run:
    """One size's run: where its numbers go, and what went wrong."""

    size: str
    assets: int
    args: argparse.Namespace
    values: dict[str, float]
    problems: list[str]
    env: dict[str, str]  # a subprocess's environment: this run's Neo4j

    def skip(self, phase: str) -> bool:
        return phase in self.args.skip


# --------------------------------------------------------------------------- the load


class TransactionWatch(threading.Thread):
    """Polls Neo4j's transactions until stopped; the largest heap estimate seen."""

    def __init__(self, driver: neo4j.Driver) -> None:
        super().__init__(name="bench-scale-transactions", daemon=True)
        self.driver = driver
        self.peak = 0
        self.looks = 0
        self.error: str | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        with self.driver.session() as session:
            while not self.stopped.wait(TX_POLL):
                try:
                    record = session.run(TRANSACTIONS).single()
                except neo4j.exceptions.Neo4jError as exc:
                    self.error = f"{exc.code}: {exc.message}"
                    return
                self.looks += 1
                if record is not None and record["heap"] is not None:
                    self.peak = max(self.peak, int(record["heap"]))

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)


@dataclass(frozen=True, slots=True)
class CliRun:
    status: int
    wall: float
    peak_mb: float
    report: dict[str, Any]
    stderr: str


class PeakWatch(threading.Thread):
    """A process's peak resident memory (``VmHWM``), read every 50 ms until :meth:`stop`
    (a rise in its last 50 ms is missed). Not the child's ``ru_maxrss``: a child started by
    vfork takes this process's own peak as its ``ru_maxrss`` when it execs (after a 1 GiB
    peak here, ``true`` reported 1,050 MB), so a small load measured after a large phase
    read the benchmark's peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="kgtwin-bench-peak", daemon=True)
        self.pid, self.mb = pid, 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while True:
            seen = resident_mb(self.pid, "VmHWM")  # NaN once it has exited
            if not math.isnan(seen):
                self.mb = max(self.mb, seen)
            if self._done.wait(0.05):
                return

    def stop(self) -> None:
        self._done.set()
        self.join()


def run_cli(argv: list[str], env: Mapping[str, str], timeout: float) -> CliRun:
    """``kgtwin ARGV`` in a subprocess: exit status, wall time, peak RSS, its JSON."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen([str(KGTWIN), *argv], env=dict(env), stdout=out, stderr=err)
        peak = PeakWatch(process.pid)
        peak.start()
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            process.wait()
        finally:
            killer.cancel()
            peak.stop()
            if process.poll() is None:
                process.kill()
                process.wait()
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    try:
        report = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        report = {}
    return CliRun(process.returncode, wall, peak.mb, report, errors)


WARM_LOAD = "first load again, Neo4j warm"


def load_phase(run: Run, driver: neo4j.Driver, site: Path) -> None:
    values = run.values
    timeout = 300 + run.assets * 0.01
    peak_tx = 0
    # (what, flags, whether the files are found loaded already by their digest)
    runs = (
        ("first load", [], False),
        ("reload", [], True),
        ("reload --verify", ["--verify"], False),
        (WARM_LOAD, [], False),
    )
    for label, flags, unchanged in runs:
        if label == WARM_LOAD:
            log(f"{run.size}: emptying the database ...")
            empty_database(driver)
        log(f"{run.size}: kgtwin load, {label} ...")
        watch = TransactionWatch(driver)
        watch.start()
        try:
            argv = ["load", str(site), "--model", MODEL, "--json", *flags]
            cli = run_cli(argv, run.env, timeout)
        finally:
            watch.stop()
        if watch.error:
            run.problems.append(f"{run.size} {label}: SHOW TRANSACTIONS failed: {watch.error}")
        peak_tx = max(peak_tx, watch.peak)
        values["neo4j_tx_mb"] = peak_tx / MB  # kept when the load fails
        values["load_peak_mb"] = max(values.get("load_peak_mb", 0), cli.peak_mb)
        model = cli.report.get("model") or {}
        if cli.status != 0 or not (cli.report.get("unchanged") if unchanged else model):
            tail = "\n".join(cli.stderr.strip().splitlines()[-5:])
            run.problems.append(f"{run.size} {label}: kgtwin load exited {cli.status}: {tail}")
            raise SizeFailed(f"kgtwin load failed ({label})")
        if unchanged:
            log(f"  {cli.wall:.1f} s wall, peak RSS {cli.peak_mb:,.0f} MB (nothing to do)")
            values["reload_wall_s"] = cli.wall
            continue
        log(
            f"  {cli.wall:.1f} s wall, validate {cli.report['seconds']:.1f} s, sync "
            f"{model['seconds']:.1f} s, peak RSS {cli.peak_mb:,.0f} MB, {watch.looks} looks "
            f"at Neo4j's transactions (peak {watch.peak / MB:,.1f} MB)"
        )
        if label == "first load":
            values["validate_s"] = cli.report["seconds"]
            values["load_s"] = model["seconds"]
            values["validate_load_s"] = cli.report["seconds"] + model["seconds"]
            values["load_wall_s"] = cli.wall
            values["nodes"] = float(model["nodes_created"])
        elif label == WARM_LOAD:
            values["load_warm_s"] = model["seconds"]
        else:
            values["reload_s"] = model["seconds"] + (cli.report.get("ontology") or {}).get(
                "seconds", 0.0
            )
            values["verify_wall_s"] = cli.wall
            if model.get("changed"):
                run.problems.append(f"{run.size}: the reload changed something")
    pid = neo4j_pid(NEO4J_NAME) if not os.environ.get("NEO4J_URI") else None
    if pid is not None:
        values["neo4j_rss_mb"] = resident_mb(pid, "VmHWM")


Node = tuple[str, list[str], dict[str, Any]]


def baseline_nodes(run: Run, driver: neo4j.Driver) -> list[Node]:
    """The nodes the naive loader writes: the model's, every n-th beyond BASELINE_NODES."""
    step = math.ceil(run.values["nodes"] / BASELINE_NODES)
    records, _, _ = driver.execute_query(SAMPLE_NODES, model=MODEL, step=step, limit=BASELINE_NODES)
    nodes = []
    for r in records:
        props = {k: v for k, v in r["props"].items() if k not in ("model", "modelKeys")}
        nodes.append(
            (r["iri"], ["Twin", *(label for label in r["labels"] if label != "Twin")], props)
        )
    return nodes


def baseline_phase(run: Run, nodes: list[Node]) -> None:
    log(f"{run.size}: one statement per node ...")
    ontology = Ontology.load(default_ontology_files())
    naive = naive_load(
        NEO4J_NAME, nodes, ontology, heap=run.args.heap, pagecache=run.args.pagecache
    )
    values = run.values
    values["load_baseline_s"] = naive.seconds_for(int(values["nodes"]))
    values["load_baseline_warm_s"] = values["nodes"] / naive.steady_rate
    values["load_speedup"] = values["load_baseline_s"] / values["load_s"]
    values["load_warm_speedup"] = values["load_baseline_warm_s"] / values["load_warm_s"]
    log(
        f"{run.size}: the naive loader wrote {naive.nodes:,} nodes in {naive.seconds:.1f} s, "
        f"the second half at {naive.steady_rate:,.0f} nodes/s"
    )


# ----------------------------------------------------------------------- the snapshot


def held_mb(make: Callable[[], object]) -> float:
    """MiB that ``make``'s result holds (allocations still alive when it returns)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = make()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return current / MB


def snapshot_phase(run: Run, driver: neo4j.Driver) -> whatif.Built:
    built = whatif.build(Reader(driver), run.args.builds)
    whatif.print_build(built)
    values = run.values
    median = statistics.median
    values["snapshot_read_s"] = median(built.reads)
    values["snapshot_build_s"] = median(built.pure)
    values["snapshot_s"] = median(map(sum, zip(built.reads, built.pure, strict=True)))
    values["nx_build_s"] = median(built.nx)
    values["server_snapshot_read_s"] = median(built.server_reads)
    values["server_snapshot_build_s"] = median(built.server_pure)
    values["server_snapshot_s"] = median(
        map(sum, zip(built.server_reads, built.server_pure, strict=True))
    )
    if not run.skip("memory"):
        types = built.terms.dependency_types
        reversed_types = built.terms.reversed_types(types)
        version = built.snapshot.version
        log(f"{run.size}: the snapshot's memory (tracemalloc) ...")
        values["snapshot_mb"] = held_mb(
            lambda: build_snapshot(built.edges, types, reversed_types, version, built.assets)
        )
        log(f"{run.size}: networkx's memory (tracemalloc) ...")
        values["nx_mb"] = held_mb(
            lambda: whatif.nx_build(built.edges, reversed_types, built.assets)
        )
    return built


# ------------------------------------------------------------------------- the server


@contextmanager
def serving(run: Run, output: TextIO) -> Iterator[tuple[httpx.Client, int]]:
    """``kgtwin serve`` on a free port (anonymous read, no rate limit) once its dependency
    snapshot is built; its client and pid. Stopped on exit."""
    (port,) = free_ports(1)
    env = {**run.env, "KGTWIN_ANONYMOUS_READ": "true", "KGTWIN_RATE_LIMIT": "0"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(KGTWIN), "serve", "--port", str(port)], env=env, stdout=output, stderr=output
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise SizeFailed(f"kgtwin serve exited {process.returncode}")
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SizeFailed("kgtwin serve did not listen in 60 s") from None
                    time.sleep(0.2)
            query.wait_for_graph_cache(client, timeout=120 + run.assets * 0.002)
            run.values["server_ready_s"] = time.perf_counter() - started
            yield client, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def what_if_case(
    client: httpx.Client, cypher: whatif.CypherWhatIf, what: str, node_id: str, iri: str
) -> tuple[query.Case, int]:
    """A single failure over HTTP and by Cypher (var-length), checked; the down count."""
    case = query.Case(
        f"whatIf {what} {node_id}",
        lambda: query.graphql(client, WHAT_IF, id=node_id)["whatIf"],
        lambda: cypher.down_var_length(iri),
    )
    api, raw = case.ask_api(), case.ask_raw()
    if api["impactedCount"] != len(raw) - 1:
        raise SystemExit(
            f"whatIf {node_id}: the API impacts {api['impactedCount']}, Cypher {len(raw) - 1}"
        )
    case.answer = f"{len(raw) - 1:,} impacted"
    return case, len(raw)


def http_phase(run: Run, driver: neo4j.Driver, built: whatif.Built, folder: Path) -> None:
    cypher = whatif.CypherWhatIf(driver, built.terms)
    snapshot = built.snapshot
    starts = whatif.pick_starts(snapshot, random.Random(run.args.seed))
    with (folder / "serve.log").open("w") as output, serving(run, output) as (client, pid):
        run.values["server_rss_mb"] = resident_mb(pid)
        log(f"{run.size}: server RSS {run.values['server_rss_mb']:,.0f} MB; checking answers ...")
        walk, _ = query.dependency_walk(driver)
        downstream = [
            query.downstream_case(client, driver, start, what, walk, None)
            for start, what in query.STARTS
        ]
        reached = [len(case.ask_raw()[0]["ids"]) for case in downstream]
        checked = [
            what_if_case(client, cypher, what, snapshot.ids[node], snapshot.iris[node])
            for what, node in starts
        ]
        cases = query.measure(client, downstream + [case for case, _ in checked], run.args.repeat)
    p50, p95 = query.p50, query.p95
    values = run.values
    worst = max(downstream, key=lambda c: p95(c.api))
    values["downstream_p50_ms"], values["downstream_p95_ms"] = p50(worst.api), p95(worst.api)
    values["downstream_raw_p50_ms"], values["downstream_raw_p95_ms"] = (
        p50(worst.raw),
        p95(worst.raw),
    )
    values["downstream_overhead"] = max(p50(c.api) / p50(c.raw) for c in downstream)
    values["downstream_nodes"] = float(max(reached))
    asks = cases[len(downstream) :]
    slowest = max(asks, key=lambda c: p95(c.api))
    values["whatif_p50_ms"] = p50([t for c in asks for t in c.api])
    values["whatif_raw_p50_ms"] = p50([t for c in asks for t in c.raw])
    values["whatif_p95_ms"], values["whatif_raw_p95_ms"] = p95(slowest.api), p95(slowest.raw)
    values["whatif_down"] = float(max(down for _, down in checked))
    print(f"\n{run.size}: over HTTP (ms, {run.args.repeat} rounds, interleaved with raw Cypher):")
    print(f"{'question':42}{'API P50':>9}{'P95':>8}{'raw P50':>9}{'P95':>8}  answer")
    for case in cases:
        print(
            f"{case.name:42}{p50(case.api):>9.1f}{p95(case.api):>8.1f}{p50(case.raw):>9.1f}"
            f"{p95(case.raw):>8.1f}  {case.answer}"
        )


# ------------------------------------------------------------------- what-if in-process


def propagation_phase(run: Run, built: whatif.Built, cypher: whatif.CypherWhatIf) -> None:
    starts = whatif.propagation(built, cypher, run.args.propagation_repeat, run.args.seed)
    overall = whatif.print_propagation(starts)
    p50 = query.p50
    kg = p50(overall[whatif.KGTWIN])
    slowest = max(starts, key=lambda s: p50(s.times[whatif.KGTWIN]))
    values = run.values
    values["propagation_p50_ms"] = kg
    values["propagation_cypher_p50_ms"] = min(p50(overall[m]) for m in whatif.CYPHER_METHODS)
    values["propagation_slowest_p50_ms"] = p50(slowest.times[whatif.KGTWIN])
    values["propagation_slowest_cypher_p50_ms"] = whatif.best_cypher(slowest)
    values["propagation_ratio"] = values["propagation_cypher_p50_ms"] / kg
    values["propagation_least_ratio"] = min(
        whatif.best_cypher(s) / p50(s.times[whatif.KGTWIN]) for s in starts
    )
    run.problems += [
        f"{run.size} propagation from {s.id}: {s.mismatch}" for s in starts if s.mismatch
    ]


def spof_phase(run: Run, built: whatif.Built, cypher: whatif.CypherWhatIf) -> None:
    found = whatif.spofs(built, cypher, run.args.seed)
    whatif.print_spofs(found)
    slowest = max(found, key=lambda f: f.times[whatif.KGTWIN])
    run.values["spof_s"] = slowest.times[whatif.KGTWIN]
    run.values["nx_spof_s"] = slowest.times[whatif.NETWORKX]
    run.values["spof_ancestors"] = float(max(f.ancestors for f in found))
    run.problems += [f"{run.size} SPOF of {f.id}: {f.mismatch}" for f in found if f.mismatch]


def mc_phase(run: Run, built: whatif.Built) -> None:
    mc = whatif.trials(built, 3, 1_000, 1_000, run.args.seed, 1.0)
    whatif.print_trials([mc])
    run.values["mc_s"] = statistics.median(mc.kgtwin)
    run.values["nx_mc_s"] = mc.nx_seconds


# -------------------------------------------------------------------------- ingestion


def ingest_phase(run: Run, driver: neo4j.Driver) -> None:
    messages = INGEST_MESSAGES.get(run.size, 100_000)
    args = ingest.parse_args(
        ["--sites", MODEL, "--messages", str(messages), "--repeat", str(run.args.ingest_repeat)]
    )
    install_mosquitto()
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-mqtt-") as folder:
        (port,) = free_ports(1)
        with LocalBroker(Path(folder), port) as broker:
            bench = ingest.Bench(broker, driver, args, neo4j_pid(NEO4J_NAME))
            site = ingest.read_site(driver, MODEL)
            log(f"{run.size}: {len(site.points):,} points; warming Neo4j up ...")
            ingest.warm_up_neo4j(driver, site)
            runs = [ingest.sustained(bench, site, k) for k in range(1, args.repeat + 1)]
            median = ingest.median_of(runs)
            fresh = ingest.freshness(bench, site)
            base = ingest.baseline(bench, site)
    phases = [*runs, median, fresh, base]
    ingest.report(phases, args)
    run.values["ingest_rate"] = median.rate
    run.values["ingest_baseline_rate"] = base.rate
    run.values["ingest_ratio"] = median.rate / base.rate
    p95 = fresh.percentile(95)
    if p95 is not None:
        run.values["ingest_fresh_p95_ms"] = p95
    run.problems += [f"{run.size} ingest {p.name}: {x}" for p in phases for x in p.problems]


# ------------------------------------------------------------------------------ a size


def cpu_probe() -> float:
    """The seconds a fixed pure-Python loop takes: how fast the host's CPU is now (on this
    virtual machine it has varied by two between days)."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def memory_probe() -> float:
    """The seconds a fixed random gather over 128 MiB takes (numpy, far beyond the CPU's
    caches): how fast the host's memory answers now. On this virtual machine it can slow
    down by a third within a run while the CPU probe does not move; the snapshot and the
    what-if, which walk large arrays, move with it."""
    values = np.arange(1 << 24, dtype=np.int64)
    order = np.random.default_rng(1).permutation(len(values))
    started = time.perf_counter()
    for _ in range(3):
        values[order].sum()
    return time.perf_counter() - started


def run_size(run: Run) -> None:
    with tempfile.TemporaryDirectory(prefix=f"kgtwin-bench-scale-{run.size}-") as tmp:
        folder = Path(tmp)
        site = folder / "synthetic.ttl"
        started = time.perf_counter()
        size = write_site(site, run.assets, 3 * run.assets)
        run.values["generate_s"] = time.perf_counter() - started
        log(
            f"{run.size}: generated {size.assets:,} assets, {size.nodes:,} nodes, "
            f"{size.relationships:,} relationships in {run.values['generate_s']:.1f} s"
        )
        heap, pagecache = run.args.heap, run.args.pagecache
        server = neo4j_server(NEO4J_NAME, heap=heap, pagecache=pagecache, fresh=True)
        with server as (uri, user, password):
            run.env.update(NEO4J_URI=uri, NEO4J_USER=user, NEO4J_PASSWORD=password or "")
            driver = open_driver(uri, user, password)
            try:
                log(f"{run.size}: emptying the database ...")
                empty_database(driver)
                load_phase(run, driver, site)
                site.unlink()  # 280 MB at 1M assets
                what_if_phases = ("snapshot", "http", "propagation", "spof", "mc")
                if not all(run.skip(p) for p in what_if_phases):
                    built = snapshot_phase(run, driver)
                    cypher = whatif.CypherWhatIf(driver, built.terms)
                    if not run.skip("http"):
                        http_phase(run, driver, built, folder)
                    if not run.skip("propagation"):
                        propagation_phase(run, built, cypher)
                    if not run.skip("spof"):
                        spof_phase(run, built, cypher)
                    if not run.skip("mc"):
                        mc_phase(run, built)
                    del built, cypher
                if not run.skip("ingest"):
                    ingest_phase(run, driver)
                naive_nodes = [] if run.skip("baseline") else baseline_nodes(run, driver)
            finally:
                driver.close()
        if naive_nodes:
            baseline_phase(run, naive_nodes)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1m", help="comma-separated: 10k,100k,1m")
    parser.add_argument("--skip", default="", help=f"phases to leave out: {','.join(PHASES)}")
    parser.add_argument("--heap", help="Neo4j's heap, e.g. 3g (default: from the machine)")
    parser.add_argument("--pagecache", help="Neo4j's page cache (default: from the machine)")
    parser.add_argument("--record", type=Path, default=DEFAULT_RECORD, help="where to record")
    parser.add_argument("--compare", type=Path, help="a recorded run (default: --record's)")
    parser.add_argument("--no-record", action="store_true", help="record nothing")
    parser.add_argument("--repeat", type=int, default=50, help="rounds per HTTP question")
    parser.add_argument("--builds", type=int, default=3, help="snapshot builds (the median)")
    parser.add_argument("--propagation-repeat", type=int, default=10, help="runs per start")
    parser.add_argument("--ingest-repeat", type=int, default=3, help="sustained runs")
    parser.add_argument("--seed", type=int, default=1, help="which starts and targets")
    args = parser.parse_args()
    try:
        args.sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        parser.error(str(exc))
    args.skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    if args.skip - set(PHASES):
        parser.error(f"--skip: some of {', '.join(PHASES)}")
    if args.repeat < 20 or args.propagation_repeat < 5 or not 1 <= args.ingest_repeat <= 9:
        parser.error("--repeat: at least 20; --propagation-repeat: 5; --ingest-repeat: 1-9")
    if not 1 <= args.builds <= 9:
        parser.error("--builds: 1-9")
    return args


def about(args: argparse.Namespace) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": f"{os.cpu_count()} CPUs, {memory:.0f} GiB",
        "neo4j": f"heap {args.heap or 'from the machine'}, page cache "
        f"{args.pagecache or 'from the machine'}",
        "skipped": sorted(args.skip),
    }


def main() -> None:
    args = parse_args()
    compare_path = args.compare or args.record
    try:
        document = read_record(compare_path)
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"--compare: {exc}") from exc
    recorded = recorded_values(document)
    env = {k: v for k, v in os.environ.items() if k != "KGTWIN_CONFIG"}
    results: Results = {}
    problems: list[str] = []
    for size in args.sizes:
        run = Run(size, SIZES[size], args, results.setdefault(size, {}), problems, dict(env))
        log(f"load average at the start of {size}: {os.getloadavg()[0]:.2f}")
        run.values["cpu_probe_s"] = cpu_probe()
        run.values["memory_probe_s"] = memory_probe()
        log(
            f"CPU probe: {run.values['cpu_probe_s']:.2f} s; "
            f"memory probe: {run.values['memory_probe_s']:.2f} s"
        )
        try:
            run_size(run)
        except SizeFailed as exc:
            problems.append(f"{size}: {exc}; its later phases did not run")
        run.values["memory_probe_end_s"] = memory_probe()
        print(f"\n{size} ({SIZES[size]:,} assets):")
        print("\n".join(size_table(size, results[size])), flush=True)
    print()
    print("\n".join(final_table(results, recorded)))
    print()
    print("\n".join(goal_lines(results, recorded)))
    changes = change_lines(results, recorded)
    if changes:
        print()
        print("\n".join(changes))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if not args.no_record:
        described = {**about(args), "problems": problems}
        write_record(args.record, record(read_record(args.record), results, described))
        print(f"recorded in {args.record}")
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
