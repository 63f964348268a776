"""The pure half of ``bench/scale.py``: what it measures, its goals, growth exponents, the
tables it prints and the file it records its numbers in (and compares a later run with).

Numbers are plain floats per size (``"10k"``, ``"100k"``, ``"1m"``) and measure key, so a
recorded run is a small JSON document: ``{"format": 1, "sizes": {"100k": {"measured_at":
..., "commit": ..., "values": {"load_s": 31.2, ...}}}}``. Recording a run replaces the
sizes it measured and keeps the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIZES: dict[str, int] = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
EXPONENT_FROM, EXPONENT_TO = "100k", "1m"
EXPONENT_LIMIT = 1.1
FORMAT = 1

Results = dict[str, dict[str, float]]  # size -> measure key -> value


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    label: str
    unit: str  # s, ms, MB, msgs/s, x, nodes
    lower_is_better: bool = True
    baseline: str | None = None  # the key of the same measure by the baseline
    scaling: bool = True  # judged by its growth exponent (not a ratio or a work size)
    work: str | None = None  # the key of the work it does, where that is not the assets


# The rows of every table, in order. Baselines are measures of their own (scaling=False:
# their growth is not kgtwin's).
MEASURES: tuple[Measure, ...] = (
    # how fast the host's CPU is during this run (a CPU-bound load beside a baseline bound
    # by round trips and disk flushes: their ratio moves with it)
    Measure("cpu_probe_s", "host: a fixed Python loop (CPU speed)", "s", scaling=False),
    # and its memory (what the snapshot's arrays and the what-if walk), before and after
    Measure("memory_probe_s", "host: a random gather, start (memory speed)", "s", scaling=False),
    Measure("memory_probe_end_s", "host: the same gather, end of the size", "s", scaling=False),
    Measure("validate_s", "validate (parse, SHACL, map)", "s"),
    Measure("load_s", "first load (sync)", "s", baseline="load_baseline_s"),
    Measure("validate_load_s", "validate + first load", "s"),
    Measure("load_wall_s", "`kgtwin load`, wall", "s"),
    Measure("load_speedup", "first load vs 1 stmt/node", "x", False, scaling=False),
    Measure(
        "load_warm_s",
        "first load again, Neo4j warm (sync)",
        "s",
        baseline="load_baseline_warm_s",
    ),
    Measure(
        "load_warm_speedup", "first load again, warm, vs 1 stmt/node", "x", False, scaling=False
    ),
    Measure("reload_wall_s", "reload, unchanged: `kgtwin load`, wall", "s"),
    Measure("reload_s", "reload, unchanged, --verify: sync", "s"),
    Measure("verify_wall_s", "reload, unchanged, --verify: wall", "s"),
    Measure("load_peak_mb", "`kgtwin load` peak RSS", "MB"),
    Measure("neo4j_tx_mb", "Neo4j transaction heap, peak seen", "MB"),
    Measure("neo4j_rss_mb", "Neo4j RSS peak (JVM: heap + page cache)", "MB", scaling=False),
    Measure("snapshot_read_s", "snapshot: Neo4j reads", "s"),
    Measure("snapshot_build_s", "snapshot: build from the rows", "s", baseline="nx_build_s"),
    Measure("snapshot_s", "snapshot: reads + build", "s"),
    Measure("server_snapshot_read_s", "snapshot, a server's way: numbered reads", "s"),
    Measure("server_snapshot_build_s", "snapshot, a server's way: snapshot_of", "s"),
    Measure("server_snapshot_s", "snapshot, a server's way: reads + build", "s"),
    Measure("snapshot_mb", "snapshot in memory", "MB", baseline="nx_mb"),
    Measure("server_ready_s", "server: snapshot ready after start", "s"),
    Measure("server_rss_mb", "server RSS, snapshot built", "MB"),
    Measure(
        "downstream_p50_ms",
        "downstream depth 5 HTTP P50, worst start",
        "ms",
        baseline="downstream_raw_p50_ms",
        work="downstream_nodes",
    ),
    Measure(
        "downstream_p95_ms",
        "downstream depth 5 HTTP P95, worst start",
        "ms",
        baseline="downstream_raw_p95_ms",
        work="downstream_nodes",
    ),
    Measure("downstream_overhead", "downstream API P50 / raw P50, worst", "x", scaling=False),
    Measure("downstream_nodes", "downstream: nodes reached, largest", "nodes", scaling=False),
    Measure(
        "whatif_p50_ms",
        "whatIf HTTP P50, all starts",
        "ms",
        baseline="whatif_raw_p50_ms",
        work="whatif_down",
    ),
    Measure(
        "whatif_p95_ms",
        "whatIf HTTP P95, slowest start",
        "ms",
        baseline="whatif_raw_p95_ms",
        work="whatif_down",
    ),
    Measure("whatif_down", "whatIf: most assets down", "nodes", scaling=False),
    Measure(
        "propagation_p50_ms",
        "propagation in-process P50, all starts",
        "ms",
        baseline="propagation_cypher_p50_ms",
        work="whatif_down",
    ),
    Measure(
        "propagation_slowest_p50_ms",
        "propagation P50, slowest start",
        "ms",
        baseline="propagation_slowest_cypher_p50_ms",
        work="whatif_down",
    ),
    Measure("propagation_ratio", "propagation vs Cypher, all starts", "x", False, scaling=False),
    Measure("propagation_least_ratio", "propagation vs Cypher, least", "x", False, scaling=False),
    Measure(
        "spof_s", "SPOF of one target, slowest", "s", baseline="nx_spof_s", work="spof_ancestors"
    ),
    Measure("spof_ancestors", "SPOF: most ancestors", "nodes", scaling=False),
    Measure("mc_s", "1,000 Monte Carlo trials, 100 targets", "s", baseline="nx_mc_s"),
    Measure(
        "ingest_rate",
        "ingestion sustained (median)",
        "msgs/s",
        False,
        baseline="ingest_baseline_rate",
    ),
    Measure("ingest_ratio", "ingestion vs 1 stmt/msg", "x", False, scaling=False),
    Measure("ingest_fresh_p95_ms", "ingestion freshness P95", "ms"),
)
BY_KEY: dict[str, Measure] = {m.key: m for m in MEASURES}
BASELINE_NAMES: dict[str, str] = {
    "load_baseline_s": "1 stmt/node, Neo4j just started",
    "load_baseline_warm_s": "1 stmt/node, its steady rate",
    "nx_build_s": "networkx DiGraph",
    "nx_mb": "networkx DiGraph",
    "downstream_raw_p50_ms": "raw Cypher",
    "downstream_raw_p95_ms": "raw Cypher",
    "whatif_raw_p50_ms": "Cypher var-length",
    "whatif_raw_p95_ms": "Cypher var-length",
    "propagation_cypher_p50_ms": "Cypher, the faster",
    "propagation_slowest_cypher_p50_ms": "Cypher, the faster",
    "nx_spof_s": "networkx brute force",
    "nx_mc_s": "networkx + numpy",
    "ingest_baseline_rate": "1 stmt/msg",
}


def parse_sizes(text: str) -> list[str]:
    """``"10k,1m"`` -> ``["10k", "1m"]``, smallest first; ValueError on an unknown size."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SIZES]
    if unknown or not names:
        raise ValueError(f"sizes: {', '.join(SIZES)} (comma-separated), got {text!r}")
    return sorted(set(names), key=SIZES.__getitem__)


