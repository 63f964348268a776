"""Payload decoding: bare values, text, JSON objects, timestamps, and what is refused."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.payloads import EPOCH_MS_THRESHOLD, decode
from kgtwin.ingest.raw import PayloadFormat, Quality, RawReading

NOW = 1_700_000_000.0


def one(payload: bytes) -> RawReading:
    readings = decode(payload, now=NOW)
    assert len(readings) == 1
    return readings[0]


def unparseable(payload: bytes) -> str:
    with pytest.raises(Rejected) as caught:
        decode(payload, now=NOW)
    assert caught.value.reason is Reason.UNPARSEABLE
    return caught.value.message


# --- bare values and text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (b"21.5", 21.5),
        (b"-3", -3),
        (b"0", 0),
        (b"1e3", 1000.0),
        (b"true", True),
        (b"false", False),
        (b'"running"', "running"),
    ],
)
def test_bare_json_value(payload: bytes, value: object) -> None:
    reading = one(payload)
    assert reading == RawReading(
        value=value,  # type: ignore[arg-type]
        format=PayloadFormat.BARE,
        text=value if isinstance(value, str) else payload.decode(),
    )
    assert type(reading.value) is type(value)


def test_bare_value_keeps_its_text_for_string_points() -> None:
    assert one(b" 42 \n").text == "42"


def test_text_that_is_not_json_is_kept_as_text() -> None:
    assert one(b"  running \r\n") == RawReading(
        value="running", format=PayloadFormat.TEXT, text="running"
    )


def test_utf8_byte_order_mark_is_ignored() -> None:
    assert one(b"\xef\xbb\xbf21.5").value == 21.5


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"", "empty"),
        (b"  \n\t", "empty"),
        (b"\xff\xfe21", "not UTF-8 text: byte 0xff at offset 0"),
        (b"21.5\xc3", "offset 4"),
        (b"null", "found null"),
        (b"NaN", "NaN"),
        (b"Infinity", "Infinity"),
        (b"-Infinity", "-Infinity"),
        (b"1e999", "too large"),
        (b"-1e400", "too large"),
        (b"1" + b"0" * 400, "too large"),
        (b'{"value": 1', "not valid JSON"),
        (b"[1, 2", "not valid JSON"),
        (b'"unterminated', "not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_unparseable_payloads_say_what_is_wrong(payload: bytes, says: str) -> None:
    assert says in unparseable(payload)


# --- JSON objects -------------------------------------------------------------------------


def test_object_with_every_field() -> None:
    payload = b'{"value": 250, "ts": 1700000000.5, "unit": "W", "quality": "Uncertain"}'
    assert one(payload) == RawReading(
        value=250,
        format=PayloadFormat.OBJECT,
        unit="W",
        time=1_700_000_000.5,
        quality=Quality.UNCERTAIN,
    )


def test_object_with_only_a_value() -> None:
    assert one(b'{"value": "open"}') == RawReading(value="open", format=PayloadFormat.OBJECT)


def test_null_optional_fields_count_as_absent() -> None:
    reading = one(b'{"value": 1, "ts": null, "unit": null, "quality": null}')
    assert (reading.time, reading.unit, reading.quality) == (None, None, Quality.GOOD)


@pytest.mark.parametrize(("quality", "expected"), [("GOOD", Quality.GOOD), ("bad", Quality.BAD)])
def test_quality_is_case_insensitive(quality: str, expected: Quality) -> None:
    assert one(json.dumps({"value": 1, "quality": quality}).encode()).quality is expected


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({}, 'no "value"'),
        ({"ts": 1}, 'no "value"'),
        ({"value": None}, '"value" must be a number, true/false or a string, found null'),
        ({"value": [1]}, "found an array"),
        ({"value": {"v": 1}}, "found an object"),
        ({"value": 1, "unit": 1000}, '"unit" must be a string, found a number (1000)'),
        (
            {"value": 1, "quality": "ok"},
            '"quality" must be "good", "uncertain" or "bad", found \'ok\'',
        ),
        ({"value": 1, "quality": True}, "found a boolean (true)"),
        ({"value": 1, "units": "W"}, "unknown key(s) 'units'"),
        ({"n": "temp", "v": 1}, "a SenML pack must be a JSON array"),
    ],
)
def test_bad_objects_say_what_is_wrong(doc: dict[str, object], says: str) -> None:
    assert says in unparseable(json.dumps(doc).encode())


def test_nan_inside_an_object_is_refused() -> None:
    assert "NaN" in unparseable(b'{"value": NaN}')


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (1_700_000_000, 1_700_000_000.0),
        (1_700_000_000.25, 1_700_000_000.25),
        (0, 0.0),
        (1_700_000_000_000, 1_700_000_000.0),  # milliseconds
        (1_700_000_000_250, 1_700_000_000.25),
        (99_999_999_999, 99_999_999_999.0),  # just under the threshold: still seconds
        (EPOCH_MS_THRESHOLD, 1e8),  # at the threshold: milliseconds
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20.5+00:00", 1_700_000_000.5),
    ],
)
def test_timestamps(ts: object, expected: float) -> None:
    assert one(json.dumps({"value": 1, "ts": ts}).encode()).time == expected


@pytest.mark.parametrize(
    ("ts", "says"),
    [
        ("2023-11-14T22:13:20", "has no timezone"),
        ("2023-11-14", "has no timezone"),
        ("yesterday", "is not an ISO 8601 date-time"),
        ("1700000000", "is not an ISO 8601 date-time"),
        (True, "found a boolean (true)"),
        ([1], "found an array"),
    ],
)
def test_bad_timestamps(ts: object, says: str) -> None:
    assert says in unparseable(json.dumps({"value": 1, "ts": ts}).encode())


# --- properties ---------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_rejected_as_unparseable(payload: bytes) -> None:
    reason: Reason | None = None
    try:
        readings = decode(payload, now=NOW)
    except Rejected as exc:
        reason = exc.reason
    else:
        assert readings
        assert all(isinstance(r, RawReading) for r in readings)
    assert reason in (None, Reason.UNPARSEABLE)


SENML_KEYS = ["bn", "bt", "bu", "bv", "bver", "n", "u", "v", "vb", "vs", "vd", "s", "t", "ut"]
OBJECT_KEYS = ["value", "ts", "unit", "quality"]
JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(SENML_KEYS + OBJECT_KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(JSON)
def test_any_json_decodes_or_is_rejected_as_unparseable(doc: object) -> None:
    payload = json.dumps(doc).encode()  # NaN and Infinity included, as Python writes them
    reason: Reason | None = None
    readings: list[RawReading] = []
    try:
        readings = decode(payload, now=NOW)
    except Rejected as exc:
        reason = exc.reason
    assert reason in (None, Reason.UNPARSEABLE)
    for reading in readings:
        value = reading.value
        assert isinstance(value, bool | str) or math.isfinite(value)
        assert reading.time is None or math.isfinite(reading.time)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_bare_float_decodes_to_itself(value: float) -> None:
    assert one(repr(value).encode()).value == value


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(4000, 1, 1), timezones=st.just(UTC)
    )
)
def test_iso_and_epoch_timestamps_agree(when: datetime) -> None:
    iso = one(json.dumps({"value": 1, "ts": when.isoformat()}).encode()).time
    epoch = one(json.dumps({"value": 1, "ts": when.timestamp()}).encode()).time
    assert iso == epoch == when.timestamp()


# --- duplicate keys (issue 21: {"value": 100, "value": 200} applied 200) -------------------


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (b'{"value": 100, "value": 200}', "value"),
        (b'{"value": 1, "ts": 1700000000, "ts": 99999999999999}', "ts"),
        (b'[{"n": "a", "v": 1, "v": 2}]', "v"),
        (b'[{"bn": "a/", "n": "b", "v": 1}, {"t": 1, "t": 2, "v": 1}]', "t"),
    ],
    ids=["value-twice", "ts-twice-escaping-the-future-check", "senml-v-twice", "senml-t-twice"],
)
def test_duplicate_json_keys_are_refused_not_resolved(payload: bytes, key: str) -> None:
    assert unparseable(payload) == (
        f"payload has a JSON object with the key {key!r} twice; give each once"
    )
