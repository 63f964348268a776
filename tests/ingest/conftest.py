"""MQTT services for the ingest tests (see tests/mqtt_service.py).

- ``mqtt_broker`` (session): the broker every test shares; tests keep out of each other's
  way with topics and client ids of their own (``tests.mqtt_service.unique``).
- ``own_brokers`` / ``own_broker`` (per test): brokers of the test's own, to restart or
  reconfigure without disturbing the others; stopped and deleted after the test. They fail
  (never skip) when ``MQTT_URL`` points the suite at an external broker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.broker import LocalBroker
from tests.mqtt_service import (
    LocalBrokers,
    MqttService,
    mqtt_service,
    own_brokers_refused,
    session_folder,
)

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="session")
def mqtt_folder() -> Iterator[Path]:
    """This session's folder for brokers, ``.kgtwin/mqtt-test-PID``, deleted at the end."""
    with session_folder(REPO / ".kgtwin") as folder:
        yield folder


@pytest.fixture(scope="session")
def mqtt_broker(mqtt_folder: Path) -> Iterator[MqttService]:
    """The session's broker: ``MQTT_URL``'s, or a local Mosquitto started for the session."""
    with mqtt_service(mqtt_folder) as service:
        yield service


@pytest.fixture
def own_brokers(mqtt_folder: Path) -> Iterator[LocalBrokers]:
    """Starts brokers for this test only (``own_brokers.start(username=..., password=...)``)."""
    refused = own_brokers_refused()
    if refused is not None:
        pytest.fail(refused, pytrace=False)
    brokers = LocalBrokers(mqtt_folder)
    yield brokers
    brokers.close()


@pytest.fixture
def own_broker(own_brokers: LocalBrokers) -> LocalBroker:
    """A started anonymous broker for this test only: restart it at will."""
    return own_brokers.start()
