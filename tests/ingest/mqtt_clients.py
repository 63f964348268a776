"""Small paho clients for the ingestion tests: a publisher that waits for each PUBACK, a
subscriber that records what arrives, a bounded wait, and an ingestion worker running with
its counters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from kgtwin.ingest.address import BrokerAddress, configure
from kgtwin.ingest.events import LiveListener
from kgtwin.ingest.metrics import IngestMetrics
from kgtwin.ingest.worker import IngestConfig, IngestWorker
from kgtwin.ontology.units import Units
from tests.mqtt_service import unique
from tests.units import ontology_units

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


class Running:
    """An ingestion worker that has subscribed, with its metrics."""

    def __init__(self, worker: IngestWorker, registry: CollectorRegistry) -> None:
        self.worker = worker
        self.registry = registry

    def count(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels or None)
        return 0.0 if value is None else value

    def outcomes(self) -> dict[str, float]:
        """Acknowledged messages by outcome (``dropped`` deliveries are not among them:
        the broker delivers those again)."""
        return {
            outcome: self.count("kgtwin_ingest_messages_total", outcome=outcome)
            for outcome in ("applied", "outdated", "deadlettered", "ignored")
        }

    def dropped(self) -> float:
        return self.count("kgtwin_ingest_messages_total", outcome="dropped")

    def settled(self, published: int, timeout: float = 20.0) -> dict[str, float]:
        """The outcomes once every one of ``published`` messages has one."""
        wait_until(
            lambda: sum(self.outcomes().values()) >= published,
            timeout,
            lambda: f"outcomes {self.outcomes()} for {published} messages",
        )
        outcomes = self.outcomes()
        assert sum(outcomes.values()) == published, outcomes
        return outcomes


@contextmanager
def running_worker(
    driver: Driver,
    address: BrokerAddress,
    *,
    worker_class: type[IngestWorker] = IngestWorker,
    listener: LiveListener | None = None,
    client_id: str | None = None,
    units: Units | None = None,
    **config: Any,
) -> Iterator[Running]:
    """A worker with a client id of its own (unless given), started and subscribed; stopped
    on exit. ``config`` overrides :class:`IngestConfig`'s defaults; ``units`` are the
    bundled ontology's unless given."""
    registry = CollectorRegistry()
    settings = IngestConfig(address, client_id=client_id or unique("worker"), **config)
    units = units if units is not None else ontology_units()
    worker = worker_class(settings, driver, IngestMetrics(registry), units, listener)
    worker.start()
    try:
        assert worker.wait_ready(30), "the worker did not subscribe within 30 s"
        yield Running(worker, registry)
    finally:
        worker.stop()
