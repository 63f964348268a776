"""Issue 21's poison messages, against the real Mosquitto and Neo4j with the example site:
no single message, and no unexpected error, stops ingestion; each poison message is
dead-lettered with its reason and counted, and the good ones around it are applied.

Findings 1 (times past 64 bits, lone surrogates; an error in a thread), 6 (bytes: large
payloads, a flood of them, the Receive Maximum) and 8 (unknown units, duplicate keys).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor

import pytest
from neo4j import Driver, Session

from kgtwin.ingest.batch import Message
from kgtwin.ingest.errors import Reason
from kgtwin.ingest.events import FailureChange, PointUpdate, StalenessChange
from kgtwin.ingest.worker import IngestWorker, _Written
from tests.ingest.mqtt_clients import Publisher, Running, Subscriber, running_worker, wait_until
from tests.ingest.test_worker import POSITION, POWER, POWER_ID, live, wait_value
from tests.ingest.test_worker_outages import double_points
from tests.mqtt_service import MqttService, unique


@pytest.fixture
def publisher(mqtt_broker: MqttService) -> Iterator[Publisher]:
    with Publisher(mqtt_broker.address) as publisher:
        yield publisher


@pytest.fixture
def dead_letters(mqtt_broker: MqttService) -> Iterator[Subscriber]:
    with Subscriber(mqtt_broker.address, "kgtwin/deadletter/#") as subscriber:
        yield subscriber


def reasons(running: Running) -> dict[str, float]:
    return {
        r.value: running.count("kgtwin_ingest_dead_letters_total", reason=r.value)
        for r in Reason
        if running.count("kgtwin_ingest_dead_letters_total", reason=r.value)
    }


def publish_good(
    publisher: Publisher, points: Sequence[tuple[str, str, float]], count: int
) -> dict[str, float]:
    """``count`` messages round the points, each value its own; the last value per point."""
    last: dict[str, float] = {}
    start = time.time() - 100
    for n in range(count):
        point_id, topic, low = points[n % len(points)]
        value = low + n / 1000
        publisher.send(topic, json.dumps({"value": value, "ts": round(start + n / 1000, 3)}))
        last[point_id] = value
    return last


def values_of(driver: Driver, ids: Sequence[str]) -> dict[str, float]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Point) WHERE p.id IN $ids RETURN p.id AS id, p.value AS value", ids=list(ids)
    )
    return {r["id"]: r["value"] for r in records}


POISON = [
    (POWER, b'{"value": 123.0, "ts": -1e19}', Reason.OUT_OF_RANGE),
    (POWER, b'[{"v": 123.0, "t": -1e16}]', Reason.OUT_OF_RANGE),
    (POWER, b'[{"bt": -1e17, "v": 123.0}]', Reason.OUT_OF_RANGE),
    (POSITION, b'"\\ud800"', Reason.UNPARSEABLE),
    (POWER, b'{"value": 100, "value": 200}', Reason.UNPARSEABLE),
]


def test_poison_times_and_surrogates_are_dead_lettered_and_the_stream_goes_on(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher, dead_letters: Subscriber
) -> None:
    """Before: the millisecond time of -1e19 s overflowed 64 bits and a lone surrogate
    could not be encoded: the driver's OverflowError / UnicodeEncodeError killed the writer
    thread, 1,000 good messages after it updated 0 points, and a restart got the poison
    message redelivered to die again."""
    points = double_points(site)[:100]
    client_id = unique("poison")
    with running_worker(site, mqtt_broker.address, client_id=client_id) as running:
        for topic, payload, _reason in POISON:
            publisher.send(topic, payload)
        last = publish_good(publisher, points, 1000)
        outcomes = running.settled(len(POISON) + 1000, timeout=60)
        assert outcomes["deadlettered"] == len(POISON)
        assert outcomes["applied"] + outcomes["outdated"] == 1000
        assert reasons(running) == {"out_of_range": 3, "unparseable": 2}
        assert values_of(site, list(last)) == last  # every point holds its last value
        assert running.worker.health().ok
        assert running.count("kgtwin_ingest_pipeline_errors_total", thread="writer") == 0
    letters = [json.loads(m.payload) for m in dead_letters.wait_for(len(POISON))]
    assert [letter["reason"] for letter in letters] == [r.value for _t, _p, r in POISON]
    assert "before 1970-01-01T00:00:00Z" in letters[0]["message"]
    assert "lone surrogate" in letters[3]["message"]
    # everything was acknowledged: the same session gets nothing again
    with running_worker(site, mqtt_broker.address, client_id=client_id) as again:
        time.sleep(1.0)
        assert again.count("kgtwin_ingest_messages_received_total") == 0


@pytest.fixture
def unique_values(site: Driver) -> Iterator[None]:
    """A constraint an operator might add by hand: no two points with the same value."""
    site.execute_query(
        "CREATE CONSTRAINT poison_unique_value FOR (p:Point) REQUIRE p.value IS UNIQUE"
    )
    yield
    site.execute_query("DROP CONSTRAINT poison_unique_value")


@pytest.mark.usefixtures("unique_values")
def test_a_value_neo4j_refuses_is_dead_lettered_alone_and_the_batch_applied(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher, dead_letters: Subscriber
) -> None:
    """A value that passes every check and is still refused by the write: the batch is
    split, the refused value dead-lettered (unstorable), the rest applied."""
    records, _, _ = site.execute_query(
        "MATCH (p:Point {datatype: 'double'}) "
        "WHERE coalesce(p.minValue, 0) <= 7 AND coalesce(p.maxValue, 1e9) >= 8 "
        "RETURN p.id AS id, p.mqttTopic AS topic ORDER BY p.id LIMIT 20"
    )
    points = [(r["id"], r["topic"]) for r in records]
    with running_worker(site, mqtt_broker.address, flush_interval=1.0) as running:
        now = time.time()
        for n, (_point_id, topic) in enumerate(points):
            value = 7.0 if n in (3, 11) else 7.0 + (n + 1) / 100  # 3 and 11 collide
            publisher.send(topic, json.dumps({"value": value, "ts": now - 5}))
        outcomes = running.settled(len(points), timeout=30)
        assert outcomes == {"applied": 19, "outdated": 0, "deadlettered": 1, "ignored": 0}
        assert reasons(running) == {"unstorable": 1}
        (letter,) = dead_letters.wait_for(1)
        body = json.loads(letter.payload)
        assert "ConstraintValidationFailed" in body["message"]
        stored = values_of(site, [p[0] for p in points])
        assert list(stored.values()).count(7.0) == 1
        assert sum(v is not None for v in stored.values()) == 19


class FlakyWriter(IngestWorker):
    """A worker whose writer fails on its first ``failures`` batches: a bug, as far as
    the worker can tell (a fake of our own code, not of Neo4j or the broker)."""

    failures = 1

    def _write(self, batch: list[Message], slices: Executor) -> _Written | None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("a bug in the writer")
        return super()._write(batch, slices)


def test_an_unexpected_error_in_the_writer_is_logged_counted_and_recovered(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: any exception but GraphError ended the writer thread, silently for metrics,
    while the process stayed up and connected."""
    with running_worker(site, mqtt_broker.address, worker_class=FlakyWriter) as running:
        publisher.send(POWER, b"42.5")
        assert running.settled(1, timeout=30)["applied"] == 1
        assert live(site, POWER_ID)["value"] == 42.5
        assert running.count("kgtwin_ingest_pipeline_errors_total", thread="writer") == 1
        assert running.count("kgtwin_ingest_restarts_total", reason="pipeline_error") == 1
        assert running.dropped() >= 1  # its first delivery, given back to the broker
        assert running.worker.health().ok
    assert "a bug in the writer" in caplog.text


