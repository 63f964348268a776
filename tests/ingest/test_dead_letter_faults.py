"""Issue 21's dead-letter faults, each against a Mosquitto of the test's own: a dead letter
is delivered or its original stays with the broker, never both lost; acknowledgements go
out in order; a dead letter published again carries the same id.

Findings 2 (a topic too long for its dead letter's), 3 (a PUBACK that refuses the dead
letter: 0x87, not authorized) and 4 (a broker too slow to acknowledge dead letters).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from neo4j import Driver

from kgtwin.devkit.broker import LocalBroker
from kgtwin.ingest.address import BrokerAddress
from tests.faults import FaultProxy
from tests.ingest.mqtt_clients import Publisher, Subscriber, running_worker, wait_until
from tests.ingest.test_worker import POWER, POWER_ID, live
from tests.ingest.test_worker_outages import double_points
from tests.mqtt_service import LocalBrokers, unique

BAD = b"{not json"


def nothing_left(site: Driver, address: BrokerAddress, client_id: str) -> None:
    """The session of ``client_id`` holds no unacknowledged message: a worker resuming it
    receives nothing."""
    with running_worker(site, address, client_id=client_id) as again:
        time.sleep(1.0)
        assert again.count("kgtwin_ingest_messages_received_total") == 0


def test_a_65520_character_topic_is_dead_lettered_on_a_hashed_topic_and_nothing_sticks(
    own_brokers: LocalBrokers, site: Driver
) -> None:
    """Before: the dead letter's topic passed MQTT's limit, publish raised ValueError, and
    the batch (40 good messages already written) was never acknowledged; with Mosquitto's
    default in-flight window of 20 the worker stalled completely."""
    broker = own_brokers.start_default()  # 20 in flight, 1,000 queued: Mosquitto's defaults
    points = double_points(site)[:40]
    long_topic = "dc1/" + "x" * 65_516
    client_id = unique("long-topic")
    with (
        Subscriber(broker.address, "kgtwin/deadletter/#") as letters,
        running_worker(site, broker.address, client_id=client_id) as running,
        Publisher(broker.address) as publisher,
    ):
        now = time.time()
        for n, (_id, topic, low) in enumerate(points):
            if n == 20:
                publisher.send(long_topic, b"1.0")
            publisher.send(topic, json.dumps({"value": low, "ts": now - 60 + n}))
        assert running.settled(41, timeout=60) == {
            "applied": 40,
            "outdated": 0,
            "deadlettered": 1,
            "ignored": 0,
        }
        (letter,) = letters.wait_for(1)
        assert letter.topic.startswith("kgtwin/deadletter/~hashed/")
        body = json.loads(letter.payload)
        assert (body["topic"], body["reason"]) == (long_topic, "unknown_topic")
        assert running.count("kgtwin_ingest_restarts_total", reason="dead_letters") == 0
    nothing_left(site, broker.address, client_id)


DENY_DEAD_LETTERS = "topic readwrite dc1/#\ntopic read kgtwin/deadletter/#\n"
ALLOW_ALL = "topic readwrite #\n"


def test_a_dead_letter_the_broker_refuses_keeps_its_original_with_the_broker(
    own_brokers: LocalBrokers, site: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: paho reported the PUBACK's 0x87 (not authorized) as published, the worker
    acknowledged the originals: 300 bad messages, 300 counted as dead-lettered, 0 seen by
    a subscriber, 0 redelivered, no log line."""
    broker = own_brokers.start(acl=DENY_DEAD_LETTERS)
    client_id = unique("refused")
    with (
        Subscriber(broker.address, "kgtwin/deadletter/#") as letters,
        running_worker(site, broker.address, client_id=client_id, stall_after=2.0) as running,
        Publisher(broker.address) as publisher,
    ):
        for _ in range(300):
            publisher.client.publish(POWER, BAD, qos=1)
        publisher.send(POWER, b"12.5")
        wait_until(
            lambda: running.count("kgtwin_ingest_restarts_total", reason="dead_letters") >= 2,
            30,
            lambda: "the worker never gave its connection up",
        )
        wait_until(lambda: running.worker.health().stalled, 30, lambda: "never stalled")
        health = running.worker.health()
        assert "Not authorized (0x87)" in (health.problem or ""), health
        assert not health.ok
        assert running.outcomes()["deadlettered"] == 0  # none taken: none acknowledged
        assert running.dropped() >= 301  # delivered, given back, delivered again
        assert letters.messages == []
        assert "the broker refused dead letters: Not authorized" in caplog.text
        broker.change_acl(ALLOW_ALL)  # the operator grants the worker its dead-letter topic
        outcomes = running.settled(301, timeout=120)
        assert (outcomes["deadlettered"], outcomes["applied"]) == (300, 1)
        bodies = [json.loads(m.payload) for m in letters.wait_for(300, timeout=30)]
        assert len({b["id"] for b in bodies}) == 300
        assert live(site, POWER_ID)["value"] == 12.5
    nothing_left(site, broker.address, client_id)


