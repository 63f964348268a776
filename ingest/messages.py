"""One MQTT message, start to end, without I/O: the observations it carries, or the
dead letter that says why it has none.

A message is applied whole or rejected whole: a SenML pack with one bad record is
dead-lettered with that record's reason, so a sender never has to find out which half of
a message landed. (The one exception: a value that passes every check here and is still
refused by the write is dead-lettered alone, ``unstorable``; see :mod:`ingest.writes`.)

Each message has a **key**: a digest of its packet id, topic and payload. A message the
broker delivers again (after a crash, a reconnect) comes with the same packet id, so it
has the same key: the live write uses it to tell a copy from a new message
(:mod:`graph.live`), and its dead letter carries it as ``id``, so a consumer can drop a
dead letter published twice.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Final

from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.payloads import decode
from kgtwin.ingest.readings import Observation, check
from kgtwin.ingest.topics import DEAD_LETTER_PREFIX, PointTable, valid_topic
from kgtwin.ontology.units import Units

HASHED_PREFIX: Final = DEAD_LETTER_PREFIX + "~hashed/"
MAX_KEPT_TOPIC_BYTES: Final = 512
MAX_KEPT_TOPIC_LEVELS: Final = 32
"""A topic longer or deeper than this, or with a character MQTT advises against, gets a
dead-letter topic named by its digest: the original topic is in the body."""

KEPT_PAYLOAD_BYTES: Final = 1024
"""The bytes of a payload too large to take that its dead letter keeps (with the size and
the SHA-256 of the whole)."""


def observations(
    topic: str,
    payload: bytes,
    *,
    received_at: float,
    table: PointTable,
    units: Units,
    max_future: float,
) -> list[Observation]:
    """The observations in ``payload`` on ``topic``; ``Rejected`` for the first problem."""
    return [
        check(
            reading,
            table.route(topic, reading.name),
            received_at=received_at,
            max_future=max_future,
            units=units,
        )
        for reading in decode(payload, now=received_at)
    ]


def message_key(mid: int, topic: str, payload: bytes) -> str:
    """The key of a message: 16 hex digits, the same for every delivery of it."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(mid.to_bytes(2, "big"))
    digest.update(topic.encode("utf-8", "surrogateescape"))
    digest.update(b"\0")
    digest.update(payload)
    return digest.hexdigest()


def too_large(size: int, limit: int) -> Rejected:
    return Rejected(
        Reason.TOO_LARGE,
        f"payload is {size:,} bytes; at most {limit:,} are taken (the max_payload_bytes "
        f"setting); its dead letter keeps the first {KEPT_PAYLOAD_BYTES:,} and the SHA-256",
    )


def dead_letter_topic(topic: str) -> str:
    """``kgtwin/deadletter/<topic>``; ``kgtwin/deadletter/~hashed/<digest>`` when the
    topic is long, deep, or holds characters MQTT forbids or advises against in a topic
    (wildcards, control characters, non-characters): a name any broker takes."""
    encoded = topic.encode("utf-8", "surrogateescape")
    if (
        valid_topic(topic)
        and len(encoded) <= MAX_KEPT_TOPIC_BYTES
        and topic.count("/") < MAX_KEPT_TOPIC_LEVELS
        and topic.isprintable()
        and not any(0xFDD0 <= ord(c) <= 0xFDEF or ord(c) & 0xFFFE == 0xFFFE for c in topic)
    ):
        return DEAD_LETTER_PREFIX + topic
    return HASHED_PREFIX + hashlib.sha256(encoded).hexdigest()[:32]


def dead_letter(
    *,
    key: str,
    topic: str,
    payload: bytes,
    rejected: Rejected,
    received_at: float,
    redelivered: bool = False,
    size: int | None = None,
    sha256: str | None = None,
) -> bytes:
    """The dead letter's JSON body: its ``id`` (the message's key), the reason, what was
    wrong, the original topic and payload (as text when it is UTF-8, always as base64),
    when it arrived and whether the broker had delivered it before. For a payload cut
    short (too large), ``size`` and ``sha256`` describe the whole and ``payloadTruncated``
    is true. Always valid JSON in UTF-8, whatever the message held."""
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    body: dict[str, object] = {
        "id": key,
        "reason": str(rejected.reason),
        "message": _sound(rejected.message),
        "topic": _sound(topic),
        "receivedAt": datetime.fromtimestamp(received_at, UTC).isoformat(),
        "redelivered": redelivered,
        "payload": text,
        "payloadBase64": base64.b64encode(payload).decode("ascii"),
    }
    if size is not None:
        body.update(payloadTruncated=True, payloadSize=size, payloadSha256=sha256)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _sound(text: str) -> str:
    """``text`` with anything that has no UTF-8 form (lone surrogates) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")
