"""Benchmark: from the MQTT message that reports a UPS fault to the risk event, on the
example site (``dc1``, goal P95 < 1 s) and on the synthetic 100k-asset site with a fault
status point per UPS (``bench/synthetic.py``'s ``ups_status``, goal P95 < 2 s).

A local Mosquitto, the site synced into Neo4j, and one ``kgtwin serve --ingest`` process
(anonymous read, no rate limit, history off): its worker writes the fault, publishes
``failureReported``, its own event stream receives it and wakes its risk watch, which reads
the reported failures, assesses them on its dependency snapshot and publishes the risk
events. The bench holds an MQTT client on ``kgtwin/events/<model>/#`` and a WebSocket with
``subscription { riskChanged { kind assetId } }``; each arrival is timed on this process's
clock (the server runs on the same machine, so the events' own times, the worker's
``data.at`` and the CloudEvent ``time`` of a risk event, which is the end of the
assessment, are on the same clock too).

Each iteration publishes ``{"value": true}`` (then ``false``, alternating) to the UPS's
fault topic at QoS 1, waits for the first risk event of the change (``assetDown``,
``redundancyLost``, ... for a fault; ``assetUp``, ``redundancyRestored``, ... for a clear),
then for the events to stop (``QUIET``), then times one ``whatIf(fail: [UPS])`` over HTTP:
the baseline, what a client polling the API instead pays per poll, in the same run. Two
warm-up iterations are not counted. Printed: P50/P95 of publish -> first risk event on
MQTT and on the WebSocket, and to the last event of the change, beside the goal, and the
breakdown (medians): the worker's commit (``failureReported``'s ``data.at``), its arrival,
the end of the assessment (the risk event's ``time``), the first risk event's arrival.

    .venv/bin/python bench/scale_out_risk.py [--sites dc1,synthetic] [--iterations 40]
        [--assets 100000]

``run(...)`` is what ``bench/scale_out.py`` calls. Neo4j: NEO4J_URI if set (the synthetic
site is synced into it with its status points), else a local server started for the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from neo4j import Driver  # noqa: E402
from websockets.sync.client import ClientConnection, connect  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from bench.ingest import load_sites, log  # noqa: E402
from bench.scale_out_events import Kgtwin, MqttWatch, kgtwin_serve  # noqa: E402
from kgtwin.devkit.broker import LocalBroker, install_mosquitto  # noqa: E402
from kgtwin.devkit.launcher import free_ports  # noqa: E402
from kgtwin.ingest.address import BrokerAddress  # noqa: E402

NEO4J_NAME = "neo4j-bench-scale-out-risk"
GOAL_S = {"dc1": 1.0, "synthetic": 2.0}
UPS = {"dc1": "ups-a1", "synthetic": "ups-0"}
RISK_ON = frozenset({"assetDown", "redundancyLost", "newSinglePointOfFailure", "capacityAtRisk"})
RISK_OFF = frozenset(
    {"assetUp", "redundancyRestored", "singlePointOfFailureCleared", "capacityRiskCleared"}
)
FAILURE = {True: "failureReported", False: "failureCleared"}
WARM_UP = 2  # iterations not counted
QUIET = 0.5  # seconds without a risk event before a change's events are all in
TIMEOUT = 60.0  # seconds an iteration may wait for its first risk event
RISKS = "subscription { riskChanged { kind assetId } }"
WHAT_IF = "query W($id: String!) { whatIf(fail: [$id]) { impactedCount } }"


# ---------------------------------------------------------------------------- the site


def load_site(driver: Driver, name: str, assets: int) -> None:
    """Sync ``name`` (dc1, or the synthetic site with a fault point per UPS)."""
    load_sites(driver, [name], assets, 3 * assets, ups_status=True)


# ------------------------------------------------------------------------ what arrives


@dataclass(frozen=True, slots=True)
class Arrival:
    kind: str
    at: float  # epoch seconds it arrived here
    time: float  # the CloudEvent's time (a risk event's: the end of its assessment)
    data_at: float | None  # data.at (a failure event's: when the worker wrote it)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Events(MqttWatch):
    """The failure and risk events of ``model`` as they arrive."""

    def __init__(self, address: BrokerAddress, model: str) -> None:
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        super().__init__(address, f"kgtwin/events/{model}/#")

    def received(self, topic: str, body: bytes, at: float) -> None:
        kind = topic.split("/", 4)[3]
        if kind not in RISK_ON | RISK_OFF | set(FAILURE.values()):
            return
        event = json.loads(body)
        data_at = event["data"].get("at")
        arrival = Arrival(
            kind, at, epoch(event["time"]), None if data_at is None else epoch(data_at)
        )
        with self.lock:
            self.arrivals.append(arrival)

    def since(self, moment: float) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.at >= moment]


class RiskSocket:
    """``riskChanged`` on a WebSocket, read on a thread: (arrival time, kind) each."""

    def __init__(self, url: str) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self._stack = ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None)
        )
        self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(self.ws.recv(30))
        if ack.get("type") != "connection_ack":
            raise SystemExit(f"the WebSocket was not acknowledged: {ack}")
        self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": RISKS}}))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                at = time.time()
                body = json.loads(message)
                if body.get("type") != "next":
                    log(f"riskChanged: {str(body)[:300]}")
                    continue
                with self.lock:
                    self.arrivals.append((at, body["payload"]["data"]["riskChanged"]["kind"]))
        except Exception as exc:  # the connection closed: what arrived stays
            log(f"the riskChanged WebSocket ended: {exc}")

    def since(self, moment: float) -> list[tuple[float, str]]:
        with self.lock:
            return [a for a in self.arrivals if a[0] >= moment]

    def close(self) -> None:
        self._stack.close()
        self.thread.join(10)


# ----------------------------------------------------------------------- an iteration


@dataclass(slots=True)
class Iteration:
    failed: bool  # a fault (True) or its clear
    first_mqtt: float = float("nan")  # seconds from the publish
    last_mqtt: float = float("nan")
    first_ws: float = float("nan")
    written: float = float("nan")  # the worker's failure event data.at
    failure_seen: float = float("nan")  # the failure event's arrival here
    assessed: float = float("nan")  # the first risk event's time (end of the assessment)
    events: int = 0  # risk events of the change on MQTT
    ws_events: int = 0
    what_if: float = float("nan")  # seconds, the baseline
    impacted: int = 0


def iterate(
    failed: bool,
    model: str,
    ups: str,
    watch: Events,
    socket: RiskSocket,
    http: httpx.Client,
    timeout: float = TIMEOUT,
) -> Iteration:
    it = Iteration(failed)
    wanted = RISK_ON if failed else RISK_OFF
    started = time.time()
    watch.publish(f"{model}/{ups}/fault", json.dumps({"value": failed}).encode())
    deadline = time.monotonic() + timeout
    while not [a for a in watch.since(started) if a.kind in wanted]:
        if time.monotonic() > deadline:
            raise SystemExit(f"{model}: no risk event {timeout:.0f} s after {ups}'s fault={failed}")
        time.sleep(0.002)
    count, changed = -1, time.monotonic()
    while time.monotonic() - changed < QUIET:  # until the change's events are all in
        now = len(watch.since(started)) + len(socket.since(started))
        if now != count:
            count, changed = now, time.monotonic()
        time.sleep(0.01)
    risks = [a for a in watch.since(started) if a.kind in wanted]
    failure = [a for a in watch.since(started) if a.kind == FAILURE[failed]]
    ws = [at for at, kind in socket.since(started) if kind in wanted]
    it.first_mqtt = risks[0].at - started
    it.last_mqtt = risks[-1].at - started
    it.assessed = risks[0].time - started
    it.events, it.ws_events = len(risks), len(ws)
    if ws:
        it.first_ws = ws[0] - started
    if failure and failure[0].data_at is not None:
        it.written = failure[0].data_at - started
        it.failure_seen = failure[0].at - started
    took = time.perf_counter()
    answer = http.post("/graphql", json={"query": WHAT_IF, "variables": {"id": ups}}).json()
    it.what_if = time.perf_counter() - took
    if "errors" in answer:
        raise SystemExit(f"whatIf failed: {answer['errors']}")
    it.impacted = answer["data"]["whatIf"]["impactedCount"]
    return it


@dataclass(slots=True)
class SiteRun:
    site: str
    ups: str
    iterations: list[Iteration] = field(default_factory=list)
    server_cpu: float = 0.0  # CPU seconds of kgtwin serve over the counted iterations
    ready_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def of(self, failed: bool) -> list[Iteration]:
        return [i for i in self.iterations if i.failed is failed]


def measure(
    neo4j: tuple[str, str, str | None],
    address: BrokerAddress,
    folder: Path,
    site: str,
    iterations: int,
) -> SiteRun:
    ups = UPS[site]
    result = SiteRun(site, ups)
    started = time.perf_counter()
    with kgtwin_serve(neo4j, address, folder, ingest=True, model=site) as server:
        result.ready_s = time.perf_counter() - started
        watch = Events(address, site)
        socket = RiskSocket(server.ws_url)
        try:
            with httpx.Client(base_url=server.url, timeout=120) as http:
                _clear_first(site, ups, watch, socket, http)
                for k in range(WARM_UP):
                    iterate(k % 2 == 0, site, ups, watch, socket, http)
                cpu = server.cpu()
                for k in range(iterations):
                    it = iterate(k % 2 == 0, site, ups, watch, socket, http)
                    result.iterations.append(it)
                    if k % 10 == 9:
                        log(f"  {site}: {k + 1} of {iterations} ({_line(it)})")
                result.server_cpu = server.cpu() - cpu
        finally:
            socket.close()
            watch.close()
        _notes(result, server)
    return result


def _clear_first(
    site: str, ups: str, watch: Events, socket: RiskSocket, http: httpx.Client
) -> None:
    """Leave no fault from an earlier run on the UPS: publish false; a change then, if any,
    has its events before the counted iterations."""
    watch.publish(f"{site}/{ups}/fault", b'{"value": false}')
    time.sleep(2.0)


def _notes(result: SiteRun, server: Kgtwin) -> None:
    text = server.log.read_text(errors="replace")
    warnings = [line for line in text.splitlines() if "WARNING" in line or "ERROR" in line]
    if warnings:
        result.notes.append(f"{len(warnings)} warning(s) in the server's log, e.g. {warnings[0]}")


def _line(it: Iteration) -> str:
    return (
        f"{'fault' if it.failed else 'clear'}: first risk event {it.first_mqtt * 1e3:.0f} ms "
        f"(WebSocket {it.first_ws * 1e3:.0f} ms), {it.events} events, whatIf "
        f"{it.what_if * 1e3:.0f} ms"
    )


def run(
    driver: Driver,
    neo4j: tuple[str, str, str | None],
    sites: Sequence[str],
    iterations: int,
    assets: int = 100_000,
) -> list[SiteRun]:
    """Each site: sync it, then the iterations on a broker and server of their own."""
    install_mosquitto()
    runs = []
    for site in sites:
        load_site(driver, site, assets)
        with tempfile.TemporaryDirectory(prefix="kgtwin-bench-risk-") as tmp:
            (port,) = free_ports(1)
            with LocalBroker(Path(tmp) / "broker", port) as broker:
                log(f"{site}: {iterations} iterations on {UPS[site]} ...")
                runs.append(measure(neo4j, broker.address, Path(tmp), site, iterations))
    return runs


# --------------------------------------------------------------------------- the report


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of the values that are numbers."""
    ordered = sorted(v for v in values if v == v)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def _ms(value: float) -> str:
    return "-" if value != value else f"{value * 1e3:,.0f}"


