"""Simulated point values on the example site: every value fits its point, the powers add
up, faults show in the telemetry, and the same seed gives the same values."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from kgtwin.devkit.errors import NothingToSimulate
from kgtwin.devkit.telemetry import DAY, Quantity, Sample, SiteTelemetry, load_factor
from kgtwin.simulation.errors import UnknownAsset
from tests.simulation.sites import Site

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
NOON = T0 + DAY / 2
SCENARIOS = [
    (),
    ("ups-a1",),
    ("utility-feed-a",),
    ("utility-feed-a", "generator-a"),
    ("chw-pump-1",),
    ("chw-pump-1", "chw-pump-2"),
    ("chiller-1", "chiller-2"),
    ("crah-h1-01", "crah-h1-02"),
    ("mech-board-a",),
    ("rack-h1-r03",),
]


def telemetry(site: Site, *faults: str, seed: int = 0) -> SiteTelemetry:
    return SiteTelemetry(site.points, site.snapshot, site.locations, faults, seed)


def values(site: Site, *faults: str, at: float = NOON) -> dict[str, Sample]:
    return {s.point.id: s for s in telemetry(site, *faults).sample_all(at)}


def value(samples: dict[str, Sample], point_id: str) -> float:
    v = samples[point_id].value
    assert not isinstance(v, bool | str), (point_id, v)
    return float(v)


def total(samples: dict[str, Sample], ids: Iterable[str]) -> float:
    return sum(value(samples, i) for i in ids)


def racks(first: int, last: int, hall: int = 1) -> list[str]:
    return [f"rack-h{hall}-r{n:02d}" for n in range(first, last + 1)]


@pytest.mark.parametrize("faults", SCENARIOS, ids=lambda f: "+".join(f) or "normal")
def test_every_value_fits_its_point(dc1_site: Site, faults: tuple[str, ...]) -> None:
    model = telemetry(dc1_site, *faults, seed=7)
    for hour in range(0, 24, 5):
        for sample in model.sample_all(T0 + hour * 3600.0):
            point, v = sample.point, sample.value
            expected = {"double": float, "integer": int, "boolean": bool, "string": str}
            assert type(v) is expected[point.datatype or "double"], (point.id, v)
            if isinstance(v, int | float) and not isinstance(v, bool):
                assert point.min_value is None or v >= point.min_value, (point.id, v)
                assert point.max_value is None or v <= point.max_value, (point.id, v)
            assert sample.quality in ("good", "bad")


def test_every_point_of_the_example_site_is_understood(dc1_site: Site) -> None:
    model = telemetry(dc1_site)
    nominal = [p.id for i, p in enumerate(model.points) if model.quantity(i) is Quantity.NOMINAL]
    assert nominal == []


def test_a_pdu_reports_about_the_sum_of_what_its_racks_take_from_it(dc1_site: Site) -> None:
    samples = values(dc1_site)
    for pdu, feed, first in (("pdu-h1-a1", "a", 1), ("pdu-h1-b2", "b", 21), ("pdu-h2-a2", "a", 21)):
        hall = int(pdu[5])
        shares = total(samples, (f"{r}.power-{feed}" for r in racks(first, first + 19, hall)))
        assert value(samples, f"{pdu}.output-power") == pytest.approx(shares, rel=0.03)


def test_with_a_ups_failed_its_pdus_read_0_and_the_b_side_carries_the_racks(
    dc1_site: Site,
) -> None:
    normal, failed = values(dc1_site), values(dc1_site, "ups-a1")
    for point in ("ups-a1.output-power", "pdu-h1-a1.output-power", "pdu-h1-a2.output-power"):
        assert value(failed, point) == 0
    assert value(failed, "pdu-h1-a1.current") == 0
    assert value(failed, "pdu-h1-a1.output-voltage") == 0
    assert all(value(failed, f"{r}.power-a") == 0 for r in racks(1, 20))
    whole = total(failed, (f"{r}.power-b" for r in racks(1, 20)))
    assert value(failed, "pdu-h1-b1.output-power") == pytest.approx(whole, rel=0.03)
    assert value(failed, "pdu-h1-b1.output-power") == pytest.approx(
        2 * value(normal, "pdu-h1-b1.output-power"), rel=0.05
    )
    # hall 2 is on ups-a2: untouched
    assert value(failed, "pdu-h2-a1.output-power") == pytest.approx(
        value(normal, "pdu-h2-a1.output-power"), rel=0.05
    )


def reported_failed(samples: dict[str, Sample]) -> set[str]:
    """The assets whose status points read their failed value (kgt:failedWhen)."""
    return {
        str(s.point.asset_id)
        for s in samples.values()
        if s.point.failed_when is not None and s.value == s.point.failed_when
    }


@pytest.mark.parametrize("faults", SCENARIOS, ids=lambda f: "+".join(f) or "normal")
def test_the_status_points_report_what_is_failed_and_down(
    dc1_site: Site, faults: tuple[str, ...]
) -> None:
    model = telemetry(dc1_site, *faults)
    reported = reported_failed({s.point.id: s for s in model.sample_all(NOON)})
    flagged = {p.asset_id for p in model.points if p.failed_when is not None}
    down = {dc1_site.snapshot.ids[n] for n in model.plant.down}
    # a failed asset with a status point that can say so says so; an asset that is up never
    # does; a down one may (a server whose rack lost power fails its health check)
    assert flagged & set(faults) <= reported <= flagged & down


def test_a_failed_ups_raises_its_fault_and_no_other(dc1_site: Site) -> None:
    normal, failed = values(dc1_site), values(dc1_site, "ups-a1")
    assert reported_failed(normal) == set()
    assert reported_failed(failed) == {"ups-a1"}
    assert failed["ups-a1.fault"].value is True
    assert failed["ups-b1.fault"].value is False
    assert reported_failed(values(dc1_site, "utility-feed-a")) == {"utility-feed-a"}


def test_a_failed_pump_reports_no_flow_and_not_running(dc1_site: Site) -> None:
    normal, failed = values(dc1_site), values(dc1_site, "chw-pump-1")
    for point in ("flow", "differential-pressure", "speed", "motor-power"):
        assert value(failed, f"chw-pump-1.{point}") == 0
    assert failed["chw-pump-1.running"].value is False
    assert normal["chw-pump-1.running"].value is True
    assert value(failed, "chw-pump-1.vibration") < 0.5 < value(normal, "chw-pump-1.vibration")
    assert value(failed, "chw-pump-2.flow") > 1.3 * value(normal, "chw-pump-2.flow")
    assert value(failed, "chw-loop.flow") == pytest.approx(value(normal, "chw-loop.flow"), rel=0.05)


def test_temperatures_rise_when_the_cooling_zone_is_down(dc1_site: Site) -> None:
    normal, warm = values(dc1_site), values(dc1_site, "crah-h1-01", "crah-h1-02")
    zone = "cooling-zone-h1.cold-aisle-temperature"
    assert value(warm, zone) > value(normal, zone) + 5
    assert value(warm, "cooling-zone-h2.cold-aisle-temperature") == pytest.approx(
        value(normal, "cooling-zone-h2.cold-aisle-temperature"), abs=0.5
    )
    for rack in ("rack-h1-r01", "rack-h1-r40"):
        for point in ("inlet-temperature", "exhaust-temperature"):
            assert value(warm, f"{rack}.{point}") > value(normal, f"{rack}.{point}") + 5
    assert warm["crah-h1-01.running"].value is False
    assert value(warm, "crah-h1-01.fan-speed") == 0


def test_rack_exhaust_is_warmer_than_its_inlet_by_its_load(dc1_site: Site) -> None:
    samples = values(dc1_site)
    for rack in racks(1, 40):
        rise = value(samples, f"{rack}.exhaust-temperature") - value(
            samples, f"{rack}.inlet-temperature"
        )
        load = value(samples, f"{rack}.power-a") + value(samples, f"{rack}.power-b")
        assert 1.5 * load < rise < 3.5 * load + 1


def test_the_generator_runs_when_its_utility_feed_is_lost(dc1_site: Site) -> None:
    normal, lost = values(dc1_site), values(dc1_site, "utility-feed-a")
    assert normal["generator-a.running"].value is False
    assert value(normal, "generator-a.output-power") == 0
    assert normal["switchgear-a.active-source"].value == "utility"
    assert lost["utility-feed-a.available"].value is False
    assert value(lost, "utility-feed-a.power") == 0
    assert value(lost, "utility-feed-a.voltage-mv") == 0
    assert lost["utility-feed-a.frequency"].quality == "bad"
    assert lost["generator-a.running"].value is True
    assert lost["switchgear-a.active-source"].value == "generator"
    assert value(lost, "generator-a.engine-speed") > 1000
    assert value(lost, "generator-a.output-power") == pytest.approx(
        value(lost, "switchgear-a.power"), rel=0.05
    )
    assert value(lost, "pdu-h1-a1.output-power") > 0  # the racks never noticed
    both = values(dc1_site, "utility-feed-a", "generator-a")
    assert both["switchgear-a.active-source"].value == "none"
    assert value(both, "pdu-h1-a1.output-power") == 0


def test_it_services_report_their_hosts_and_instances(dc1_site: Site) -> None:
    failed = values(dc1_site, "rack-h1-r03")  # hosts web-01
    assert failed["web-01.healthy"].value is False
    assert failed["web-02.healthy"].value is True
    assert failed["svc-web.healthy-instances"].value == 2
    assert values(dc1_site)["svc-web.healthy-instances"].value == 3


def test_the_electrical_load_follows_the_daily_it_load(dc1_site: Site) -> None:
    model = telemetry(dc1_site)
    assert load_factor(T0 + 16 * 3600) > load_factor(T0 + 4 * 3600) + 0.1
    night = {s.point.id: s for s in model.sample_all(T0 + 4 * 3600)}
    afternoon = {s.point.id: s for s in model.sample_all(T0 + 16 * 3600)}
    for point in ("utility-feed-a.power", "ups-b2.output-power", "chiller-1.cooling-output"):
        assert value(afternoon, point) > 1.08 * value(night, point)


def test_energy_meters_count_up_with_the_power(dc1_site: Site) -> None:
    model = telemetry(dc1_site)
    (index,) = (i for i, p in enumerate(model.points) if p.id == "ups-a1.output-energy")
    readings = [model.sample([index], NOON + minutes * 60.0)[0].value for minutes in range(4)]
    assert readings == sorted(readings)
    power = value(values(dc1_site), "ups-a1.output-power")
    assert float(readings[-1]) - float(readings[0]) == pytest.approx(power * 3 / 60, rel=0.05)


def test_the_same_seed_gives_the_same_values(dc1_site: Site) -> None:
    times = [NOON + k * 7.3 for k in range(5)]

    def run(seed: int) -> list[object]:
        model = telemetry(dc1_site, "ups-a1", seed=seed)
        return [s.value for t in times for s in model.sample_all(t)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_the_values_do_not_depend_on_the_order_the_points_are_read_in(dc1_site: Site) -> None:
    ahead = SiteTelemetry(dc1_site.points, dc1_site.snapshot, dc1_site.locations, seed=5)
    behind = SiteTelemetry(dc1_site.points[::-1], dc1_site.snapshot, dc1_site.locations, seed=5)
    assert [s.value for s in ahead.sample_all(NOON)] == [s.value for s in behind.sample_all(NOON)]


def test_noise_moves_the_values_but_not_past_the_physics(dc1_site: Site) -> None:
    model = telemetry(dc1_site)
    readings = [
        value({s.point.id: s for s in model.sample_all(NOON + k * 30.0)}, "pdu-h1-a1.output-power")
        for k in range(10)
    ]
    assert len(set(readings)) > 1
    assert max(readings) < 1.03 * min(readings)


def test_an_unknown_fault_is_refused(dc1_site: Site) -> None:
    with pytest.raises(UnknownAsset, match="did you mean"):
        telemetry(dc1_site, "chw-pump-9")


def test_a_graph_without_points_has_nothing_to_simulate(dc1_site: Site) -> None:
    with pytest.raises(NothingToSimulate, match="load a site"):
        SiteTelemetry([], dc1_site.snapshot, dc1_site.locations)


def test_faults_that_begin_later_leave_the_plant_as_it_was_until_then(dc1_site: Site) -> None:
    model = SiteTelemetry(
        dc1_site.points, dc1_site.snapshot, dc1_site.locations, ("ups-a1",), faults_from=NOON
    )
    before = {s.point.id: s for s in model.sample_all(NOON - 1)}
    after = {s.point.id: s for s in model.sample_all(NOON)}
    normal = values(dc1_site, at=NOON - 1)
    assert reported_failed(before) == set()
    assert reported_failed(after) == {"ups-a1"}
    assert value(before, "pdu-h1-a1.output-power") == value(normal, "pdu-h1-a1.output-power")
    assert value(after, "pdu-h1-a1.output-power") == 0
    assert value(after, "pdu-h1-b1.output-power") == pytest.approx(
        2 * value(before, "pdu-h1-b1.output-power"), rel=0.05
    )
