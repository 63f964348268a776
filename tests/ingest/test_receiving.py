"""From a delivered MQTT message to what the worker holds (pure: a paho ``MQTTMessage``
made here): nothing a message holds makes ``receive`` raise, and a rejected message holds
little more than its payload."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest

from kgtwin.graph.live import PointRow
from kgtwin.ingest.errors import Reason
from kgtwin.ingest.receiving import PER_MESSAGE_BYTES, Limits, receive
from kgtwin.ingest.topics import PointTable
from kgtwin.ontology.units import Conversion, Unit, Units
from tests.units import ontology_units

TOPIC = "dc1/ups-a1/output-power"
UNITS = ontology_units()
TABLE = PointTable.of(
    [PointRow("urn:p", "p", TOPIC, "KiloW", "double", None, None, 5.0, None, False, None, ())],
    UNITS,
)
LIMITS = Limits(max_payload_bytes=1000, max_future=300.0)


def delivered(payload: bytes, topic: bytes = TOPIC.encode(), mid: int = 7) -> mqtt.MQTTMessage:
    message = mqtt.MQTTMessage(mid, topic)
    message.payload, message.qos, message.dup = payload, 1, True
    return message


def bugs() -> tuple[list[BaseException], object]:
    seen: list[BaseException] = []
    return seen, seen.append


def test_a_good_message_has_its_observations_key_and_cost() -> None:
    seen, on_bug = bugs()
    message = receive(
        delivered(b"12.5"),
        connection=3,
        received_at=1_700_000_000.0,
        table=TABLE,
        units=UNITS,
        limits=LIMITS,
        on_bug=on_bug,  # type: ignore[arg-type]
    )
    assert [o.value for o in message.observations] == [12.5]
    assert (message.connection, message.mid, message.redelivered) == (3, 7, True)
    assert message.cost == 4 + len(TOPIC) + PER_MESSAGE_BYTES
    assert message.rejected is None
    assert seen == []


def test_a_rejected_message_keeps_no_traceback() -> None:
    """Issue 21: the exception's traceback kept the network thread's frames alive, the
    packet and its decoded text with them, 3-4 times the payload per rejected message
    (4,000 messages of 100 KB of garbage took the worker from 1.1 to 1.7 GB)."""
    message = receive(
        delivered(b"{" + b"x" * 500),
        connection=1,
        received_at=1_700_000_000.0,
        table=TABLE,
        units=UNITS,
        limits=LIMITS,
        on_bug=lambda _exc: None,
    )
    assert message.rejected is not None
    assert message.rejected.reason is Reason.UNPARSEABLE
    assert message.rejected.__traceback__ is None
    assert message.rejected.__context__ is None


def test_a_payload_past_the_limit_keeps_1_kib_and_its_digest() -> None:
    message = receive(
        delivered(json.dumps("y" * 5000).encode()),
        connection=1,
        received_at=1_700_000_000.0,
        table=TABLE,
        units=UNITS,
        limits=LIMITS,
        on_bug=lambda _exc: None,
    )
    assert message.rejected is not None
    assert message.rejected.reason is Reason.TOO_LARGE
    assert (len(message.payload), message.size) == (1024, 5002)
    assert message.sha256 is not None
    assert len(message.sha256) == 64
    assert message.cost == 1024 + len(TOPIC) + PER_MESSAGE_BYTES


def test_a_topic_that_is_not_utf8_is_rejected() -> None:
    message = receive(
        delivered(b"1.0", topic=b"dc1/\xff"),
        connection=1,
        received_at=1_700_000_000.0,
        table=TABLE,
        units=UNITS,
        limits=LIMITS,
        on_bug=lambda _exc: None,
    )
    assert message.rejected is not None
    assert message.rejected.message == "the topic is not UTF-8 text"


class BrokenUnits(Units):
    """Units with a bug (a fake of our own code)."""

    def conversion(self, name: str | None, target: Unit, *, senml: bool = False) -> Conversion:
        raise ZeroDivisionError("a bug in the units")


def test_a_bug_in_decoding_dead_letters_the_message_and_is_reported() -> None:
    seen, on_bug = bugs()
    message = receive(
        delivered(b'{"value": 1, "unit": "W"}'),
        connection=1,
        received_at=1_700_000_000.0,
        table=TABLE,
        units=BrokenUnits(UNITS.declared.values(), {}),
        limits=LIMITS,
        on_bug=on_bug,  # type: ignore[arg-type]
    )
    assert message.rejected is not None
    assert message.rejected.reason is Reason.INTERNAL_ERROR
    assert "ZeroDivisionError: a bug in the units" in message.rejected.message
    assert [type(e) for e in seen] == [ZeroDivisionError]


@pytest.mark.parametrize("topic", [b"kgtwin/deadletter/dc1/x"])
def test_a_dead_letter_read_back_is_ignored(topic: bytes) -> None:
    message = receive(
        delivered(b"{}", topic=topic),
        connection=1,
        received_at=1_700_000_000.0,
        table=TABLE,
        units=UNITS,
        limits=LIMITS,
        on_bug=lambda _exc: None,
    )
    assert message.ignored
    assert message.rejected is None
