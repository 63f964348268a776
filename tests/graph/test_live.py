"""Live values written to point nodes in the real Neo4j: a newer observation lands, an
older one never does, and a write names the points it updated and those that were stale."""

from __future__ import annotations

from neo4j import Driver

from graph.live import LiveValue, write_live_values

IRI = "urn:test:point"
SECOND = "urn:test:second"


def make_point(driver: Driver, iri: str = IRI) -> None:
    driver.execute_query(
        "CREATE (:Twin:Point {iri: $iri, id: $iri, mqttTopic: $iri, unit: 'KiloW'})", iri=iri
    )


def state_of(driver: Driver, iri: str = IRI) -> tuple[object, object, object]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Twin {iri: $iri}) RETURN p.value AS v, p.observedAt.epochMillis AS t, "
        "p.stale AS stale",
        iri=iri,
    )
    return records[0]["v"], records[0]["t"], records[0]["stale"]


def live(value: float, at_ms: int, iri: str = IRI) -> LiveValue:
    return LiveValue(iri, value, at_ms, at_ms + 5, "good")


def test_a_newer_value_lands_and_an_older_one_is_skipped(driver: Driver) -> None:
    make_point(driver)
    assert write_live_values(driver, [live(1.0, 2_000)]).applied == (IRI,)
    assert write_live_values(driver, [live(2.0, 1_000)]).applied == ()
    assert write_live_values(driver, [live(3.0, 2_000)]).applied == ()  # not newer either
    assert state_of(driver) == (1.0, 2_000, False)


def test_a_batch_names_what_it_updated_and_what_was_stale(driver: Driver) -> None:
    make_point(driver)
    make_point(driver, SECOND)
    write_live_values(driver, [live(0.5, 5_000, SECOND)])
    driver.execute_query("MATCH (p:Twin {iri: $iri}) SET p.stale = true", iri=IRI)
    written = write_live_values(driver, [live(6.0, 1_000), live(7.0, 4_000, SECOND)])
    assert written.applied == (IRI,)
    assert written.fresh == (IRI,)
    assert state_of(driver) == (6.0, 1_000, False)
    assert state_of(driver, SECOND) == (0.5, 5_000, False)
