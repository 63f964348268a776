"""From a PUBLISH packet to a :class:`ingest.batch.Message`, on the MQTT network thread:
its key, its size checked, its payload decoded and checked. Nothing here raises for what
a message holds: every problem becomes the message's ``rejected`` reason, even a bug in
decoding (``internal_error``, logged with its traceback), so that one message can never
stop the network thread or come back after a restart to do it again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from kgtwin.ingest.batch import Message
from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.messages import KEPT_PAYLOAD_BYTES, message_key, observations, too_large
from kgtwin.ingest.topics import PointTable, is_dead_letter
from kgtwin.ontology.units import Units

logger = logging.getLogger(__name__)

PER_MESSAGE_BYTES = 1024
"""What a message costs against the queued-bytes limit besides its topic and payload: the
objects that hold it and its observations."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int
    max_future: float


def receive(
    msg: mqtt.MQTTMessage,
    *,
    connection: int,
    received_at: float,
    table: PointTable,
    units: Units,
    limits: Limits,
    on_bug: Callable[[BaseException], None],
) -> Message:
    """The message ``msg`` delivered on ``connection``, decoded and checked; ``on_bug`` is
    told of an unexpected exception (the message is then rejected as ``internal_error``)."""
    bad_topic = False
    try:
        topic = msg.topic
    except UnicodeDecodeError:  # brokers check topics, but not every broker does
        topic, bad_topic = bytes(msg._topic).decode("utf-8", "surrogateescape"), True
    payload = bytes(msg.payload)
    size = len(payload)
    message = Message(
        connection=connection,
        mid=msg.mid,
        qos=msg.qos,
        redelivered=bool(msg.dup),
        topic=topic,
        payload=payload,
        received_at=received_at,
        key=message_key(msg.mid, topic, payload),
        cost=0,
    )
    if size > limits.max_payload_bytes:
        message.payload = payload[:KEPT_PAYLOAD_BYTES]
        message.size, message.sha256 = size, hashlib.sha256(payload).hexdigest()
        message.rejected = too_large(size, limits.max_payload_bytes)
    elif bad_topic:
        message.rejected = Rejected(Reason.UNPARSEABLE, "the topic is not UTF-8 text")
    elif is_dead_letter(topic):
        message.ignored = True
    else:
        _decode(message, table, units, limits, on_bug)
    message.cost = len(message.payload) + len(topic) + PER_MESSAGE_BYTES
    return message


def _decode(
    message: Message,
    table: PointTable,
    units: Units,
    limits: Limits,
    on_bug: Callable[[BaseException], None],
) -> None:
    try:
        message.observations = observations(
            message.topic,
            message.payload,
            received_at=message.received_at,
            table=table,
            units=units,
            max_future=limits.max_future,
        )
    except Rejected as exc:
        # A fresh one: the exception's traceback would keep every frame of the network
        # thread alive with their locals (the packet, its text: 3-4 times the payload)
        # for as long as the message is held.
        message.rejected = Rejected(exc.reason, exc.message)
    except Exception as exc:  # a bug: dead-letter the message, never lose or replay it
        on_bug(exc)
        message.rejected = Rejected(
            Reason.INTERNAL_ERROR,
            f"kgtwin failed on this message ({type(exc).__name__}: {exc}); it is a bug, "
            "logged with a traceback by the ingestion worker",
        )
