"""bench/scale_out_*.py's pure helpers, and the synthetic site's optional UPS fault points."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rdflib import Graph, Literal, Namespace

from bench.scale_out_events import LAG_LIMIT, Counts, Step, best
from bench.scale_out_risk import percentile
from bench.synthetic import write_site
from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.validate import Ontology, validate

KGT = Namespace("https://w3id.org/kgtwin/core#")
S = Namespace("https://w3id.org/kgtwin/site/synthetic#")


def test_percentile_is_the_nearest_rank_and_skips_nan() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0, float("nan"), 1.0], 50) == 1.0
    assert percentile([0.2], 95) == 0.2
    assert math.isnan(percentile([float("nan")], 95))


def test_counts_subtract_per_subscriber() -> None:
    before = Counts((1, 2), (0, 1), (10.0, 11.0))
    after = Counts((5, 9), (0, 3), (20.0, 21.0))
    assert after.minus(before) == Counts((4, 7), (0, 2), (20.0, 21.0))


def step(rate: float, got: tuple[int, ...], carried: int, lag: float) -> Step:
    return Step(len(got), rate, published=carried, seconds=2.0, carried=carried, got=got, lag=lag)


def test_a_rate_is_kept_up_with_only_when_every_subscriber_got_every_event_in_time() -> None:
    assert step(100, (50, 50), 50, 0.1).complete
    assert not step(100, (50, 49), 50, 0.1).every_event
    assert step(100, (50, 50), 50, LAG_LIMIT + 1).every_event
    assert not step(100, (50, 50), 50, LAG_LIMIT + 1).complete


def test_the_best_rate_is_the_highest_kept_up_with() -> None:
    steps = [
        step(25, (50, 50), 50, 0.1),
        step(50, (100, 100), 100, 0.2),
        step(100, (200, 200), 200, 3.0),  # every event, too late
        step(200, (300, 250), 400, 9.0),
    ]
    assert best(steps, 2).rate == 50
    assert best(steps, 2, lag=False).rate == 100
    assert best(steps, 1).step is None


def test_ups_fault_points_are_off_by_default_and_shaped_as_dc1s(tmp_path: Path) -> None:
    plain, faults = tmp_path / "plain.ttl", tmp_path / "faults.ttl"
    size = write_site(plain, 2_000, 6_000)
    with_faults = write_site(faults, 2_000, 6_000, ups_status=True)
    assert "fault" not in plain.read_text()
    graph = Graph().parse(faults)
    points = set(graph.subjects(KGT.failedWhen, Literal(True)))
    ups = len(points)
    assert ups == with_faults.nodes - size.nodes > 0
    point = S["ups-0.fault"]
    assert (S["ups-0"], KGT.hasPoint, point) in graph
    assert graph.value(point, KGT.datatype) == Literal("boolean")
    assert graph.value(point, KGT.mqttTopic) == Literal("synthetic/ups-0/fault")
    assert graph.value(point, KGT.expectedInterval) is not None
    assert str(graph.value(point, KGT.unit)).endswith("UNITLESS")


@pytest.mark.parametrize("ups_status", [False, True])
def test_the_synthetic_site_validates_with_or_without_fault_points(
    tmp_path: Path, ups_status: bool
) -> None:
    site = tmp_path / "site.ttl"
    write_site(site, 2_000, 6_000, ups_status=ups_status)
    report = validate([site], Ontology.load(default_ontology_files()))
    assert report.ok, [p.render() for p in report.problems[:5]]
