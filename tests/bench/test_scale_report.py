"""bench/scale_report.py: growth exponents, goals, the recorded run and its comparison."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.scale_report import (
    GOALS,
    MEASURES,
    Goal,
    change_lines,
    exponent_checks,
    final_table,
    goal_lines,
    growth_exponent,
    parse_sizes,
    read_record,
    record,
    recorded_values,
    write_record,
)


def test_growth_exponent_is_the_slope_on_a_log_log_scale() -> None:
    assert growth_exponent(100_000, 2.0, 1_000_000, 20.0) == pytest.approx(1.0)
    assert growth_exponent(100_000, 2.0, 1_000_000, 200.0) == pytest.approx(2.0)
    assert growth_exponent(100_000, 5.0, 1_000_000, 5.0) == pytest.approx(0.0)
    assert growth_exponent(100_000, 1.0, 1_000_000, math.sqrt(10)) == pytest.approx(0.5)


@pytest.mark.parametrize(("v0", "v1"), [(None, 1.0), (1.0, None), (0.0, 1.0), (1.0, -1.0)])
def test_growth_exponent_of_a_missing_or_non_positive_value_is_none(
    v0: float | None, v1: float | None
) -> None:
    assert growth_exponent(100_000, v0, 1_000_000, v1) is None


def test_sizes_parse_in_order_and_refuse_unknown_ones() -> None:
    assert parse_sizes("1m, 10k,1M") == ["10k", "1m"]
    with pytest.raises(ValueError, match="10k"):
        parse_sizes("2m")
    with pytest.raises(ValueError, match="sizes"):
        parse_sizes("")


def test_a_goal_against_a_limit_another_measure_or_nothing_measured() -> None:
    results = {"1m": {"mc_s": 3.0, "snapshot_build_s": 9.0, "nx_build_s": 6.0}}
    assert Goal("1m", "mc_s", "<", 10).check(results) is True
    assert Goal("1m", "mc_s", "<", 2).check(results) is False
    assert Goal("1m", "snapshot_build_s", "<=", than="nx_build_s").check(results) is False
    assert Goal("1m", "spof_s", "<", 1).check(results) is None
    assert Goal("100k", "mc_s", "<", 10).check(results) is None


def test_every_goal_names_a_measure_and_a_size() -> None:
    keys = {m.key for m in MEASURES}
    assert all(g.key in keys and g.size in ("100k", "1m") for g in GOALS)


def test_exponent_checks_linear_met_quadratic_missed_rate_inverted() -> None:
    results = {
        "100k": {"load_s": 10.0, "validate_s": 10.0, "ingest_rate": 10_000.0},
        "1m": {"load_s": 100.0, "validate_s": 1_000.0, "ingest_rate": 1_000.0},
    }
    checks = {c.key: c for c in exponent_checks(results)}
    assert checks["load_s"].met is True
    assert checks["validate_s"].met is False
    # a rate falling 10x is a cost per message growing 10x: exponent -1, within 1.1
    assert checks["ingest_rate"].exponent == pytest.approx(-1.0)
    assert checks["ingest_rate"].met is True
    assert checks["mc_s"].met is None


def test_a_measure_may_grow_as_fast_as_its_work_and_tx_memory_not_at_all() -> None:
    results = {
        "100k": {"spof_s": 0.01, "spof_ancestors": 100.0, "neo4j_tx_mb": 50.0},
        "1m": {"spof_s": 1.0, "spof_ancestors": 10_000.0, "neo4j_tx_mb": 500.0},
    }
    checks = {c.key: c for c in exponent_checks(results)}
    assert checks["spof_s"].work_exponent == pytest.approx(2.0)
    assert checks["spof_s"].limit == pytest.approx(2.1)
    assert checks["spof_s"].met is True
    assert checks["neo4j_tx_mb"].limit == pytest.approx(0.2)
    assert checks["neo4j_tx_mb"].met is False


def test_the_record_keeps_other_sizes_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "scale.json"
    assert recorded_values(read_record(path)) == {}
    first = record(read_record(path), {"10k": {"load_s": 1.0}, "1m": {"load_s": 90.0}}, {})
    write_record(path, first)
    second = record(read_record(path), {"10k": {"load_s": 2.0}}, {"commit": "abc"})
    write_record(path, second)
    document = read_record(path)
    assert recorded_values(document) == {"10k": {"load_s": 2.0}, "1m": {"load_s": 90.0}}
    assert document["sizes"]["10k"]["commit"] == "abc"


def test_a_file_not_of_ours_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"format": 99}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"not a bench/scale\.py record"):
        read_record(path)


def test_the_change_against_the_recorded_run() -> None:
    lines = change_lines(
        {"100k": {"load_s": 15.0, "mc_s": 1.0, "ingest_rate": 5_000.0}},
        {"100k": {"load_s": 10.0, "mc_s": 1.02, "ingest_rate": 10_000.0}, "1m": {"load_s": 1.0}},
    )
    text = "\n".join(lines)
    assert "100k against the recorded run" in text
    assert "1m" not in text
    load = next(line for line in lines if "first load" in line)
    assert "+50%" in load
    assert "WORSE" in load
    monte_carlo = next(line for line in lines if "Monte Carlo" in line)
    assert "WORSE" not in monte_carlo  # within 10%
    assert "better" not in monte_carlo
    assert "WORSE" in next(line for line in lines if "ingestion sustained" in line)


def test_the_final_table_marks_recorded_values_and_judges_goals() -> None:
    results = {"1m": {"mc_s": 12.0, "load_s": 100.0}}
    recorded = {"100k": {"load_s": 10.0}}
    table = final_table(results, recorded)
    load = next(line for line in table if line.startswith("first load (sync)"))
    assert "10.0r" in load
    assert "1.00" in load
    assert load.endswith("met")
    assert next(line for line in table if "Monte Carlo" in line).endswith("MISSED")
    goals = goal_lines(results, recorded)
    assert any("mc_s < 10 s at 1m: MISSED" in line for line in goals)
    assert not any("at 100k" in line for line in goals)  # 100k was not measured in this run
