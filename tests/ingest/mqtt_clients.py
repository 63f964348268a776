"""Small paho clients for the ingestion tests: a publisher that waits for each PUBACK, a
subscriber that records what arrives, and a bounded wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingest.address import BrokerAddress, configure
from tests.mqtt_service import unique

TIMEOUT = 10.0


def wait_until(
    condition: Callable[[], bool], timeout: float, describe: Callable[[], str] = lambda: ""
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {describe()}")
        time.sleep(0.05)


class _Client:
    def __init__(self, address: BrokerAddress, prefix: str) -> None:
        self.address = address
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=unique(prefix), reconnect_on_failure=False
        )
        configure(self.client, address)
        self.connected = threading.Event()
        self.client.on_connect = lambda *_args: self.connected.set()

    def __enter__(self) -> Any:
        self.client.connect(self.address.host, self.address.port)
        self.client.loop_start()
        if not self.connected.wait(TIMEOUT):
            raise AssertionError(f"no CONNACK from {self.address.safe_url}")
        return self

    def __exit__(self, *_: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher(_Client):
    def __init__(self, address: BrokerAddress) -> None:
        super().__init__(address, "publisher")

    def send(self, topic: str, payload: str | bytes, qos: int = 1) -> None:
        """Publish and wait until the broker has it (PUBACK for QoS 1)."""
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(TIMEOUT)


class Subscriber(_Client):
    def __init__(self, address: BrokerAddress, topic_filter: str) -> None:
        super().__init__(address, "subscriber")
        self.filter = topic_filter
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._subscribed.set()

    def __enter__(self) -> Subscriber:
        super().__enter__()
        self.client.subscribe(self.filter, qos=1)
        if not self._subscribed.wait(TIMEOUT):
            raise AssertionError(f"no SUBACK for {self.filter}")
        return self

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: Any) -> None:
        with self._lock:
            self.messages.append(message)

    def wait_for(self, count: int, timeout: float = TIMEOUT) -> list[mqtt.MQTTMessage]:
        """The first ``count`` messages, in arrival order."""
        wait_until(
            lambda: len(self.messages) >= count,
            timeout,
            lambda: f"{len(self.messages)} of {count} messages on {self.filter}",
        )
        with self._lock:
            return self.messages[:count]
