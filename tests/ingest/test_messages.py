"""Dead letters without I/O: a topic any broker takes (issue 21: a 65,520-character topic
made the dead letter's topic invalid and stuck its batch), a body that is always valid
UTF-8 JSON with the original in it, and an id that a redelivery repeats."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.messages import (
    HASHED_PREFIX,
    MAX_KEPT_TOPIC_BYTES,
    dead_letter,
    dead_letter_topic,
    message_key,
)
from kgtwin.ingest.topics import DEAD_LETTER_PREFIX, valid_topic

REJECTED = Rejected(Reason.UNPARSEABLE, "payload is empty")


def test_a_plain_topic_keeps_its_name() -> None:
    assert dead_letter_topic("dc1/ups-a1/output-power") == (
        "kgtwin/deadletter/dc1/ups-a1/output-power"
    )


@pytest.mark.parametrize(
    "topic",
    [
        "x" * 65_520,
        "a/" * 40 + "b",
        "é" * (MAX_KEPT_TOPIC_BYTES // 2 + 1),
        "dc1/\x07bell",
        "dc1/\ufffe",
        "dc1/\udcff",  # a byte that was not UTF-8, kept by surrogateescape
    ],
    ids=["65520-chars", "41-levels", "513-bytes", "control", "non-character", "not-utf8"],
)
def test_a_long_deep_or_odd_topic_gets_a_hashed_dead_letter_topic(topic: str) -> None:
    hashed = dead_letter_topic(topic)
    assert hashed.startswith(HASHED_PREFIX)
    assert len(hashed) == len(HASHED_PREFIX) + 32
    assert hashed == dead_letter_topic(topic)  # the same topic, the same name
    assert hashed != dead_letter_topic(topic + "x")


@given(st.text(min_size=1, max_size=300))
def test_every_dead_letter_topic_is_a_valid_topic(topic: str) -> None:
    letter = dead_letter_topic(topic)
    assert valid_topic(letter)
    assert letter.startswith(DEAD_LETTER_PREFIX)
    assert len(letter.encode("utf-8")) <= len(DEAD_LETTER_PREFIX) + MAX_KEPT_TOPIC_BYTES


def test_the_body_has_the_original_and_an_id() -> None:
    body = json.loads(
        dead_letter(
            key="0123456789abcdef",
            topic="x" * 65_520,
            payload=b"\xff\x00{",
            rejected=REJECTED,
            received_at=1_700_000_000.0,
            redelivered=True,
        )
    )
    assert body["id"] == "0123456789abcdef"
    assert body["topic"] == "x" * 65_520
    assert body["payload"] is None  # not UTF-8: base64 only
    assert base64.b64decode(body["payloadBase64"]) == b"\xff\x00{"
    assert body["redelivered"] is True
    assert body["reason"] == "unparseable"


@given(st.text(), st.text(), st.binary())
def test_the_body_is_always_utf8_json(topic: str, message: str, payload: bytes) -> None:
    raw = dead_letter(
        key="k",
        topic=topic,
        payload=payload,
        rejected=Rejected(Reason.UNKNOWN_UNIT, message),
        received_at=0.0,
    )
    body = json.loads(raw.decode("utf-8"))
    assert base64.b64decode(body["payloadBase64"]) == payload


def test_a_truncated_payload_says_so() -> None:
    body = json.loads(
        dead_letter(
            key="k",
            topic="t",
            payload=b"abc",
            rejected=Rejected(Reason.TOO_LARGE, "payload is 9 bytes"),
            received_at=0.0,
            size=9,
            sha256="ab" * 32,
        )
    )
    assert (body["payloadTruncated"], body["payloadSize"]) == (True, 9)


def test_a_key_is_the_same_for_a_redelivery_and_differs_for_another_message() -> None:
    key = message_key(7, "dc1/a", b"1.0")
    assert key == message_key(7, "dc1/a", b"1.0")  # redelivered: the same packet id
    assert len(key) == 16
    others = {message_key(8, "dc1/a", b"1.0"), message_key(7, "dc1/b", b"1.0")}
    others |= {message_key(7, "dc1/a", b"1.00"), message_key(7, "dc1/a1.0", b"")}
    assert key not in others
    assert len(others) == 4
