"""Issue 21's fault runs, the long ones: what the test suite proves once, run many times
and at volume, with the counts printed. Every part stops by itself (bounded counts and a
deadline per step) and uses a Neo4j and Mosquitto brokers of its own.

    .venv/bin/python bench/faults.py [--parts zero-loss,flood,memory,units,loads,graceful]
                                     [--runs 8] [--messages 20000] [--points 300]

- **zero-loss**: ``--runs`` runs of ``--messages`` QoS 1 messages (0.5% of them poison)
  to ``--points`` points of the example site through ``kgtwin ingest``, one fault per run
  in turn: Neo4j stopped and started, Mosquitto restarted, Mosquitto killed (SIGKILL),
  the worker killed (SIGKILL). Counted: points holding exactly their last published value,
  dead letters (distinct ids) against poison sent, what is left in the worker's session.
- **flood**: 40 s of messages as fast as the worker keeps up, 0.5% poison (a topic of
  65,520 characters, broken JSON, a time past 64 bits), on a Mosquitto with its default
  settings (20 in flight) and on one with 10,000: throughput, pending peak, left over.
- **memory**: 4,000 payloads of 100 KB of garbage: the worker's resident memory before,
  at its peak and after, and the queued bytes' peak.
- **units**: 3,000 messages with distinct unknown unit names: messages/s and the worker's
  CPU per message; then 20,000 more names resolved in this process with the parse budget
  and without it (the baseline).
- **loads**: two ``kgtwin load`` of the same changed 20,000-asset model at once.
- **graceful**: ``kgtwin load`` with Neo4j stopped (SIGTERM, graceful) at a random moment:
  each exit status against whether the model was in fact saved.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.fault_rig import KGTWIN, DeadLetters, Ingest, Publisher, Rig, rig, wait  # noqa: E402
from bench.synthetic import write_site  # noqa: E402
from kgtwin.devkit.broker import LocalBroker  # noqa: E402
from kgtwin.ontology.errors import UnitError  # noqa: E402
from kgtwin.ontology.files import default_ontology_files  # noqa: E402
from kgtwin.ontology.units import ParseBudget, Units  # noqa: E402
from kgtwin.ontology.validate import Ontology  # noqa: E402
from kgtwin.server.loading import load_model  # noqa: E402

DC1 = REPO / "ontology" / "sites" / "dc1.ttl"
PARTS = ("zero-loss", "flood", "memory", "units", "loads", "graceful")
FAULTS = ("neo4j-stop", "broker-restart", "broker-kill", "worker-kill")
POISON = (b"{poison", b'{"value": 1.0, "ts": -1e19}')


def say(line: str) -> None:
    print(line, flush=True)


# ------------------------------------------------------------------------------ zero loss


def double_points(rig: Rig, count: int) -> list[tuple[str, str, float]]:
    records, _, _ = rig.driver.execute_query(
        "MATCH (p:Point {datatype: 'double'}) RETURN p.id AS id, p.mqttTopic AS topic, "
        "coalesce(p.minValue, 0.0) AS low ORDER BY p.id LIMIT $n",
        n=count,
    )
    return [(r["id"], r["topic"], r["low"]) for r in records]


def holding(rig: Rig, last: dict[str, tuple[float, float]]) -> int:
    """How many points hold exactly the value and time last published to them."""
    records, _, _ = rig.driver.execute_query(
        "UNWIND $rows AS row MATCH (p:Point {id: row[0]}) "
        "WHERE p.value = row[1] AND p.observedAt = datetime({epochMillis: toInteger(row[2])}) "
        "RETURN count(p) AS n",
        rows=[[k, v, round(ts * 1000)] for k, (v, ts) in last.items()],
    )
    return int(records[0]["n"])


def left_in_session(rig: Rig, address: object, client_id: str) -> float:
    """Messages a worker resuming the session gets (its predecessor stopped gracefully)."""
    again = rig.ingest(address, client_id)  # type: ignore[arg-type]
    time.sleep(3.0)
    received = again.metrics().get("kgtwin_ingest_messages_received_total", 0.0)
    again.kill()
    return received


def zero_loss(rig: Rig, runs: int, messages: int, count: int) -> None:
    points = double_points(rig, count)
    say(f"\nzero-loss: {runs} runs of {messages:,} messages to {len(points)} points, 0.5% poison")
    say("  run  fault           published  points right  dead letters  left  seconds")
    for run in range(runs):
        zero_loss_run(rig, run, FAULTS[run % len(FAULTS)], points, messages)


def inject(
    rig: Rig, fault: str, broker: LocalBroker, workers: list[Ingest], client_id: str
) -> None:
    if fault == "neo4j-stop":
        rig.stop_neo4j()
        time.sleep(5)
        rig.start_neo4j()
    elif fault == "broker-restart":
        broker.restart()
    elif fault == "broker-kill":
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        broker.stop()
        broker.start()
    else:
        workers[0].kill()
        time.sleep(2)
        workers.append(rig.ingest(broker.address, client_id))


def zero_loss_run(
    rig: Rig, run: int, fault: str, points: list[tuple[str, str, float]], messages: int
) -> None:
    rig.driver.execute_query("MATCH (p:Point) REMOVE p.value, p.observedAt, p.observedKeys")
    broker = rig.broker()
    letters = DeadLetters(broker.address)
    client_id = f"zero-{run}-{os.getpid()}"
    workers = [rig.ingest(broker.address, client_id)]
    publisher = Publisher(broker.address)
    last: dict[str, tuple[float, float]] = {}
    base, poison, started = time.time() - 7200, 0, time.monotonic()
    injector = threading.Thread(target=inject, args=(rig, fault, broker, workers, client_id))
    for n in range(messages):
        if n == int(messages * 0.4):
            injector.start()
        point_id, topic, low = points[n % len(points)]
        if n % 200 == 99:
            publisher.send(topic, POISON[poison % len(POISON)])
            poison += 1
            continue
        value, ts = low + (n % 997) / 1000, round(base + n / 1000, 3)
        publisher.send(topic, json.dumps({"value": value, "ts": ts}), wait=n % 500 == 0)
        last[point_id] = (value, ts)
    injector.join()
    for n, (point_id, topic, low) in enumerate(points):  # a last round after the fault
        value, ts = low + 0.5, round(base + messages / 1000 + n / 1000, 3)
        publisher.send(topic, json.dumps({"value": value, "ts": ts}), wait=True)
        last[point_id] = (value, ts)
    wait(lambda: holding(rig, last) == len(last), 240)
    right = holding(rig, last)
    wait(lambda: letters.distinct() >= poison, 30)
    publisher.close()
    workers[-1].process.send_signal(signal.SIGTERM)
    workers[-1].process.wait(30)
    left = left_in_session(rig, broker.address, client_id)
    published = messages + len(points)
    say(
        f"  {run + 1:>3}  {fault:<14} {published:>10,}  {right:>5} of {len(last):<5}"
        f" {letters.distinct():>5} of {poison:<5} {left:>5.0f}"
        f"  {time.monotonic() - started:>7.1f}"
    )
    letters.close()
    broker.stop()


# ---------------------------------------------------------------------------------- flood


def finished(worker: Ingest) -> float:
    metrics = worker.metrics()
    return sum(v for k, v in metrics.items() if k.startswith("kgtwin_ingest_messages_total{"))


def flood(rig: Rig, seconds: float) -> None:
    points = double_points(rig, 300)
    say(f"\nflood: {seconds:.0f} s as fast as the worker keeps up, 0.5% poison")
    say("  broker        published  applied+outdated  dead-lettered  pending peak  restarts  left")
    for name, limits in (
        ("defaults (20)", {"max_inflight_messages": 20, "max_queued_messages": 1000}),
        ("10,000", {}),
    ):
        flood_run(rig, name, limits, points, seconds)


def keep_up(worker: Ingest, published: int) -> None:
    """Wait until the worker is less than 800 messages behind: a closed loop, so that the
    broker never has to drop what it queues for the worker (Mosquitto's default 1,000)."""
    wait(lambda: published - finished(worker) < 800, 60)


def flood_run(
    rig: Rig,
    name: str,
    limits: dict[str, int],
    points: list[tuple[str, str, float]],
    seconds: float,
) -> None:
    broker = rig.broker(**limits)
    client_id = f"flood-{name[:3]}-{os.getpid()}"
    worker = rig.ingest(broker.address, client_id)
    publisher = Publisher(broker.address)
    poison = [("dc1/" + "x" * 65_516, b"1.0"), *((points[0][1], p) for p in POISON)]
    published, peak, deadline = 0, 0.0, time.monotonic() + seconds
    base = time.time() - 3600
    while time.monotonic() < deadline:
        for index in range(published, published + 200):
            if index % 200 == 57:
                topic, payload = poison[index // 200 % len(poison)]
            else:
                _id, topic, low = points[index % len(points)]
                payload = json.dumps({"value": low, "ts": round(base + index / 1000, 3)}).encode()
            publisher.send(topic, payload)
        publisher.send(points[0][1], json.dumps({"value": points[0][2]}), wait=True)
        published += 201
        peak = max(peak, worker.metrics().get("kgtwin_ingest_pending", 0.0))
        keep_up(worker, published)
    total = published
    wait(lambda: finished(worker) >= total, 120)
    metrics = worker.metrics()
    outcome = {
        k.split("{")[1][:-1]: v
        for k, v in metrics.items()
        if k.startswith("kgtwin_ingest_messages_total{")
    }
    restarts = sum(v for k, v in metrics.items() if k.startswith("kgtwin_ingest_restarts_total{"))
    publisher.close()
    worker.process.send_signal(signal.SIGTERM)
    worker.process.wait(30)
    left = left_in_session(rig, broker.address, client_id)
    written = outcome.get("applied", 0) + outcome.get("outdated", 0)
    say(
        f"  {name:<13} {published:>9,}  {written:>16,.0f}  {outcome.get('deadlettered', 0):>13,.0f}"
        f"  {peak:>12,.0f}  {restarts:>8.0f}  {left:>4.0f}"
    )
    broker.stop()


# --------------------------------------------------------------------------------- memory


def memory(rig: Rig, count: int) -> None:
    broker = rig.broker()
    worker = rig.ingest(broker.address, f"memory-{os.getpid()}")
    publisher = Publisher(broker.address)
    before, _peak = worker.memory_mb()
    garbage = b"{" + b"\x00garbage" * 12_500  # 100,001 bytes, not JSON
    held = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            held[0] = max(held[0], worker.metrics().get("kgtwin_ingest_queued_bytes", 0.0))

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    for n in range(count):
        publisher.send("dc1/ups-a1/output-power", garbage, wait=n % 200 == 199)
    publisher.send("dc1/ups-a1/output-power", b"1.0", wait=True)
    wait(lambda: finished(worker) >= count + 1, 300)
    stop.set()
    sampler.join()
    after, peak = worker.memory_mb()
    say(
        f"\nmemory: {count:,} payloads of 100 KB of garbage in {time.monotonic() - started:.1f} s: "
        f"kgtwin ingest {before:.0f} MB before, {peak:.0f} MB at its peak, {after:.0f} MB after; "
        f"queued bytes peak {held[0] / 2**20:.1f} MiB (limit 64 MiB); "
        f"{finished(worker):,.0f} finished"
    )
    publisher.close()
    worker.kill()
    broker.stop()


# ---------------------------------------------------------------------------------- units


def units(rig: Rig, count: int) -> None:
    broker = rig.broker()
    worker = rig.ingest(broker.address, f"units-{os.getpid()}")
    publisher = Publisher(broker.address)
    cpu, started = worker.cpu_seconds(), time.monotonic()
    for n in range(count):
        unit = "zork" + "".join(chr(97 + int(d)) for d in str(n))
        body = json.dumps({"value": 1.0, "unit": unit})
        publisher.send("dc1/ups-a1/output-power", body, wait=n % 200 == 199)
    wait(lambda: finished(worker) >= count, 600)
    seconds, used = time.monotonic() - started, worker.cpu_seconds() - cpu
    say(
        f"\nunits: {count:,} distinct unknown unit names: {finished(worker):,.0f} finished in "
        f"{seconds:.1f} s ({count / seconds:,.0f} msg/s), worker CPU {used:.2f} s "
        f"({used / count * 1e6:,.0f} µs a message, everything included)"
    )
    publisher.close()
    worker.kill()
    broker.stop()
    # in this process, more names than the budget's burst covers: what bounds the cost
    names = ["zork" + "".join(chr(97 + int(d)) for d in str(n + count)) for n in range(20_000)]
    for label, budget in (
        ("with the parse budget", ParseBudget()),
        ("without (no limit: the baseline)", ParseBudget(share=1.0, burst=1e9)),
    ):
        resolver = Units.read(default_ontology_files(), budget=budget)
        resolver.resolve("psi")  # pint's registry, built once
        cpu = time.process_time()
        for name in names:
            with contextlib.suppress(UnitError):
                resolver.resolve(name)
        used = time.process_time() - cpu
        say(
            f"  resolving {len(names):,} more {label}: {used:.2f} s of CPU, "
            f"{used / len(names) * 1e6:,.0f} µs a name"
        )


# ---------------------------------------------------------------------------------- loads


def model_state(rig: Rig) -> tuple[int, int]:
    records, _, _ = rig.driver.execute_query(
        "OPTIONAL MATCH (m:Model {name: 'syn'}) WITH m.relationships AS said "
        "OPTIONAL MATCH (:Twin {model: 'syn'})-[r]->(:Twin {model: 'syn'}) "
        "RETURN said, count(r) AS actual"
    )
    return records[0]["said"] or 0, records[0]["actual"]


def kgtwin_load(rig: Rig, site: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [KGTWIN, "load", str(site), "--model", "syn"],
        env=rig.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def loads(rig: Rig, folder: Path) -> None:
    base, changed = folder / "syn-60k.ttl", folder / "syn-62k.ttl"
    write_site(base, 20_000, 60_000)
    write_site(changed, 20_000, 62_000)
    assert kgtwin_load(rig, base).wait(300) == 0
    both = [kgtwin_load(rig, changed), kgtwin_load(rig, changed)]
    outputs = [p.communicate(timeout=600) for p in both]
    said, actual = model_state(rig)
    waited = sum("waiting for another load" in err for _out, err in outputs)
    up_to_date = sum("'syn' already up to date" in out for out, _err in outputs)
    say(
        f"\nloads: two `kgtwin load` of a 20,000-asset model changed from 60,000 to 62,000 "
        f"relationships at once: exit {[p.returncode for p in both]}, {actual:,} relationships "
        f"(the Model node says {said:,}), {waited} said it waited, {up_to_date} found it up to date"
    )


def graceful(rig: Rig, folder: Path, tries: int) -> None:
    files = {60_000: folder / "syn-60k.ttl", 62_000: folder / "syn-62k.ttl"}
    rig.stop_neo4j()  # every try starts on a Neo4j just started: so does this one
    rig.start_neo4j()
    _said, actual = model_state(rig)
    started = time.monotonic()  # a load undisturbed: how long one takes
    assert kgtwin_load(rig, files[62_000 if actual == 60_000 else 60_000]).wait(300) == 0
    took = time.monotonic() - started
    say(
        f"\ngraceful: {tries} loads with Neo4j stopped (SIGTERM) at a random moment between "
        f"50% and 110% of the {took:.1f} s a load took undisturbed on a Neo4j just started"
    )
    say("  try  delay  exit  relationships now  saved  truthful")
    tally: dict[tuple[int, bool], int] = {}
    for attempt in range(tries):
        _said, actual = model_state(rig)
        target = 62_000 if actual == 60_000 else 60_000
        delay = random.uniform(0.5 * took, 1.1 * took)
        load = kgtwin_load(rig, files[target])
        time.sleep(delay)
        rig.stop_neo4j()
        _out, err = load.communicate(timeout=120)
        rig.start_neo4j()
        _said, now = model_state(rig)
        saved = now == target
        truthful = {0: saved, 1: not saved, 3: True}.get(load.returncode, False)
        tally[(load.returncode, saved)] = tally.get((load.returncode, saved), 0) + 1
        say(
            f"  {attempt + 1:>3}  {delay:>4.1f}s  {load.returncode:>4}  {now:>17,}  "
            f"{'yes' if saved else 'no':>5}  {'yes' if truthful else 'NO':>8}"
        )
        if not truthful or load.returncode == 3:
            say("       " + (err.strip().splitlines() or ["(nothing on stderr)"])[-1][:300])
    say(
        "  exit status and saved: "
        + ", ".join(f"{c}/{'saved' if s else 'not'}: {n}" for (c, s), n in sorted(tally.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, from {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--runs", type=int, default=8, help="zero-loss runs, one fault each in turn (1-40)"
    )
    parser.add_argument(
        "--messages", type=int, default=20_000, help="messages a zero-loss run publishes"
    )
    parser.add_argument(
        "--points", type=int, default=300, help="points a zero-loss run publishes to"
    )
    parser.add_argument(
        "--flood-seconds", type=float, default=40.0, help="length of each flood (seconds)"
    )
    parser.add_argument(
        "--tries", type=int, default=8, help="loads the graceful part stops Neo4j under"
    )
    args = parser.parse_args()
    parts = args.parts.split(",")
    if (
        not set(parts) <= set(PARTS)
        or not 1 <= args.runs <= 40
        or not 1_000 <= args.messages <= 200_000
    ):
        parser.error(f"--parts from {', '.join(PARTS)}; --runs 1-40; --messages 1,000-200,000")
    random.seed(21)
    steps: dict[str, Callable[[Rig], None]] = {
        "zero-loss": lambda r: zero_loss(r, args.runs, args.messages, args.points),
        "flood": lambda r: flood(r, args.flood_seconds),
        "memory": lambda r: memory(r, 4_000),
        "units": lambda r: units(r, 3_000),
        "loads": lambda r: loads(r, r.folder),
        "graceful": lambda r: graceful(r, r.folder, args.tries),
    }
    with rig("faults") as running:
        ontology = Ontology.load(default_ontology_files())
        if set(parts) & {"zero-loss", "flood", "memory", "units"}:
            assert load_model(running.driver, [DC1], "dc1", ontology).report.ok
        if "graceful" in parts and "loads" not in parts:
            loads(running, running.folder)  # the graceful part starts from its files
        for part in PARTS:
            if part in parts:
                steps[part](running)


if __name__ == "__main__":
    main()
