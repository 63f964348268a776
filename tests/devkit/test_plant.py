"""The plant model on the example site: load routed up the supply tree over the working
suppliers, transfer to the generator, the cooling chain, and faults named by id."""

from __future__ import annotations

import pytest

from kgtwin.devkit.plant import EFFICIENCY, Plant, PlantState, Role, resolve_assets
from kgtwin.simulation.errors import UnknownAsset
from tests.simulation.sites import Site

FULL_LOAD = 1.0


def state(site: Site, *faults: str, load: float = FULL_LOAD) -> PlantState:
    snapshot = site.snapshot
    return Plant(snapshot, resolve_assets(snapshot, faults), site.locations).state(load)


def node(site: Site, asset_id: str) -> int:
    return site.snapshot.by_id[asset_id]


def racks_of(site: Site, pdu: str) -> list[int]:
    return list(site.snapshot.consumers[node(site, pdu)])


def test_a_pdu_delivers_what_its_racks_take_from_it(dc1_site: Site) -> None:
    plant = state(dc1_site)
    for pdu in ("pdu-h1-a1", "pdu-h1-b2", "pdu-h2-a2"):
        p = node(dc1_site, pdu)
        taken = sum(plant.drawn[(p, rack)] for rack in racks_of(dc1_site, pdu))
        assert plant.output[p] == pytest.approx(taken)
        # a dual-corded rack takes half its load from each side
        for rack in racks_of(dc1_site, pdu):
            assert plant.drawn[(p, rack)] == pytest.approx(plant.draw[rack] / 2)


def test_the_load_goes_up_through_ups_switchgear_transformer_and_feed(dc1_site: Site) -> None:
    plant = state(dc1_site)
    ups = node(dc1_site, "ups-a1")
    pdus = [node(dc1_site, "pdu-h1-a1"), node(dc1_site, "pdu-h1-a2")]
    assert plant.output[ups] == pytest.approx(sum(plant.output[p] for p in pdus))
    switchgear, transformer, feed = (
        node(dc1_site, name) for name in ("switchgear-a", "transformer-a", "utility-feed-a")
    )
    consumers = [node(dc1_site, name) for name in ("ups-a1", "ups-a2", "mech-board-a")]
    assert plant.output[switchgear] == pytest.approx(
        sum(plant.drawn[(switchgear, c)] for c in consumers)
    )
    assert plant.drawn[(switchgear, ups)] == pytest.approx(plant.output[ups] / EFFICIENCY[Role.UPS])
    assert plant.source[switchgear] == transformer
    assert plant.output[feed] == pytest.approx(
        plant.output[transformer] / EFFICIENCY[Role.TRANSFORMER]
    )
    assert plant.output[node(dc1_site, "generator-a")] == 0
    assert not plant.running(node(dc1_site, "generator-a"))


def test_with_a_ups_failed_its_pdus_carry_nothing_and_the_b_side_carries_everything(
    dc1_site: Site,
) -> None:
    normal, failed = state(dc1_site), state(dc1_site, "ups-a1")
    assert failed.down == {node(dc1_site, n) for n in ("ups-a1", "pdu-h1-a1", "pdu-h1-a2")}
    for pdu in ("pdu-h1-a1", "pdu-h1-a2"):
        assert failed.output[node(dc1_site, pdu)] == 0
    b1 = node(dc1_site, "pdu-h1-b1")
    racks = racks_of(dc1_site, "pdu-h1-b1")
    assert failed.output[b1] == pytest.approx(sum(failed.draw[r] for r in racks))
    assert failed.output[b1] == pytest.approx(2 * normal.output[b1])
    assert failed.output[node(dc1_site, "ups-b1")] == pytest.approx(
        2 * normal.output[node(dc1_site, "ups-b1")]
    )


def test_the_switchgear_runs_on_the_generator_when_the_utility_feed_is_lost(
    dc1_site: Site,
) -> None:
    plant = state(dc1_site, "utility-feed-a")
    switchgear, generator = node(dc1_site, "switchgear-a"), node(dc1_site, "generator-a")
    assert switchgear not in plant.down
    assert plant.source[switchgear] == generator
    assert plant.running(generator)
    assert plant.output[generator] == pytest.approx(plant.output[switchgear])
    assert plant.output[node(dc1_site, "transformer-a")] == 0
    assert not plant.running(node(dc1_site, "generator-b"))


