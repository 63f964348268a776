"""Benchmark: scaling out, in three parts on one Neo4j, each beside its baseline.

- **workers** (``bench/scale_out_workers.py``): one ingestion worker against three in a
  share group on the synthetic site, throughput and CPU per message each, zero loss checked
  in every run;
- **events** (``bench/scale_out_events.py``): the events per second one server delivers to
  100 GraphQL subscribers, against 1 subscriber;
- **risk** (``bench/scale_out_risk.py``): from the MQTT message that reports a UPS fault to
  the risk event, P50/P95 on dc1 (goal < 1 s) and on the synthetic site with a fault point
  per UPS (goal < 2 s at 100k assets), against one ``whatIf`` over HTTP.

``--parts`` picks some; ``--quick`` sizes the run for a few minutes (a 20,000-asset
synthetic site, fewer messages, rates and iterations: the 2 s goal is judged at 100k
only). The synthetic site is loaded once, with its UPS fault points (the workers part
publishes to its double points only). Each part prints its own table; a summary follows.

    .venv/bin/python bench/scale_out.py [--parts workers,events,risk] [--quick]
        [--assets 100000] [--messages 50000] [--rates 25,50,100,200,400,800]
        [--seconds 8] [--iterations 40] [--risk-sites dc1,synthetic]

Neo4j: NEO4J_URI if set, else a local server started for the run (``--heap``,
``--pagecache``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import scale_out_events as events  # noqa: E402
from bench import scale_out_risk as risk  # noqa: E402
from bench import scale_out_workers as workers  # noqa: E402
from bench.ingest import log  # noqa: E402
from bench.neo4j_server import neo4j_pid, neo4j_server  # noqa: E402
from kgtwin.graph.connection import open_driver  # noqa: E402

NEO4J_NAME = "neo4j-bench-scale-out-all"
PARTS = ("workers", "events", "risk")
QUICK = {"assets": 20_000, "messages": 20_000, "rates": "25,50,100,200", "seconds": 4.0}
QUICK_ITERATIONS = 20
FULL = {"assets": 100_000, "messages": 50_000, "rates": "25,50,100,200,400,800", "seconds": 8.0}
FULL_ITERATIONS = 40


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS)
    )
    parser.add_argument("--quick", action="store_true", help="sizes for a few-minute run")
    parser.add_argument("--assets", type=int, help="of the synthetic site (100,000; quick 20,000)")
    parser.add_argument("--messages", type=int, help="per workers run (50,000; quick 20,000)")
    parser.add_argument("--repeat", type=int, default=1, help="workers runs of each count")
    parser.add_argument("--rates", help="events: messages/s, ascending")
    parser.add_argument("--seconds", type=float, help="events: seconds per step")
    parser.add_argument("--subscribers", type=int, default=100, help="events")
    parser.add_argument("--iterations", type=int, help="risk: per site (40; quick 20)")
    parser.add_argument("--risk-sites", default="dc1,synthetic", help="risk: dc1 and/or synthetic")
    parser.add_argument("--heap", default="3g")
    parser.add_argument("--pagecache", default="2g")
    args = parser.parse_args(argv)
    args.parts = args.parts.split(",")
    if not args.parts or any(p not in PARTS for p in args.parts):
        parser.error(f"--parts: some of {', '.join(PARTS)}")
    sizes = QUICK if args.quick else FULL
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.iterations is None:
        args.iterations = QUICK_ITERATIONS if args.quick else FULL_ITERATIONS
    args.rates = events.rates_of(parser, args.rates)
    args.risk_sites = args.risk_sites.split(",")
    if any(s not in risk.GOAL_S for s in args.risk_sites):
        parser.error("--risk-sites: dc1 and/or synthetic")
    if not 1_000 <= args.assets <= 1_000_000 or not 1_000 <= args.messages <= 1_000_000:
        parser.error("--assets and --messages: 1,000 to 1,000,000")
    if not 2 <= args.iterations <= 1_000 or not 1 <= args.repeat <= 9:
        parser.error("--iterations: 2 to 1,000; --repeat: 1 to 9")
    return args


def main() -> None:
    args = parse_args()
    log(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    summary: list[str] = []
    with neo4j_server(NEO4J_NAME, heap=args.heap, pagecache=args.pagecache) as neo4j:
        driver = open_driver(*neo4j)
        try:
            risky = "risk" in args.parts
            if "workers" in args.parts or (risky and "synthetic" in args.risk_sites):
                risk.load_site(driver, "synthetic", args.assets)
            if "events" in args.parts or (risky and "dc1" in args.risk_sites):
                risk.load_site(driver, "dc1", args.assets)
            if "workers" in args.parts:
                # scale_out_workers reads Neo4j's pid by its own instance name: this one's
                workers.NEO4J_NAME = NEO4J_NAME
                runs = workers.run(driver, neo4j, messages=args.messages, repeat=args.repeat)
                ok = workers.report(runs)
                summary += _workers_summary(runs, ok)
            if "events" in args.parts:
                steps = events.run(
                    driver,
                    neo4j,
                    args.rates,
                    args.seconds,
                    args.subscribers,
                    neo4j_pid=neo4j_pid(NEO4J_NAME),
                )
                summary += events.report(steps, args.subscribers)
            if "risk" in args.parts:
                runs_risk = risk.run(driver, neo4j, args.risk_sites, args.iterations, args.assets)
                summary += risk.report(runs_risk)
                if args.assets != 100_000 and "synthetic" in args.risk_sites:
                    summary.append(
                        f"risk: the synthetic site had {args.assets:,} assets; its 2 s goal is "
                        "for 100,000"
                    )
        finally:
            driver.close()
    log(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\nsummary")
    for line in summary:
        print(f"  {line}")


def _workers_summary(runs: Sequence[workers.Run], ok: bool) -> list[str]:
    lines = []
    for r in runs:
        lines.append(
            f"workers: {r.workers} worker(s): {r.rate:,.0f} msgs/s, {r.cpu_us_per_message:.0f} µs "
            f"worker CPU per message, zero loss {'yes' if not r.problems else 'NO'}"
        )
    lines.append(f"workers: {'every check passed' if ok else 'a check FAILED (see above)'}")
    return lines


if __name__ == "__main__":
    main()