@pytest.fixture
def proxy(own_broker: LocalBroker) -> Iterator[FaultProxy]:
    with FaultProxy(own_broker.address.host, own_broker.address.port) as proxy:
        yield proxy


def via(proxy: FaultProxy) -> BrokerAddress:
    return BrokerAddress("127.0.0.1", proxy.port, False, None, None)


def test_a_batch_whose_dead_letters_go_unacknowledged_holds_every_later_acknowledgement(
    own_broker: LocalBroker, proxy: FaultProxy, site: Driver
) -> None:
    """The broker takes the dead letter but its PUBACK never comes back (held by the
    proxy). Before: the batch stayed unacknowledged while later ones were acknowledged
    ahead of it, until a restart redelivered it and its dead letter went out twice. Now
    the worker gives the connection up: nothing after the batch is acknowledged either,
    the broker delivers it all again, and once the dead letter is taken everything is
    acknowledged in order; a dead letter published more than once carries one id."""
    client_id = unique("held")
    points = double_points(site)[:50]
    with (
        Subscriber(own_broker.address, "kgtwin/deadletter/#") as letters,
        running_worker(site, via(proxy), client_id=client_id, dead_letter_timeout=1.0) as running,
        Publisher(own_broker.address) as publisher,
    ):
        proxy.hold(b"-deadletters")
        publisher.send(POWER, BAD)
        now = time.time()
        for n, (_id, topic, low) in enumerate(points):
            publisher.send(topic, json.dumps({"value": low, "ts": now - 60 + n}))
        wait_until(
            lambda: running.count("kgtwin_ingest_restarts_total", reason="dead_letters") >= 2,
            30,
            lambda: "the worker never gave its connection up",
        )
        assert running.outcomes()["applied"] == 0  # nothing after the held batch acknowledged
        assert letters.wait_for(1)  # the broker got the dead letter; only its PUBACK is held
        proxy.release()
        outcomes = running.settled(51, timeout=120)
        assert outcomes["deadlettered"] == 1
        assert outcomes["applied"] + outcomes["outdated"] == 50
        ids = {json.loads(m.payload)["id"] for m in letters.messages}
        assert len(ids) == 1  # however often it went out
        assert len(letters.messages) >= 2
    nothing_left(site, own_broker.address, client_id)


def test_a_paused_broker_loses_nothing_and_leaves_nothing_in_flight(
    own_broker: LocalBroker, site: Driver
) -> None:
    """Finding 4 as it was found: the broker stopped (SIGSTOP) for 15 s in the middle of a
    stream with 1 bad message in 20, dead letters timing out at 2 s."""
    points = double_points(site)[:100]
    client_id = unique("paused")
    bad, good = 0, 0
    with (
        Subscriber(own_broker.address, "kgtwin/deadletter/#") as letters,
        running_worker(
            site, own_broker.address, client_id=client_id, dead_letter_timeout=2.0
        ) as running,
        Publisher(own_broker.address) as publisher,
    ):
        pause = threading.Timer(3.0, _pause, (own_broker, 15.0))
        pause.start()
        start = time.time() - 3600
        for n in range(2000):
            _id, topic, low = points[n % len(points)]
            if n % 20 == 7:
                publisher.client.publish(topic, BAD, qos=1)
                bad += 1
            else:
                ts = round(start + n / 100, 3)
                publisher.client.publish(topic, json.dumps({"value": low, "ts": ts}), qos=1)
                good += 1
            time.sleep(0.005)
        pause.join()
        outcomes = running.settled(2000, timeout=180)
        assert outcomes["deadlettered"] == bad == 100
        assert outcomes["applied"] + outcomes["outdated"] == good
        wait_until(lambda: len({letter_id(m) for m in letters.messages}) == bad, 30)
    nothing_left(site, own_broker.address, client_id)


def _pause(broker: LocalBroker, seconds: float) -> None:
    pid = broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def letter_id(message: object) -> str:
    return str(json.loads(message.payload)["id"])  # type: ignore[attr-defined]
