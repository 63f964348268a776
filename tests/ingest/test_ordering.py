"""Issue 21 finding 7: the newest value wins, also on ties. Between two observations with
the same source time the one received later wins (MQTT keeps one publisher's messages on a
topic in order), while a redelivered copy of an older message never overwrites a newer
one: within a batch, across batches, and after the worker is killed (SIGKILL of a
``kgtwin ingest`` process) before or after its write committed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from neo4j import Driver
from prometheus_client.parser import text_string_to_metric_families

from kgtwin.devkit.broker import LocalBroker
from kgtwin.devkit.launcher import free_ports
from kgtwin.ingest.address import BrokerAddress
from kgtwin.ingest.events import FailureChange, PointUpdate, StalenessChange
from tests.faults import FaultProxy
from tests.ingest.mqtt_clients import Publisher, Subscriber, running_worker, wait_until
from tests.ingest.test_worker import POWER, POWER_ID, live, wait_value
from tests.ingest.test_worker_outages import start_ingest
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import Neo4jService


class Updates:
    """A live listener that keeps the values it is told of (what GraphQL subscribers get)."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def points_updated(self, updates: Sequence[PointUpdate]) -> None:
        self.values += [u.value for u in updates if u.point_id == POWER_ID]

    def staleness_changed(self, changes: Sequence[StalenessChange]) -> None:
        pass

    def failures_changed(self, changes: Sequence[FailureChange]) -> None:
        pass


def whole_second() -> int:
    return int(time.time()) - 60


def sent(value: float, ts: float) -> str:
    return json.dumps({"value": value, "ts": ts})


def test_equal_whole_second_timestamps_the_last_message_wins_and_each_is_reported(
    site: Driver, mqtt_broker: MqttService
) -> None:
    """Before: 101 and 103 applied, 102 and 104 counted outdated; the point read 103 while
    the device last said 104, and subscribers never saw 102 or 104."""
    updates = Updates()
    second = whole_second()
    with (
        running_worker(site, mqtt_broker.address, listener=updates) as running,
        Publisher(mqtt_broker.address) as publisher,
    ):
        for value, ts in (
            (101.0, second),
            (102.0, second),
            (103.0, second + 1),
            (104.0, second + 1),
        ):
            publisher.send(POWER, sent(value, ts))
            time.sleep(0.5)  # 2 Hz: one batch each
        assert running.settled(4) == {"applied": 4, "outdated": 0, "deadlettered": 0, "ignored": 0}
    assert live(site, POWER_ID)["value"] == 104.0
    assert updates.values == [101.0, 102.0, 103.0, 104.0]


def test_equal_timestamps_in_one_batch_the_last_wins_and_a_later_batch_wins_again(
    site: Driver, mqtt_broker: MqttService
) -> None:
    second = whole_second()
    with (
        running_worker(site, mqtt_broker.address, flush_interval=1.0) as running,
        Publisher(mqtt_broker.address) as publisher,
    ):
        publisher.send(POWER, sent(101.0, second))
        publisher.send(POWER, sent(102.0, second))
        assert running.settled(2) == {"applied": 1, "outdated": 1, "deadlettered": 0, "ignored": 0}
        assert live(site, POWER_ID)["value"] == 102.0
        publisher.send(POWER, sent(103.0, second))
        assert running.settled(3)["applied"] == 2
    assert live(site, POWER_ID)["value"] == 103.0


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait(10)


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def test_redelivered_after_a_kill_before_the_commit_the_last_still_wins(
    site: Driver,
    mqtt_broker: MqttService,
    neo4j_server: Neo4jService,
    processes: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    """Both messages received and neither committed (the point is write-locked) when the
    worker is killed: the broker delivers both again, flagged as redelivered."""
    client_id, second = unique("tie-kill"), whole_second()
    processes.append(
        start_ingest(mqtt_broker.address, client_id, neo4j_server, tmp_path / "first.log")
    )
    with site.session() as session, Publisher(mqtt_broker.address) as publisher:
        lock = session.begin_transaction()
        lock.run("MATCH (p:Point {id: $id}) SET p.locked = true", id=POWER_ID).consume()
        publisher.send(POWER, sent(101.0, second))
        publisher.send(POWER, sent(102.0, second))
        time.sleep(1.0)  # received, and waiting for the lock
        kill(processes[0])
        lock.rollback()
    assert live(site, POWER_ID)["value"] is None
    processes.append(
        start_ingest(mqtt_broker.address, client_id, neo4j_server, tmp_path / "second.log")
    )
    wait_value(site, POWER_ID, 102.0)
    time.sleep(1.0)  # and it stays
    assert live(site, POWER_ID)["value"] == 102.0


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples


def test_redelivered_after_a_kill_after_the_commit_no_copy_overwrites(
    own_broker: LocalBroker,
    site: Driver,
    neo4j_server: Neo4jService,
    processes: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    """101 then 102 at one time, and a bad message: written (the point reads 102), but not
    acknowledged (the proxy holds the dead letter's PUBACK) when the worker is killed. The
    broker delivers all three again to a new worker: no copy is applied (102 stays, never
    101 in between), and the dead letter published twice carries one id."""
    client_id, second = unique("tie-commit"), whole_second()
    with (
        FaultProxy(own_broker.address.host, own_broker.address.port) as proxy,
        Subscriber(own_broker.address, "kgtwin/deadletter/#") as letters,
        Publisher(own_broker.address) as publisher,
    ):
        proxied = BrokerAddress("127.0.0.1", proxy.port, False, None, None)
        processes.append(start_ingest(proxied, client_id, neo4j_server, tmp_path / "first.log"))
        proxy.hold(b"-deadletters")
        publisher.send(POWER, sent(101.0, second))
        publisher.send(POWER, sent(102.0, second))
        publisher.send(POWER, b"{not json")
        wait_value(site, POWER_ID, 102.0)
        letters.wait_for(1)  # published, its PUBACK held
        kill(processes[0])
        (port,) = free_ports(1)
        processes.append(
            start_ingest(
                own_broker.address,
                client_id,
                neo4j_server,
                tmp_path / "second.log",
                ["--metrics-port", str(port)],
            )
        )

        def finished() -> float:
            metrics = scrape(port)
            return sum(
                v for k, v in metrics.items() if k.startswith("kgtwin_ingest_messages_total")
            )

        wait_until(lambda: finished() >= 2, 30, lambda: str(scrape(port)))
        metrics = scrape(port)
        assert metrics.get("kgtwin_ingest_messages_total{outcome=applied}", 0) == 0
        assert metrics["kgtwin_ingest_messages_total{outcome=deadlettered}"] == 1
        assert live(site, POWER_ID)["value"] == 102.0
        assert len({json.loads(m.payload)["id"] for m in letters.wait_for(2)}) == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