class BrokenWriter(FlakyWriter):
    failures = 1_000


def test_a_worker_whose_errors_persist_gives_up_and_says_so(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher
) -> None:
    with running_worker(site, mqtt_broker.address, worker_class=BrokenWriter) as running:
        publisher.send(POWER, b"1.0")
        assert running.worker.wait_failed(120)
        health = running.worker.health()
        assert (health.ok, health.failed) == (False, True)
        assert "6 unexpected errors in a row" in (health.problem or "")
        assert running.count("kgtwin_ingest_pipeline_errors_total", thread="writer") == 6
    assert live(site, POWER_ID)["value"] is None  # nothing written, nothing acknowledged


class FailingListener:
    def points_updated(self, updates: Sequence[PointUpdate]) -> None:
        raise RuntimeError("a listener bug")

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None:
        raise RuntimeError("a listener bug")

    def failures_changed(self, changes: Sequence[FailureChange]) -> None:
        raise RuntimeError("a listener bug")


def test_a_failing_listener_is_counted_and_the_values_still_land(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher
) -> None:
    with running_worker(site, mqtt_broker.address, listener=FailingListener()) as running:
        publisher.send(POWER, b"3.0")
        publisher.send(POWER, b"4.0")
        assert running.settled(2)["applied"] >= 1
        wait_value(site, POWER_ID, 4.0)
        assert running.count("kgtwin_ingest_pipeline_errors_total", thread="listener") >= 1
        assert running.count("kgtwin_ingest_restarts_total", reason="pipeline_error") == 0


# --- finding 6: bytes -----------------------------------------------------------------------


