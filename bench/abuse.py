"""Cheap-query latency under each attack of the API hardening review, before and after.

Runs ``kgtwin serve`` (anonymous read off, settings as shipped) with the example site on a
Neo4j of its own, and for each attack of ``tests/server/attacks.py``: a fresh server, the
attack's threads, and a stream of cheap queries (``asset(id:)`` by a viewer) timed for
``--seconds``. With ``--before REF`` the same runs go against the code at that git ref too
(a worktree, started from the same virtualenv), side by side. Prints, per attack, the
cheap queries' P50 / P95 / max, how many failed, how the attack's requests ended, and
the server's resident memory after.

``--prices`` instead prints each expensive field's estimated cost beside the time it
took, on the example site and on a synthetic site of ``--assets`` built in memory.

    .venv/bin/python bench/abuse.py --before 8e39868 --seconds 10
    .venv/bin/python bench/abuse.py --prices
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.cpu import resident_mb  # noqa: E402
from bench.neo4j_server import empty_database, neo4j_server  # noqa: E402
from kgtwin.devkit.launcher import free_ports  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402
from kgtwin.graph.tokens import create_token  # noqa: E402
from kgtwin.ontology.files import default_ontology_files  # noqa: E402
from kgtwin.ontology.validate import Ontology  # noqa: E402
from kgtwin.server.loading import load_model  # noqa: E402
from tests.server.attacks import SCENARIOS, Run, Scenario, Target, measure  # noqa: E402

DC1 = REPO / "ontology" / "sites" / "dc1.ttl"
SERVE = "import sys; from kgtwin.server.cli import main; sys.exit(main())"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def server(tree: Path, env: dict[str, str], tokens: Target) -> Iterator[tuple[Target, int]]:
    """``kgtwin serve`` from the code in ``tree``; yields it once it answers a viewer."""
    (port,) = free_ports(1)
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", str(port)],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = Target(f"http://127.0.0.1:{port}", tokens.token, tokens.cheap_token)
    try:
        wait_until_ready(target, process)
        yield target, process.pid
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def wait_until_ready(target: Target, process: subprocess.Popen[bytes]) -> None:
    """Until a viewer's what-if answers: the server listens and has built its snapshot."""
    query = {"query": '{ whatIf(fail: ["ups-a1"]) { impactedCount } }'}
    headers = {"authorization": f"Bearer {target.token}"}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("kgtwin serve exited before it answered")
        try:
            body = httpx.post(f"{target.base}/graphql", json=query, headers=headers).json()
            if "errors" not in body:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("kgtwin serve did not answer within 90 s")


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """The code at ``ref``, checked out beside this one (removed afterwards)."""
    path = Path(tempfile.mkdtemp(prefix="kgtwin-before-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=REPO, check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)


def run_all(
    trees: dict[str, Path], env: dict[str, str], tokens: Target, seconds: float, pause: float
) -> dict[tuple[str, str], tuple[Run, float]]:
    results: dict[tuple[str, str], tuple[Run, float]] = {}
    for scenario in SCENARIOS:
        for label, tree in trees.items():
            log(f"{label}: {scenario.name} ...")
            with server(tree, env, tokens) as (target, pid):
                run = measure(target, scenario, seconds, attack_pause=pause)
                results[(scenario.name, label)] = (run, resident_mb(pid))
    return results


def row(scenario: Scenario, label: str, run: Run, memory: float) -> str:
    ms = [1000 * x for x in (run.p50, run.p95, max(run.latencies, default=float("nan")))]
    failed = sum(run.cheap_failures.values())
    outcomes = ", ".join(f"{n} x {o}" for o, n in run.outcomes.most_common(3)) or "-"
    return (
        f"| {scenario.name} | {label} | {len(run.latencies)} | {ms[0]:.1f} | {ms[1]:.1f} | "
        f"{ms[2]:.0f} | {failed} | {memory:.0f} | {outcomes} |"
    )


def attacks(args: argparse.Namespace) -> None:
    with neo4j_server("bench-abuse", heap="1g", pagecache="256m") as (uri, user, password):
        driver = open_driver(uri, user, password)
        try:
            empty_database(driver)
            ontology = Ontology.load(default_ontology_files())
            assert load_model(driver, [DC1], "dc1", ontology).report.ok
            token = create_token(driver, "viewer", "bench-abuse").token
            cheap = create_token(driver, "viewer", "bench-cheap").token
        finally:
            driver.close()
        env = {**os.environ, "NEO4J_URI": uri, "NEO4J_USER": user}
        env["NEO4J_PASSWORD"] = password or ""
        env.pop("KGTWIN_CONFIG", None)
        with worktree(args.before) if args.before else _nothing() as before:
            trees = {"after": REPO} if before is None else {"before": before, "after": REPO}
            tokens = Target("", token, cheap)
            results = run_all(trees, env, tokens, args.seconds, args.attack_pause)
    pace = "back to back" if not args.attack_pause else f"{args.attack_pause:g} s apart"
    print(
        f"\nCheap query (asset by id, a viewer) for {args.seconds:g} s beside each attack "
        f"(each attacking thread's requests {pace}); a fresh server per run.\n"
    )
    print(
        "| attack | code | cheap queries | P50 ms | P95 ms | max ms | cheap failed | "
        "RSS MB after | attack's requests |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for scenario in SCENARIOS:
        for label in ("before", "after"):
            if (scenario.name, label) in results:
                run, memory = results[(scenario.name, label)]
                print(row(scenario, label, run, memory))


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="a git ref to run beside the working tree")
    parser.add_argument("--seconds", type=float, default=10.0, help="per attack (default 10)")
    parser.add_argument(
        "--attack-pause",
        type=float,
        default=0.05,
        help="seconds between one attacking thread's requests (default 0.05; 0: a flood)",
    )
    parser.add_argument(
        "--prices", action="store_true", help="print estimated costs beside measured times"
    )
    parser.add_argument("--assets", type=int, default=20_000, help="--prices' synthetic site")
    args = parser.parse_args()
    if args.prices:
        from bench.prices import print_prices

        print_prices(args.assets)
    else:
        attacks(args)


if __name__ == "__main__":
    main()