def growth_exponent(n0: float, v0: float | None, n1: float, v1: float | None) -> float | None:
    """The slope of ``v`` against ``n`` on a log-log scale between two sizes: 1 is linear,
    0 constant, 2 quadratic. None where either value is missing or not positive."""
    if v0 is None or v1 is None or v0 <= 0 or v1 <= 0 or n0 <= 0 or n1 <= 0 or n0 == n1:
        return None
    return math.log(v1 / v0) / math.log(n1 / n0)


def exponent_of(results: Results, key: str) -> float | None:
    return growth_exponent(
        SIZES[EXPONENT_FROM],
        results.get(EXPONENT_FROM, {}).get(key),
        SIZES[EXPONENT_TO],
        results.get(EXPONENT_TO, {}).get(key),
    )


@dataclass(frozen=True, slots=True)
class Goal:
    """``key`` at ``size`` compared (``op``: <, <=, >=) with ``limit``, or with the
    measure ``than`` of the same size."""

    size: str
    key: str
    op: str
    limit: float = 0.0
    than: str | None = None
    why: str = ""  # where the goal comes from

    def text(self) -> str:
        other = self.than if self.than is not None else f"{self.limit:g} {BY_KEY[self.key].unit}"
        return f"{self.key} {self.op} {other} at {self.size}" + (
            f" ({self.why})" if self.why else ""
        )

    def check(self, results: Results) -> bool | None:
        """True or False, or None when a number it needs was not measured."""
        values = results.get(self.size, {})
        value = values.get(self.key)
        limit = values.get(self.than) if self.than is not None else self.limit
        if value is None or limit is None:
            return None
        return compare(value, self.op, limit)


def compare(value: float, op: str, limit: float) -> bool:
    if op == "<":
        return value < limit
    if op == "<=":
        return value <= limit
    if op == ">=":
        return value >= limit
    raise ValueError(f"unknown comparison {op!r}")


