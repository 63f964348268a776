"""From a delivered MQTT message to what the worker holds (pure: a paho ``MQTTMessage``
made here): nothing a message holds makes ``receive`` raise, and a rejected message holds
little more than its payload."""

from __future__ import annotations

import json
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest

from kgtwin.graph.live import PointRow
from kgtwin.ingest.batch import Message
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


def bugs() -> tuple[list[BaseException], Callable[[BaseException], None]]:
    seen: list[BaseException] = []
    return seen, seen.append


def received(
    message: mqtt.MQTTMessage,
    *,
    connection: int = 1,
    units: Units = UNITS,
    on_bug: Callable[[BaseException], None] = lambda _exc: None,
) -> Message:
    """What the worker holds of ``message``, received at 2023-11-14T22:13:20Z."""
    return receive(
        message,
        connection=connection,
        received_at=1_700_000_000.0,
        table=TABLE,
        units=units,
        limits=LIMITS,
        on_bug=on_bug,
    )


def test_a_good_message_has_its_observations_key_and_cost() -> None:
    seen, on_bug = bugs()
    message = received(delivered(b"12.5"), connection=3, on_bug=on_bug)
    assert [o.value for o in message.observations] == [12.5]
    assert (message.connection, message.mid, message.redelivered) == (3, 7, True)
    assert message.cost == 4 + len(TOPIC) + PER_MESSAGE_BYTES
    assert message.rejected is None
    assert seen == []


def test_a_rejected_message_keeps_no_traceback() -> None:
    """Issue 21: the exception's traceback kept the network thread's frames alive, the
    packet and its decoded text with them, 3-4 times the payload per rejected message
    (4,000 messages of 100 KB of garbage took the worker from 1.1 to 1.7 GB)."""
    message = received(delivered(b"{" + b"x" * 500))
    assert message.rejected is not None
    assert message.rejected.reason is Reason.UNPARSEABLE
    assert message.rejected.__traceback__ is None
    assert message.rejected.__context__ is None


def test_a_payload_past_the_limit_keeps_1_kib_and_its_digest() -> None:
    message = received(delivered(json.dumps("y" * 5000).encode()))
    assert message.rejected is not None
    assert message.rejected.reason is Reason.TOO_LARGE
    assert (len(message.payload), message.size) == (1024, 5002)
    assert message.sha256 is not None
    assert len(message.sha256) == 64
    assert message.cost == 1024 + len(TOPIC) + PER_MESSAGE_BYTES


def test_a_topic_that_is_not_utf8_is_rejected() -> None:
    message = received(delivered(b"1.0", topic=b"dc1/\xff"))
    assert message.rejected is not None
    assert message.rejected.message == "the topic is not UTF-8 text"


class BrokenUnits(Units):
    """Units with a bug (a fake of our own code)."""

    def conversion(self, name: str | None, target: Unit, *, senml: bool = False) -> Conversion:
        raise ZeroDivisionError("a bug in the units")


def test_a_bug_in_decoding_dead_letters_the_message_and_is_reported() -> None:
    seen, on_bug = bugs()
    message = received(
        delivered(b'{"value": 1, "unit": "W"}'),
        units=BrokenUnits(UNITS.declared.values(), {}),
        on_bug=on_bug,
    )
    assert message.rejected is not None
    assert message.rejected.reason is Reason.INTERNAL_ERROR
    assert "ZeroDivisionError: a bug in the units" in message.rejected.message
    assert [type(e) for e in seen] == [ZeroDivisionError]


@pytest.mark.parametrize("topic", [b"kgtwin/deadletter/dc1/x"])
def test_a_dead_letter_read_back_is_ignored(topic: bytes) -> None:
    message = received(delivered(b"{}", topic=topic))
    assert message.ignored
    assert message.rejected is None
