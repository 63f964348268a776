"""The telemetry simulator against the real broker and the real Neo4j with the example site,
with the real ingestion worker applying what it publishes: every point gets a value, no
message is dead-lettered, and a fault shows in the live state. Then ``kgtwin
simulate-telemetry`` as a user runs it. Waits are bounded; nothing is timed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from neo4j import Driver

from kgtwin.devkit.simulator import Format, SimulatorOptions, TelemetrySimulator
from kgtwin.graph.dependencies import read_load_points
from kgtwin.graph.live import read_points
from kgtwin.graph.reader import Reader
from kgtwin.server.cli import main
from tests.conftest import REPO
from tests.ingest.mqtt_clients import Running, Subscriber, running_worker, wait_until
from tests.mqtt_service import MqttService, unique

SPEED = 20.0  # every dc1 point reports at least every 3 s
TIMEOUT = 60.0


@pytest.fixture
def ingesting(dc1: Driver, mqtt_broker: MqttService) -> Iterator[Running]:
    dc1.execute_query(
        "MATCH (p:Point) REMOVE p.value, p.observedAt, p.receivedAt, p.quality, p.stale"
    )
    with running_worker(dc1, mqtt_broker.address) as running:
        yield running


def simulator(dc1: Driver, broker: MqttService, *faults: str, **options: Any) -> TelemetrySimulator:
    return TelemetrySimulator(
        broker.address,
        Reader(dc1),
        SimulatorOptions(
            speed=SPEED, faults=faults, client_id=unique("simulator"), seed=1, **options
        ),
    )


def live(driver: Driver, point_id: str) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Point {id: $id}) RETURN p.value AS value, p.observedAt AS observedAt",
        id=point_id,
    )
    return records[0].data()


def observed_after(driver: Driver, point_id: str, moment: float) -> bool:
    observed = live(driver, point_id)["observedAt"]
    return observed is not None and observed.to_native().timestamp() > moment


def missing_values(driver: Driver) -> list[str]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Point) WHERE p.mqttTopic IS NOT NULL AND p.value IS NULL RETURN p.id AS id"
    )
    return sorted(r["id"] for r in records)


def test_every_point_gets_a_value_and_nothing_is_dead_lettered(
    dc1: Driver, mqtt_broker: MqttService, ingesting: Running
) -> None:
    topics = {p.topic for p in read_points(Reader(dc1))}
    with (
        Subscriber(mqtt_broker.address, "dc1/#") as telemetry,
        Subscriber(mqtt_broker.address, "kgtwin/deadletter/#") as dead_letters,
        simulator(dc1, mqtt_broker) as running,
    ):
        wait_until(
            lambda: topics <= {m.topic for m in telemetry.messages},
            TIMEOUT,
            lambda: f"no message yet on {sorted(topics - {m.topic for m in telemetry.messages})}",
        )
        wait_until(
            lambda: not missing_values(dc1),
            TIMEOUT,
            lambda: f"no live value yet on {missing_values(dc1)}",
        )
        assert running.published >= len(topics)
    assert ingesting.outcomes()["applied"] > 0
    assert ingesting.outcomes()["deadlettered"] == 0
    assert dead_letters.messages == []
    payloads = [bytes(m.payload) for m in telemetry.messages]
    assert any(p.startswith(b"[{") for p in payloads)  # SenML
    assert any(p.startswith(b'{"value"') for p in payloads)  # JSON objects
    assert any(p[:1].isdigit() or p in (b"true", b"false") for p in payloads)  # bare
    other_units = (b'"unit":"W"', b'"u":"W"', b'"unit":"degF"', b'"u":"K"', b'"unit":"mA"')
    assert any(unit in p for p in payloads for unit in other_units)


def test_a_failed_ups_reads_0_and_its_twin_pdu_carries_double(
    dc1: Driver, mqtt_broker: MqttService, ingesting: Running
) -> None:
    a1, b1 = "pdu-h1-a1.output-power", "pdu-h1-b1.output-power"
    with simulator(dc1, mqtt_broker):
        wait_until(
            lambda: None not in (live(dc1, a1)["value"], live(dc1, b1)["value"]),
            TIMEOUT,
            lambda: f"{a1}, {b1}: {live(dc1, a1)}, {live(dc1, b1)}",
        )
        normal = live(dc1, b1)["value"]
        assert live(dc1, a1)["value"] == pytest.approx(normal, rel=0.1)
    failed_at = time.time()
    with simulator(dc1, mqtt_broker, "ups-a1", format=Format.JSON):
        wait_until(
            lambda: all(observed_after(dc1, p, failed_at) for p in (a1, b1, "ups-a1.output-power")),
            TIMEOUT,
            lambda: f"{a1}, {b1}: {live(dc1, a1)}, {live(dc1, b1)}",
        )
    assert live(dc1, a1)["value"] == 0
    assert live(dc1, "ups-a1.output-power")["value"] == 0
    assert live(dc1, b1)["value"] == pytest.approx(2 * normal, rel=0.1)
    assert ingesting.outcomes()["deadlettered"] == 0
    # what the capacity what-if reads as the assets' live loads
    loads = {r.point_id: r.value for r in read_load_points(Reader(dc1))}
    assert loads["ups-a1.output-power"] == 0
    assert loads[b1] == pytest.approx(2 * normal, rel=0.1)


def test_the_command_line_help_names_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate-telemetry", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--broker URL", "--rate N", "--speed X", "--fault ASSET", "--duration SECONDS"):
        assert option in out
    assert "{mixed,bare,json,senml}" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate-telemetry", "--rate", "0"])
    assert exit_info.value.code == 2
    assert "must be a number above 0" in capsys.readouterr().err


def test_an_unknown_fault_exits_2_naming_the_closest_assets(
    dc1: Driver,
    neo4j_env: dict[str, str],
    mqtt_broker: MqttService,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["simulate-telemetry", "--broker", mqtt_broker.url, "--fault", "ups-x1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "kgtwin: error: no asset in the graph has the id or IRI 'ups-x1'" in err
    assert "did you mean ups-" in err


def test_the_command_runs_for_its_duration(
    dc1: Driver,
    neo4j_env: dict[str, str],
    mqtt_broker: MqttService,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--broker", mqtt_broker.url, "--client-id", unique("simulator"), "--fault", "ups-a1"]
    code = main(["simulate-telemetry", *args, "--rate", "200", "--duration", "1"])
    assert code == 0
    err = capsys.readouterr().err
    points = len(read_points(Reader(dc1)))
    assert f"kgtwin: simulating {points} points ({points} topics)" in err
    assert "200.0 messages/s" in err
    assert "failed: ups-a1 (down with them: pdu-h1-a1, pdu-h1-a2)" in err
    assert "kgtwin: stopped: " in err


def test_sigterm_stops_the_command_cleanly(
    dc1: Driver, neo4j_env: dict[str, str], mqtt_broker: MqttService
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from kgtwin.server.cli import main; sys.exit(main())",
            "simulate-telemetry",
            "--broker",
            mqtt_broker.url,
            "--client-id",
            unique("simulator"),
        ],
        cwd=REPO,
        env={**os.environ, **neo4j_env},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # the start line, once publishing began
        assert "kgtwin: simulating" in first, first
    finally:
        process.send_signal(signal.SIGTERM)
        _out, rest = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "kgtwin: stopped: " in rest
