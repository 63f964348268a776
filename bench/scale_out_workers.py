"""Benchmark: one ingestion worker against three in a share group (MQTT shared
subscriptions), on the synthetic site: throughput and CPU per message of each, zero loss
checked in every run.

Each worker is a real ``kgtwin ingest`` process (history off), so that its CPU is its own
(``/proc``): one without a share group (as a single worker runs), three with
``--share-group``, each with its own client id. As in ``bench/ingest.py``: a local
Mosquitto with kgtwin's raised limits (``devkit.broker.LocalBroker``), the publisher a
child process (``bench/mqtt_flood.py``, QoS 1, every PUBACK checked) that publishes
``--messages`` values round robin over the site's double points (one per rack), all at once
(the broker queues what the workers have not taken). Throughput = messages / (last outcome
- first publish). CPU per message = the workers' CPU seconds together (from just before
the first publish to the last outcome) / messages; Mosquitto's and Neo4j's are printed
beside it. Zero loss = every PUBACK arrived, the workers' outcomes add up to the messages
(applied + outdated, nothing dead-lettered) and every point holds the value and time of the
last message published to it.

On a 2-core machine three workers cannot be faster than one (they share the cores with
Neo4j and Mosquitto); what the run shows is whether three cost more CPU per message than
one: if not, adding workers on machines of their own adds their throughput.

    .venv/bin/python bench/scale_out_workers.py [--messages 50000] [--assets 100000]
        [--repeat 1]

``run(...)`` is what ``bench/scale_out.py`` calls. Neo4j: NEO4J_URI if set, else a local
server started for the run (``bench/neo4j_server.py``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from neo4j import Driver  # noqa: E402

from bench.cpu import machine_busy, process_cpu  # noqa: E402
from bench.ingest import (  # noqa: E402
    OUTCOMES,
    Bench,
    Phase,
    Site,
    check_final_state,
    clear_live_values,
    load_sites,
    log,
    read_site,
    warm_up_neo4j,
)
from bench.mqtt_flood import FloodResult, clear_session  # noqa: E402
from bench.neo4j_server import neo4j_pid, neo4j_server  # noqa: E402
from kgtwin.devkit.broker import LocalBroker, install_mosquitto  # noqa: E402
from kgtwin.devkit.launcher import free_ports  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402

NEO4J_NAME = "neo4j-bench-scale-out"
KGTWIN = Path(sys.executable).with_name("kgtwin")
POLL = 0.25  # seconds between scrapes of the workers' metrics (each costs them a little)
WARM_UP = 2_000  # messages before each measured run (not measured)
SAMPLE = re.compile(r'^kgtwin_ingest_messages_total\{outcome="(\w+)"\} ([0-9.e+]+)$', re.M)


@dataclass
class Worker:
    """A ``kgtwin ingest`` process and the port of its metrics."""

    client_id: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def outcomes(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        found = dict.fromkeys((*OUTCOMES, "dropped"), 0.0)
        for outcome, value in SAMPLE.findall(text):
            found[outcome] = float(value)
        return found

    def settled(self) -> float:
        outcomes = self.outcomes()
        return sum(outcomes[o] for o in OUTCOMES)


@dataclass(slots=True)
class Run:
    workers: int
    messages: int = 0
    seconds: float = 0.0
    worker_cpu: float = 0.0  # the workers' CPU seconds together
    cpu: dict[str, float] = field(default_factory=dict)  # mosquitto, neo4j, publisher
    machine: tuple[float, float] | None = None  # busy, total CPU seconds of the machine
    split: list[dict[str, float]] = field(default_factory=list)  # outcomes per worker
    problems: list[str] = field(default_factory=list)  # zero-loss violations
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_message(self) -> float:
        return self.worker_cpu / self.messages * 1e6 if self.messages else float("nan")


def start_workers(
    count: int, bench: Bench, neo4j: tuple[str, str, str | None], folder: Path
) -> list[Worker]:
    """``count`` ``kgtwin ingest`` processes, subscribed; in one share group when several."""
    uri, user, password = neo4j
    env = {
        **os.environ,
        "NEO4J_URI": uri,
        "NEO4J_USER": user,
        "NEO4J_PASSWORD": password or "",
        "KGTWIN_MQTT_URL": bench.address.url,
        "KGTWIN_HISTORY": "false",
    }
    group = ["--share-group", f"bench-{uuid.uuid4().hex[:8]}"] if count > 1 else []
    workers = []
    for n in range(count):
        client_id = f"bench-scale-out-{n}-{uuid.uuid4().hex[:8]}"
        (port,) = free_ports(1)
        log_file = folder / f"{client_id}.log"
        with log_file.open("w") as stderr:
            process = subprocess.Popen(
                [str(KGTWIN), "--log-level", "INFO", "ingest", "--client-id", client_id,
                 "--metrics-port", str(port), *group],
                env=env, stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        workers.append(Worker(client_id, port, process, log_file))
    deadline = time.monotonic() + 120
    for worker in workers:
        while "subscribed to" not in worker.log.read_text():
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"a worker did not start:\n{worker.log.read_text()[-2000:]}")
            time.sleep(0.1)
    return workers


def stop_workers(workers: Sequence[Worker], bench: Bench) -> None:
    for worker in workers:
        worker.process.terminate()
    for worker in workers:
        try:
            worker.process.wait(30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(10)
        address = bench.address
        clear_session(address.host, address.port, worker.client_id)


def settle(workers: Sequence[Worker], base: float, expected: int, timeout: float) -> float:
    """Wait until the workers have settled ``expected`` more than ``base``; the time the
    last of them did (epoch)."""
    deadline = time.monotonic() + timeout
    seen, last_change = 0.0, time.time()
    while seen < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expected - seen:,.0f} of {expected:,} messages have no outcome")
        time.sleep(POLL)
        now = sum(w.settled() for w in workers) - base
        if now != seen:
            seen, last_change = now, time.time()
    return last_change


def measure(
    bench: Bench,
    site: Site,
    neo4j: tuple[str, str, str | None],
    count: int,
    messages: int,
    folder: Path,
) -> Run:
    """One run: ``count`` workers, a warm-up, then ``messages`` published at once."""
    run = Run(count)
    clear_live_values(bench.driver)
    workers = start_workers(count, bench, neo4j, folder)
    try:
        warm = bench.flood(site, site.values(WARM_UP), rate=0)
        settle(workers, 0, warm.sent, 120)
        before = [w.outcomes() for w in workers]
        base = sum(sum(b[o] for o in OUTCOMES) for b in before)
        pids = {"mosquitto": bench.pids["mosquitto"], "neo4j": bench.pids["neo4j"]}
        cpu0 = {name: process_cpu(pid) for name, pid in pids.items()}
        workers0 = [process_cpu(w.process.pid) for w in workers]
        machine0 = machine_busy()
        values = site.values(messages)
        log(f"{count} worker(s): {messages:,} messages ...")
        result = bench.flood(site, values, rate=0)
        finished = settle(workers, base, result.sent, max(120.0, result.sent / 200))
        workers1 = [process_cpu(w.process.pid) for w in workers]
        cpu1 = {name: process_cpu(pid) for name, pid in pids.items()}
        machine1 = machine_busy()
        run.messages, run.seconds = result.sent, finished - result.first_sent
        run.worker_cpu = sum(b - a for a, b in zip(workers0, workers1, strict=True))  # type: ignore[operator]
        run.cpu = {
            name: cpu1[name] - was  # type: ignore[operator]
            for name, was in cpu0.items()
            if was is not None and cpu1[name] is not None
        }
        if result.cpu_seconds is not None:
            run.cpu["publisher"] = result.cpu_seconds
        if machine0 is not None and machine1 is not None:
            run.machine = (machine1[0] - machine0[0], machine1[1] - machine0[1])
        after = [w.outcomes() for w in workers]
        run.split = [{k: a[k] - b[k] for k in a} for a, b in zip(after, before, strict=True)]
        check(run, result)
    finally:
        stop_workers(workers, bench)
    phase = Phase(site.name, f"{count} worker(s)")
    check_final_state(bench, phase, site, values, result)
    run.problems += phase.problems
    run.notes += phase.notes
    return run


def check(run: Run, result: FloodResult) -> None:
    """Zero loss by the counts: every PUBACK, and every message settled once."""
    total = {k: sum(s[k] for s in run.split) for k in run.split[0]}
    if not result.complete:
        run.problems.append(f"{result.acked:,} PUBACKs for {result.sent:,} messages")
    if total["applied"] + total["outdated"] != result.sent:
        run.problems.append(
            f"applied {total['applied']:,.0f} + outdated {total['outdated']:,.0f} != "
            f"published {result.sent:,}"
        )
    if total["deadlettered"] or total["ignored"]:
        run.problems.append(f"{total['deadlettered']:,.0f} dead-lettered")


def run(
    driver: Driver,
    neo4j: tuple[str, str, str | None],
    site_name: str = "synthetic",
    messages: int = 50_000,
    repeat: int = 1,
    worker_counts: Sequence[int] = (1, 3),
) -> list[Run]:
    """Each count of workers ``repeat`` times, alternating, on a broker of its own; the
    site must be loaded. The runs, in order."""
    install_mosquitto()
    site = read_site(driver, site_name)
    log(f"{site_name}: {len(site.points):,} double points; warming Neo4j up ...")
    warm_up_neo4j(driver, site)
    runs = []
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-scale-out-") as tmp:
        (port,) = free_ports(1)
        with LocalBroker(Path(tmp) / "broker", port) as broker:
            bench = Bench(broker, driver, argparse.Namespace(), neo4j_pid(NEO4J_NAME))
            for _ in range(repeat):
                for count in worker_counts:
                    runs.append(measure(bench, site, neo4j, count, messages, Path(tmp)))
    return runs


def report(runs: Sequence[Run]) -> bool:
    """Print the runs side by side; True when every run lost nothing and more workers
    cost no more CPU per message than one (10% for the machine's noise)."""
    print()
    print(
        f"{'workers':>7} {'messages':>9} {'seconds':>8} {'msgs/s':>8} {'worker CPU s':>12} "
        f"{'µs CPU/msg':>10} {'mosquitto µs/msg':>16} {'neo4j µs/msg':>12}  zero loss"
    )
    for r in runs:
        per = {k: v / r.messages * 1e6 for k, v in r.cpu.items()} if r.messages else {}
        print(
            f"{r.workers:>7} {r.messages:>9,} {r.seconds:>8.1f} {r.rate:>8,.0f} "
            f"{r.worker_cpu:>12.1f} {r.cpu_us_per_message:>10.0f} "
            f"{per.get('mosquitto', float('nan')):>16.0f} {per.get('neo4j', float('nan')):>12.0f}"
            f"  {'yes' if not r.problems else 'NO: ' + '; '.join(r.problems)}"
        )
        shares = ", ".join(_share(s) for s in r.split)
        busy = f"; machine busy {r.machine[0]:.1f} of {r.machine[1]:.1f} CPU s" if r.machine else ""
        publisher = r.cpu.get("publisher")
        extra = f"; publisher {publisher:.1f} CPU s" if publisher is not None else ""
        print(f"        split: {shares}{busy}{extra}; {'; '.join(r.notes)}")
    ok = all(not r.problems for r in runs)
    one = [r.cpu_us_per_message for r in runs if r.workers == 1]
    more = [r for r in runs if r.workers > 1]
    if one and more:
        base = min(one)
        for r in more:
            ratio = r.cpu_us_per_message / base
            verdict = "ok" if ratio <= 1.1 else "MORE"
            print(
                f"{r.workers} workers: {ratio:.2f}x one worker's CPU per message, "
                f"{r.rate / max(x.rate for x in runs if x.workers == 1):.2f}x its throughput "
                f"(goal: CPU per message <= 1.1x: {verdict})"
            )
            ok = ok and ratio <= 1.1
    return ok


def _share(outcomes: dict[str, float]) -> str:
    dropped = f" ({outcomes['dropped']:,.0f} dropped)" if outcomes["dropped"] else ""
    return f"{outcomes['applied'] + outcomes['outdated']:,.0f}{dropped}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000, help="per run")
    parser.add_argument("--assets", type=int, default=100_000, help="of the synthetic site")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each")
    args = parser.parse_args()
    if not 1_000 <= args.messages <= 1_000_000 or not 1 <= args.repeat <= 9:
        parser.error("--messages: 1,000 to 1,000,000; --repeat: 1 to 9")
    log(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with neo4j_server(NEO4J_NAME, heap="2g", pagecache="1g") as neo4j:
        driver = open_driver(*neo4j)
        try:
            load_sites(driver, ["synthetic"], args.assets, args.assets * 3)
            runs = run(driver, neo4j, messages=args.messages, repeat=args.repeat)
        finally:
            driver.close()
    log(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sys.exit(0 if report(runs) else 1)


if __name__ == "__main__":
    main()
