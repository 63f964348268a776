"""The events publisher against a real Mosquitto: what the broker takes is counted, a broker
that goes away and comes back gets everything queued meanwhile, and past its bound the
publisher drops new events and counts them instead of holding them without end."""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry

from kgtwin.devkit.broker import LocalBroker
from kgtwin.ingest.outbound.envelope import TwinEvent
from kgtwin.ingest.outbound.kinds import Kind
from kgtwin.ingest.outbound.publisher import EventPublisher
from tests.mqtt_service import unique

WAIT = 20.0


def stale(n: int) -> TwinEvent:
    data = {"model": "m", "pointId": f"p{n}", "assetId": "a"}
    return TwinEvent(Kind.POINT_STALE, "m", data, f"p{n}", time.time())


def test_a_broker_back_from_a_restart_gets_what_was_queued_while_it_was_away(
    own_broker: LocalBroker,
) -> None:
    registry = CollectorRegistry()
    publisher = EventPublisher(own_broker.address, unique("kgtwin-test-events"), registry)
    publisher.start()
    try:
        publisher.publish([stale(n) for n in range(10)])
        assert publisher.flush(WAIT)
        assert publisher.published == 10
        own_broker.stop()
        publisher.publish([stale(n) for n in range(3_000)])
        assert not publisher.flush(1.0)  # nobody takes them now
        own_broker.start()
        assert publisher.flush(WAIT), f"{publisher.waiting} still waiting"
        assert (publisher.published, publisher.dropped, publisher.refused) == (3_010, 0, 0)
        assert registry.get_sample_value("kgtwin_events_published_total") == 3_010
    finally:
        publisher.stop()


def test_past_its_bound_new_events_are_dropped_and_counted(own_broker: LocalBroker) -> None:
    own_broker.stop()
    publisher = EventPublisher(own_broker.address, unique("kgtwin-test-events"), max_queued=100)
    publisher.start()
    try:
        publisher.publish([stale(n) for n in range(2_000)])
        assert publisher.dropped > 0
        assert publisher.waiting <= 2_000 - publisher.dropped
        own_broker.start()
        assert publisher.flush(WAIT)
        assert publisher.published + publisher.dropped == 2_000
    finally:
        publisher.stop()


def test_a_flush_waits_for_what_came_before_it_not_for_a_stream_that_goes_on(
    own_broker: LocalBroker,
) -> None:
    """A server's risk events share the publisher with its worker's stream of values: its
    flush must end once its own events are acknowledged, however busy the stream. Here the
    stream offers far more than the publisher sends, so its queue (50) is never empty."""
    publisher = EventPublisher(own_broker.address, unique("kgtwin-test-events"), max_queued=50)
    publisher.start()
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            publisher.publish([stale(n) for n in range(100)])
            time.sleep(0.001)

    busy = threading.Thread(target=stream)
    busy.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            publisher.publish([stale(-1)])
            assert publisher.flush(WAIT)
        assert publisher.dropped > 0  # the stream did keep the queue full
    finally:
        stop.set()
        busy.join()
        publisher.stop()