def test_a_transfer_switch_moves_to_its_other_board(dc1_site: Site) -> None:
    ats = node(dc1_site, "ats-mech-h1")
    assert state(dc1_site).source[ats] == node(dc1_site, "mech-board-a")
    moved = state(dc1_site, "mech-board-a")
    assert moved.source[ats] == node(dc1_site, "mech-board-b")
    assert moved.output[ats] > 0


def test_the_it_load_follows_the_load_factor_up_to_the_feeds(dc1_site: Site) -> None:
    low, high = state(dc1_site, load=0.8), state(dc1_site, load=1.0)
    for name in ("rack-h1-r01", "pdu-h2-b2", "ups-b2", "utility-feed-b"):
        assert high.output[node(dc1_site, name)] > low.output[node(dc1_site, name)]
    assert high.draw[node(dc1_site, "rack-h1-r01")] == pytest.approx(
        dc1_site.snapshot.design_load[node(dc1_site, "rack-h1-r01")]
    )


def test_a_failed_pump_gives_nothing_and_the_others_share_its_flow(dc1_site: Site) -> None:
    normal, failed = state(dc1_site), state(dc1_site, "chw-pump-1")
    pump = node(dc1_site, "chw-pump-1")
    assert pump not in failed.cooling.pump_flow
    assert failed.draw[pump] == 0
    assert failed.cooling.loop_flow == pytest.approx(normal.cooling.loop_flow)
    other = node(dc1_site, "chw-pump-2")
    assert failed.cooling.pump_flow[other] == pytest.approx(1.5 * normal.cooling.pump_flow[other])
    assert failed.cooling.pump_head[other] > normal.cooling.pump_head[other]


def test_a_hall_warms_when_its_cooling_zone_is_down(dc1_site: Site) -> None:
    h1, h2 = node(dc1_site, "cooling-zone-h1"), node(dc1_site, "cooling-zone-h2")
    normal = state(dc1_site)
    assert normal.cooling.cold_aisle[h1] == pytest.approx(normal.cooling.cold_aisle[h2])
    for faults in (("crah-h1-01", "crah-h1-02"), ("cooling-zone-h1",)):
        warm = state(dc1_site, *faults)
        assert h1 in warm.down
        assert warm.cooling.cold_aisle[h1] >= normal.cooling.cold_aisle[h1] + 5
        assert warm.cooling.cold_aisle[h2] == normal.cooling.cold_aisle[h2]


def test_one_crah_unit_lost_keeps_the_zone_up_with_faster_fans(dc1_site: Site) -> None:
    normal, lost = state(dc1_site), state(dc1_site, "crah-h1-01")
    zone, other = node(dc1_site, "cooling-zone-h1"), node(dc1_site, "crah-h1-02")
    assert lost.cooling.cold_aisle[zone] == normal.cooling.cold_aisle[zone]
    assert lost.cooling.fan_speed[other] > normal.cooling.fan_speed[other]


def test_without_enough_chillers_the_chilled_water_warms_and_the_halls_with_it(
    dc1_site: Site,
) -> None:
    normal, failed = state(dc1_site), state(dc1_site, "chiller-1", "chiller-2")
    assert failed.cooling.chw_supply > normal.cooling.chw_supply + 5
    for zone in ("cooling-zone-h1", "cooling-zone-h2"):
        assert failed.cooling.cold_aisle[node(dc1_site, zone)] > 35


def test_racks_draw_nothing_once_both_their_pdus_are_down(dc1_site: Site) -> None:
    plant = state(dc1_site, "pdu-h1-a1", "pdu-h1-b1")
    for rack in racks_of(dc1_site, "pdu-h1-a1"):
        assert rack in plant.down
        assert plant.draw[rack] == 0
    assert plant.heat[node(dc1_site, "cooling-zone-h1")] == pytest.approx(
        state(dc1_site).heat[node(dc1_site, "cooling-zone-h2")] / 2, rel=0.1
    )


def test_an_unknown_asset_is_refused_with_the_closest_ids(dc1_site: Site) -> None:
    with pytest.raises(UnknownAsset, match=r"'ups-x1'.*did you mean ups-"):
        resolve_assets(dc1_site.snapshot, ["ups-a1", "ups-x1"])


def test_assets_are_named_by_id_or_iri(dc1_site: Site) -> None:
    ups = node(dc1_site, "ups-a1")
    iri = dc1_site.snapshot.iris[ups]
    assert resolve_assets(dc1_site.snapshot, ["ups-a1", iri]) == (ups,)
