"""Live values written to point nodes in the real Neo4j: a newer observation lands, an
older one never does; at an equal time the later message wins unless it is a copy of one
already seen (its key); a write names the points it updated and those that were stale;
a value the driver cannot send is refused as such, and nothing of its write lands."""

from __future__ import annotations

import threading
import time

import pytest
from neo4j import Driver

from kgtwin.graph.errors import ValueRefused
from kgtwin.graph.live import MAX_KEYS, Applied, LiveValue, write_live_values

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


def live(
    value: object,
    at_ms: int,
    iri: str = IRI,
    keys: tuple[str, ...] = (),
    redelivered: bool = False,
) -> LiveValue:
    return LiveValue(iri, value, at_ms, at_ms + 5, "good", keys, redelivered)  # type: ignore[arg-type]


def applied(driver: Driver, value: LiveValue) -> bool:
    return write_live_values(driver, [value]).applied == (value.iri,)


def test_a_newer_value_lands_and_an_older_one_is_skipped(driver: Driver) -> None:
    make_point(driver)
    assert applied(driver, live(1.0, 2_000, keys=("a",)))
    assert not applied(driver, live(2.0, 1_000, keys=("b",)))
    assert state_of(driver) == (1.0, 2_000, False)


def test_equal_times_the_later_message_wins(driver: Driver) -> None:
    """Gateways stamp whole seconds: 101 then 102 in one second, the device's last is 102."""
    make_point(driver)
    assert applied(driver, live(101.0, 5_000, keys=("m1",)))
    assert applied(driver, live(102.0, 5_000, keys=("m2",)))
    assert state_of(driver) == (102.0, 5_000, False)


def test_a_redelivered_copy_of_an_older_message_never_overwrites(driver: Driver) -> None:
    make_point(driver)
    assert applied(driver, live(101.0, 5_000, keys=("m1",)))
    assert applied(driver, live(102.0, 5_000, keys=("m2",)))
    # after a crash the broker delivers both again, in order, flagged as redelivered
    assert not applied(driver, live(101.0, 5_000, keys=("m1",), redelivered=True))
    assert not applied(driver, live(102.0, 5_000, keys=("m2",), redelivered=True))
    assert state_of(driver) == (102.0, 5_000, False)


def test_a_message_superseded_within_its_batch_cannot_win_when_redelivered(
    driver: Driver,
) -> None:
    make_point(driver)
    assert applied(driver, live(102.0, 5_000, keys=("m1", "m2")))  # m1 lost in its batch
    assert not applied(driver, live(101.0, 5_000, keys=("m1",), redelivered=True))
    assert state_of(driver) == (102.0, 5_000, False)


def test_a_redelivered_message_never_applied_still_wins_its_tie(driver: Driver) -> None:
    """m1 was applied before the crash, m2 only received: m2 comes again and wins."""
    make_point(driver)
    assert applied(driver, live(101.0, 5_000, keys=("m1",)))
    assert applied(driver, live(102.0, 5_000, keys=("m2",), redelivered=True))
    assert state_of(driver) == (102.0, 5_000, False)


def test_a_redelivered_unknown_message_loses_once_the_keys_may_have_been_cut(
    driver: Driver,
) -> None:
    make_point(driver)
    keys = tuple(f"k{n}" for n in range(MAX_KEYS + 5))
    assert applied(driver, live(1.0, 5_000, keys=keys))
    # k0..k4 fell out of the list: a redelivered copy of one of them must not win
    assert not applied(driver, live(0.0, 5_000, keys=("k0",), redelivered=True))
    # a message delivered for the first time does
    assert applied(driver, live(2.0, 5_000, keys=("new",)))
    assert state_of(driver) == (2.0, 5_000, False)


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


@pytest.mark.parametrize(
    "value",
    [2**63, "\ud800", "ok \udfff"],
    ids=["int-past-64-bits", "lone-surrogate", "lone-low-surrogate"],
)
def test_a_value_the_driver_cannot_send_is_refused_and_nothing_lands(
    driver: Driver, value: object
) -> None:
    """Before issue 21 the driver's OverflowError and UnicodeEncodeError escaped as they
    were and killed the ingestion writer thread."""
    make_point(driver)
    make_point(driver, SECOND)
    with pytest.raises(ValueRefused, match="cannot send a value"):
        write_live_values(driver, [live(1.0, 1_000, SECOND), live(value, 1_000)])
    assert state_of(driver, SECOND) == (None, None, None)


def test_two_workers_writing_one_point_at_once_the_newer_value_stays(driver: Driver) -> None:
    """Regression (several workers in a share group): a write that checked observedAt
    before it waited for another's lock on the point then overwrote that write's newer
    value with its older one. One transaction writes 5 s and holds the point; the other
    writes 3 s meanwhile and must find 5 s once the lock is free."""
    make_point(driver)
    assert applied(driver, live(0.0, 1_000))
    outcome: list[Applied] = []
    with driver.session() as session:
        newer = session.begin_transaction()
        newer.run(
            "MATCH (p:Twin {iri: $iri}) SET p.value = 5.0, "
            "p.observedAt = datetime({epochMillis: 5000})",
            iri=IRI,
        ).consume()
        older = threading.Thread(
            target=lambda: outcome.append(write_live_values(driver, [live(3.0, 3_000)]))
        )
        older.start()
        deadline = time.monotonic() + 30
        while not blocked(driver) and older.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        newer.commit()
    older.join(30)
    (written,) = outcome
    assert written.applied == ()
    assert state_of(driver)[:2] == (5.0, 5_000)


def blocked(driver: Driver) -> bool:
    """Whether a transaction waits for a lock."""
    records, _, _ = driver.execute_query(
        "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' RETURN count(*) AS n"
    )
    return bool(records[0]["n"])
