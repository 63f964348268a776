"""One MQTT message, start to end, without I/O: the observations it carries, or the
dead letter that says why it has none.

A message is applied whole or rejected whole: a SenML pack with one bad record is
dead-lettered with that record's reason, so a sender never has to find out which half of
a message landed.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from ingest.errors import Rejected
from ingest.payloads import decode
from ingest.readings import Observation, check
from ingest.topics import DEAD_LETTER_PREFIX, PointTable
from ingest.units import Units


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


def dead_letter_topic(topic: str) -> str:
    return DEAD_LETTER_PREFIX + topic


def dead_letter(topic: str, payload: bytes, rejected: Rejected, received_at: float) -> bytes:
    """The dead letter's JSON body: the reason, what was wrong, the original topic and
    payload (as text when it is UTF-8, always as base64) and when it arrived."""
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    body = {
        "reason": str(rejected.reason),
        "message": rejected.message,
        "topic": topic,
        "receivedAt": datetime.fromtimestamp(received_at, UTC).isoformat(),
        "payload": text,
        "payloadBase64": base64.b64encode(payload).decode("ascii"),
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