def test_a_10mb_string_is_dead_lettered_as_too_large(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher, dead_letters: Subscriber
) -> None:
    """Before: a 10 MB string was stored as a 10 MB property."""
    huge = json.dumps("x" * 10_000_000).encode()
    with running_worker(site, mqtt_broker.address) as running:
        publisher.send(POSITION, huge)
        publisher.send(POSITION, json.dumps("y" * 5_000).encode())  # past the 4 KiB string limit
        publisher.send(POSITION, b"source-a")
        assert running.settled(3, timeout=30) == {
            "applied": 1,
            "outdated": 0,
            "deadlettered": 2,
            "ignored": 0,
        }
        assert reasons(running) == {"too_large": 2}
    first, second = (json.loads(m.payload) for m in dead_letters.wait_for(2))
    assert (first["payloadSize"], first["payloadTruncated"]) == (len(huge), True)
    assert len(first["payload"]) == 1024
    assert "at most 262,144 are taken" in first["message"]
    assert "a string value is stored only up to 4,096 bytes" in second["message"]
    assert live(site, "ats-mech-h1.ats-position")["value"] == "source-a"


class Sampler:
    """Reads a gauge every few milliseconds on a thread; ``peak`` is the largest seen."""

    def __init__(self, running: Running, name: str) -> None:
        self.running, self.name, self.peak = running, name, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self.running.count(self.name))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_flood_of_large_garbage_holds_no_more_than_the_queued_bytes_limit(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher
) -> None:
    """Before: 4,000 messages of 100 KB of garbage took the worker from 1.1 to 1.7 GB,
    bounded by message count only. Here 400 of them against a 2 MiB limit."""
    limit = 2 * 2**20
    garbage = b"{" + b"x" * 100_000
    with (
        running_worker(
            site, mqtt_broker.address, max_queued_bytes=limit, receive_maximum=1000
        ) as running,
        Sampler(running, "kgtwin_ingest_queued_bytes") as held,
        Sampler(running, "kgtwin_ingest_pending") as pending,
    ):
        for _ in range(400):
            publisher.client.publish(POWER, garbage, qos=1)
        publisher.send(POWER, b"5.0")
        outcomes = running.settled(401, timeout=120)
    assert (outcomes["deadlettered"], outcomes["applied"]) == (400, 1)
    assert 100_000 < held.peak <= limit
    assert pending.peak <= 1000
    assert reasons(running) == {"unparseable": 400}


def test_while_nothing_can_be_acknowledged_the_broker_sends_only_the_receive_maximum(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher
) -> None:
    """Neo4j cannot commit (the point is write-locked by another transaction): nothing is
    acknowledged, and the broker holds all but ``receive_maximum`` messages. (Once acks
    flow, Mosquitto 2.0.11 lets more than that be in flight at times, a bug of its own: the
    queued-bytes limit above is what bounds the worker's memory.)"""
    with (
        running_worker(site, mqtt_broker.address, receive_maximum=5) as running,
        site.session() as session,
    ):
        only_the_receive_maximum_arrives(running, session, publisher, 5)
    assert live(site, POWER_ID)["value"] == 49.0


def only_the_receive_maximum_arrives(
    running: Running, session: Session, publisher: Publisher, receive_maximum: int
) -> None:
    """50 messages to a point write-locked by another transaction: the worker receives
    ``receive_maximum`` of them, acknowledges none, and gets no more; once the lock goes,
    all 50 settle."""
    lock = session.begin_transaction()
    lock.run("MATCH (p:Point {id: $id}) SET p.locked = true", id=POWER_ID).consume()
    for n in range(50):
        publisher.send(POWER, str(n))
    wait_until(
        lambda: running.count("kgtwin_ingest_messages_received_total") >= receive_maximum,
        30,
        lambda: f"not even {receive_maximum} messages arrived",
    )
    time.sleep(1.0)  # were the broker to send more, they would be here by now
    assert running.count("kgtwin_ingest_messages_received_total") == receive_maximum
    assert running.count("kgtwin_ingest_pending") == receive_maximum
    lock.rollback()
    assert running.settled(50, timeout=60)["applied"] >= 1


# --- finding 8: unknown units ---------------------------------------------------------------


def test_a_stream_of_distinct_unknown_units_costs_a_bounded_share_and_good_ones_land(
    site: Driver, mqtt_broker: MqttService, publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: each distinct unknown unit cost 2.5 ms on the network thread (208 msg/s)."""
    caplog.set_level(logging.WARNING)
    with running_worker(site, mqtt_broker.address) as running:
        for n in range(3000):
            unit = "zork" + "".join(chr(97 + int(d)) for d in str(n))  # names pint must parse
            publisher.client.publish(POWER, json.dumps({"value": 1.0, "unit": unit}), qos=1)
        publisher.send(POWER, json.dumps({"value": 2000.0, "unit": "W"}))
        outcomes = running.settled(3001, timeout=120)
    assert (outcomes["deadlettered"], outcomes["applied"]) == (3000, 1)
    assert reasons(running) == {"unknown_unit": 3000}
    assert live(site, POWER_ID)["value"] == 2.0