OLD = "existing goal at 100k"
GOALS: tuple[Goal, ...] = (
    # at 1M assets, the issue's
    Goal("1m", "validate_load_s", "<", 360),
    Goal("1m", "load_speedup", ">=", 20),
    Goal("1m", "reload_wall_s", "<", 60),
    Goal("1m", "load_peak_mb", "<", 4096),
    Goal("1m", "server_snapshot_s", "<", 20),
    Goal("1m", "snapshot_build_s", "<=", than="nx_build_s"),
    Goal("1m", "snapshot_mb", "<", 500),
    Goal("1m", "server_rss_mb", "<", 2048),
    Goal("1m", "downstream_p95_ms", "<", 100),
    Goal("1m", "whatif_p95_ms", "<", 100),
    Goal("1m", "spof_s", "<", 1),
    Goal("1m", "mc_s", "<", 10),
    # at 100k, the other benchmarks' (README), so that nothing regresses
    Goal("100k", "validate_load_s", "<=", 60, why=f"{OLD}, bench/load.py"),
    Goal("100k", "load_speedup", ">=", 20, why=f"{OLD}, bench/load.py"),
    Goal("100k", "downstream_p95_ms", "<", 50, why=f"{OLD}, bench/query.py"),
    Goal("100k", "downstream_overhead", "<", 1.5, why=f"{OLD}, bench/query.py"),
    Goal("100k", "propagation_p50_ms", "<", 50, why=f"{OLD}, bench/whatif.py"),
    Goal("100k", "propagation_slowest_p50_ms", "<", 50, why=f"{OLD}, bench/whatif.py"),
    Goal("100k", "propagation_ratio", ">=", 10, why=f"{OLD}, bench/whatif.py"),
    Goal("100k", "propagation_least_ratio", ">=", 10, why=f"{OLD}, bench/whatif.py"),
    Goal("100k", "mc_s", "<", 10, why=f"{OLD}, bench/whatif.py"),
    Goal("100k", "ingest_rate", ">=", 10_000, why=f"{OLD}, bench/ingest.py"),
    Goal("100k", "ingest_ratio", ">=", 20, why=f"{OLD}, bench/ingest.py"),
    Goal("100k", "ingest_fresh_p95_ms", "<", 250, why=f"{OLD}, bench/ingest.py"),
)
# Growth exponents with a limit of their own: Neo4j's transaction memory is to be bounded
# by the loader's batch, so it must not grow with the model at all.
EXPONENT_LIMITS: dict[str, float] = {"neo4j_tx_mb": 0.2}


@dataclass(frozen=True, slots=True)
class ExponentCheck:
    key: str
    exponent: float | None
    limit: float
    work_exponent: float | None  # of the work the measure does, where it has one
    met: bool | None

    def text(self) -> str:
        shown = "-" if self.exponent is None else f"{self.exponent:.2f}"
        work = "" if self.work_exponent is None else f"; its work grew {self.work_exponent:.2f}"
        return f"{self.key}: growth exponent {shown} <= {self.limit:g}{work}"


def exponent_checks(results: Results) -> list[ExponentCheck]:
    """Every scaling measure's exponent between 100k and 1M against its limit. A measure
    whose work grows faster than the assets (``Measure.work``, e.g. more nodes reached)
    may grow as fast as its work does, plus 0.1. For a rate (higher is better) the limit
    is on its inverse, the cost of one unit."""
    checks = []
    for measure in MEASURES:
        if not measure.scaling:
            continue
        exponent = exponent_of(results, measure.key)
        limit = EXPONENT_LIMITS.get(measure.key, EXPONENT_LIMIT)
        work = exponent_of(results, measure.work) if measure.work else None
        if work is not None and work + 0.1 > limit and measure.key not in EXPONENT_LIMITS:
            limit = round(work + 0.1, 2)
        cost = None if exponent is None else (exponent if measure.lower_is_better else -exponent)
        met = None if cost is None else cost <= limit
        checks.append(ExponentCheck(measure.key, exponent, limit, work, met))
    return checks


def verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "MISSED")


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit in ("msgs/s", "nodes", "MB") or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"


def size_table(size: str, values: Mapping[str, float]) -> list[str]:
    """One size's numbers, each beside its baseline and their ratio."""
    lines = [
        f"{'measure (' + size + ')':44}{'kgtwin':>11}{'baseline':>11}  {'ratio':>7}  baseline",
    ]
    for m in MEASURES:
        if m.key not in values:
            continue
        base = values.get(m.baseline) if m.baseline else None
        ours = values[m.key]
        ratio = "-"
        if base is not None and ours > 0 and base > 0:
            ratio = f"{(base / ours if m.lower_is_better else ours / base):.1f}x"
        lines.append(
            f"{m.label + ' (' + m.unit + ')':44}{fmt(values[m.key], m.unit):>11}"
            f"{fmt(base, m.unit):>11}  {ratio:>7}  "
            + (BASELINE_NAMES.get(m.baseline, "") if m.baseline and base is not None else "")
        )
    lines.append("(ratio: how many times better kgtwin is than the baseline)")
    return lines


