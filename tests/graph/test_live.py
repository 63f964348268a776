"""Live values written to point nodes in the real Neo4j: found by the element id read with
the point, or by IRI when there is none or its node was deleted and made again; never onto
another node that took over a deleted node's element id; older observations never win."""

from __future__ import annotations

from neo4j import Driver

from graph.live import LiveValue, read_points, write_live_values
from graph.reader import Reader

IRI = "urn:test:point"


def make_point(driver: Driver, iri: str = IRI) -> None:
    driver.execute_query(
        "CREATE (:Twin:Point {iri: $iri, id: $iri, mqttTopic: $iri, unit: 'KiloW'})", iri=iri
    )


def value_of(driver: Driver, iri: str = IRI) -> object:
    records, _, _ = driver.execute_query("MATCH (p:Twin {iri: $iri}) RETURN p.value AS v", iri=iri)
    return records[0]["v"] if records else None


def live(value: float, at_ms: int, element_id: str | None, iri: str = IRI) -> LiveValue:
    return LiveValue(iri, value, at_ms, at_ms, "good", element_id)


def element_id(driver: Driver, iri: str = IRI) -> str | None:
    (point,) = [p for p in read_points(Reader(driver)) if p.iri == iri]
    return point.element_id


def test_a_value_lands_by_element_id_and_an_older_one_is_skipped(driver: Driver) -> None:
    make_point(driver)
    eid = element_id(driver)
    assert eid is not None
    assert write_live_values(driver, [live(1.0, 2_000, eid)]).applied == (IRI,)
    assert write_live_values(driver, [live(2.0, 1_000, eid)]).applied == ()
    assert value_of(driver) == 1.0


def test_a_value_without_element_id_lands_by_iri(driver: Driver) -> None:
    make_point(driver)
    assert write_live_values(driver, [live(3.0, 1_000, None)]).applied == (IRI,)
    assert value_of(driver) == 3.0


def test_a_point_made_again_is_found_by_iri(driver: Driver) -> None:
    make_point(driver)
    old = element_id(driver)
    driver.execute_query("MATCH (p:Twin {iri: $iri}) DELETE p", iri=IRI)
    make_point(driver)
    assert write_live_values(driver, [live(4.0, 1_000, old)]).applied == (IRI,)
    assert value_of(driver) == 4.0


def test_an_element_id_now_of_another_node_never_writes_onto_it(driver: Driver) -> None:
    """As when Neo4j has handed a deleted point's element id to a new node."""
    make_point(driver)
    make_point(driver, "urn:test:other")
    someone_elses = element_id(driver, "urn:test:other")
    assert write_live_values(driver, [live(5.0, 1_000, someone_elses)]).applied == (IRI,)
    assert (value_of(driver), value_of(driver, "urn:test:other")) == (5.0, None)


def test_a_batch_mixes_both_ways_and_reports_what_was_stale(driver: Driver) -> None:
    make_point(driver)
    make_point(driver, "urn:test:second")
    driver.execute_query("MATCH (p:Twin {iri: $iri}) SET p.stale = true", iri=IRI)
    written = write_live_values(
        driver,
        [live(6.0, 1_000, element_id(driver)), live(7.0, 1_000, None, "urn:test:second")],
    )
    assert set(written.applied) == {IRI, "urn:test:second"}
    assert written.fresh == (IRI,)
    assert (value_of(driver), value_of(driver, "urn:test:second")) == (6.0, 7.0)