def report(runs: Sequence[SiteRun]) -> list[str]:
    """Print each site's numbers beside the goal and the baseline; the summary lines."""
    print()
    print(
        f"{'site':<10}{'change':<7}{'n':>4}  {'first risk event (MQTT)':>24}  "
        f"{'riskChanged (WS)':>17}  {'last event':>11}  {'events':>6}  "
        f"{'baseline whatIf':>16}  (ms, P50 / P95)"
    )
    lines = []
    for r in runs:
        for failed in (True, False):
            its = r.of(failed)
            if not its:
                continue
            first = [i.first_mqtt for i in its]
            ws = [i.first_ws for i in its]
            last = [i.last_mqtt for i in its]
            polls = [i.what_if for i in its]
            print(
                f"{r.site:<10}{'fault' if failed else 'clear':<7}{len(its):>4}  "
                f"{_ms(percentile(first, 50)):>11} / {_ms(percentile(first, 95)):>10}  "
                f"{_ms(percentile(ws, 50)):>7} / {_ms(percentile(ws, 95)):>7}  "
                f"{_ms(percentile(last, 50)):>4} / {_ms(percentile(last, 95)):>4}  "
                f"{statistics.median(i.events for i in its):>6.0f}  "
                f"{_ms(percentile(polls, 50)):>7} / {_ms(percentile(polls, 95)):>6}"
            )
        faults = r.of(True)
        if not faults:
            continue
        goal = GOAL_S[r.site]
        p95 = percentile([i.first_mqtt for i in faults], 95)
        p95_ws = percentile([i.first_ws for i in faults], 95)
        what_if = percentile([i.what_if for i in faults], 50)
        met = p95 < goal and p95_ws < goal
        lines.append(
            f"risk: {r.site} ({r.ups}), publish -> first risk event P95 {_ms(p95)} ms on MQTT, "
            f"{_ms(p95_ws)} ms on the riskChanged WebSocket (goal < {goal * 1e3:,.0f} ms): "
            f"{'met' if met else 'MISSED'}; baseline: one whatIf(fail: [{r.ups}]) over HTTP, "
            f"what a poller pays per poll, P50 {_ms(what_if)} ms (the event's P50 is "
            f"{percentile([i.first_mqtt for i in faults], 50) / what_if:.0f}x one poll: a "
            f"poller as quick to notice would poll every {_ms(p95)} ms at least)"
        )
        steps = [
            ("worker wrote the fault (failureReported data.at)", [i.written for i in faults]),
            ("failureReported arrived here", [i.failure_seen for i in faults]),
            ("risk assessed (the risk event's time)", [i.assessed for i in faults]),
            ("first risk event arrived (MQTT)", [i.first_mqtt for i in faults]),
            ("first riskChanged arrived (WebSocket)", [i.first_ws for i in faults]),
            ("last risk event of the change arrived", [i.last_mqtt for i in faults]),
        ]
        print(f"{r.site}, a fault, breakdown from the publish (median ms):")
        for label, values in steps:
            print(f"  {label:<52}{_ms(percentile(values, 50)):>8}")
        per = r.server_cpu / len(r.iterations) if r.iterations else float("nan")
        print(
            f"  server CPU per change (fault or clear, with its whatIf): {per * 1e3:,.0f} ms; "
            f"server ready {r.ready_s:.1f} s after start; whatIf impacts "
            f"{faults[0].impacted:,} assets"
        )
        for note in r.notes:
            print(f"  {note}")
    for line in lines:
        print(line)
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", default="dc1,synthetic", help="dc1 and/or synthetic")
    parser.add_argument("--iterations", type=int, default=40, help="per site, fault and clear")
    parser.add_argument("--assets", type=int, default=100_000, help="of the synthetic site")
    parser.add_argument("--heap", default="3g")
    parser.add_argument("--pagecache", default="2g")
    args = parser.parse_args(argv)
    args.sites = args.sites.split(",")
    if not args.sites or any(s not in GOAL_S for s in args.sites):
        parser.error("--sites: dc1 and/or synthetic")
    if not 2 <= args.iterations <= 1_000 or not 1_000 <= args.assets <= 1_000_000:
        parser.error("--iterations: 2 to 1,000; --assets: 1,000 to 1,000,000")
    return args


def main() -> None:
    from bench.neo4j_server import neo4j_server
    from kgtwin.graph.connection import open_driver

    args = parse_args()
    log(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with neo4j_server(NEO4J_NAME, heap=args.heap, pagecache=args.pagecache) as neo4j:
        driver = open_driver(*neo4j)
        try:
            runs = run(driver, neo4j, args.sites, args.iterations, args.assets)
        finally:
            driver.close()
    log(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(runs)


if __name__ == "__main__":
    main()