def final_table(results: Results, recorded: Results | None = None) -> list[str]:
    """measure | each size | exponent | goals | met?; a value taken from the recorded run
    (a size this run did not measure) is marked ``r``."""
    recorded = recorded or {}
    merged: Results = {s: {**recorded.get(s, {}), **results.get(s, {})} for s in SIZES}
    checks = {c.key: c for c in exponent_checks(merged)}
    header = "".join(f"{s:>11}" for s in SIZES)
    lines = [f"{'measure':44}{header}{'exponent':>10}  {'goal':34}met?"]
    for m in MEASURES:
        if not any(m.key in merged[s] for s in SIZES):
            continue
        cells = ""
        for s in SIZES:
            value = merged[s].get(m.key)
            mark = "r" if value is not None and m.key not in results.get(s, {}) else " "
            cells += f"{fmt(value, m.unit):>10}{mark}"
        goals = [g for g in GOALS if g.key == m.key]
        check = checks.get(m.key)
        texts = [f"{g.op}{g.than or f'{g.limit:g}'}@{g.size}" for g in goals]
        if check is not None:
            texts.append(f"exp<={check.limit:g}")
        verdicts = [g.check(merged) for g in goals] + ([check.met] if check else [])
        met = None if all(v is None for v in verdicts) else all(v is not False for v in verdicts)
        exponent = "-" if check is None or check.exponent is None else f"{check.exponent:.2f}"
        lines.append(
            f"{m.label + ' (' + m.unit + ')':44}{cells}{exponent:>10}  "
            f"{', '.join(texts) or '-':34}{verdict(met)}"
        )
    lines.append(
        f"(exponent: log-log slope {EXPONENT_FROM} -> {EXPONENT_TO}; r: from the recorded run)"
    )
    return lines


def goal_lines(results: Results, recorded: Results | None = None) -> list[str]:
    """Every goal that could be judged (or was measured for), one line each."""
    recorded = recorded or {}
    merged: Results = {s: {**recorded.get(s, {}), **results.get(s, {})} for s in SIZES}
    lines = []
    for goal in GOALS:
        if goal.size not in results:
            continue
        ok = goal.check(merged)
        value = merged[goal.size].get(goal.key)
        lines.append(f"goal: {goal.text()}: {verdict(ok)} ({fmt(value)})")
    for check in exponent_checks(merged):
        if check.exponent is not None:
            lines.append(f"goal: {check.text()}: {verdict(check.met)}")
    return lines or ["(the goals are at 100k and 1m: none was measured in this run)"]


# ------------------------------------------------------------------- the recorded run


def read_record(path: Path) -> dict[str, Any]:
    """The recorded document, or an empty one if there is none; ValueError if it is not
    one of ours."""
    if not path.exists():
        return {"format": FORMAT, "sizes": {}}
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path}: not a bench/scale.py record (format {FORMAT})")
    return document


def recorded_values(document: Mapping[str, Any]) -> Results:
    return {size: dict(entry["values"]) for size, entry in document.get("sizes", {}).items()}


def record(
    document: Mapping[str, Any], results: Results, about: Mapping[str, Any]
) -> dict[str, Any]:
    """``document`` with the sizes of ``results`` replaced (each with ``about``: when,
    which commit, which machine); other sizes kept."""
    sizes = dict(document.get("sizes", {}))
    for size, values in results.items():
        sizes[size] = {**about, "values": dict(values)}
    return {"format": FORMAT, "sizes": sizes}


def write_record(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def change_lines(results: Results, before: Results) -> list[str]:
    """Each measure this run shares with the recorded one: then, now, the change."""
    lines = []
    for size, values in results.items():
        old = before.get(size)
        if not old:
            continue
        lines.append(f"{size} against the recorded run (then, now, change):")
        for m in MEASURES:
            if m.key in values and m.key in old:
                then, now = old[m.key], values[m.key]
                change = f"{(now - then) / then * 100:+.0f}%" if then else "-"
                better = (now <= then) == m.lower_is_better
                note = (
                    ""
                    if change == "-" or abs(now - then) <= 0.1 * abs(then)
                    else ("  better" if better else "  WORSE")
                )
                lines.append(
                    f"  {m.label + ' (' + m.unit + ')':44}{fmt(then, m.unit):>11}"
                    f"{fmt(now, m.unit):>11}{change:>8}{note}"
                )
    return lines
