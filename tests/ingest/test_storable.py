"""What the stores can hold, checked at decode time (issue 21: a time whose epoch
milliseconds overflow 64 bits, or a lone surrogate, killed the writer thread)."""

from __future__ import annotations

import json

import pytest

from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.payloads import decode
from kgtwin.ingest.readings import Datatype, PointSpec, check
from kgtwin.ingest.storable import EARLIEST, LATEST, MAX_STRING_BYTES, check_text, check_time
from tests.units import ontology_units

RECEIVED = 1_700_000_000.0


def spec(datatype: Datatype) -> PointSpec:
    return PointSpec("urn:p", "p", "dc1/p", "KiloW", datatype, None, None, 5.0)


def rejection(payload: bytes, datatype: Datatype = Datatype.DOUBLE) -> Rejected:
    def observe() -> None:
        for raw in decode(payload, now=RECEIVED):
            check(
                raw, spec(datatype), received_at=RECEIVED, max_future=300.0, units=ontology_units()
            )

    with pytest.raises(Rejected) as caught:
        observe()
    return caught.value


@pytest.mark.parametrize(
    "payload",
    [
        b'{"value": 123.0, "ts": -1e19}',
        b'[{"v": 123.0, "t": -1e16}]',
        b'[{"bt": -1e17, "v": 123.0}]',
        b'{"value": 1.0, "ts": "0001-01-01T00:00:00Z"}',
        b'{"value": 1.0, "ts": -1}',
    ],
    ids=["ts-1e19", "senml-t-1e16", "senml-bt-1e17", "year-1", "just-before-1970"],
)
def test_a_time_the_stores_cannot_hold_is_out_of_range(payload: bytes) -> None:
    rejected = rejection(payload)
    assert rejected.reason is Reason.OUT_OF_RANGE
    assert "before 1970-01-01T00:00:00Z" in rejected.message


def test_a_time_far_in_the_future_is_still_future_timestamp() -> None:
    assert rejection(b'{"value": 1.0, "ts": 1e300}').reason is Reason.FUTURE_TIMESTAMP


def test_the_bounds_are_kept() -> None:
    assert check_time(EARLIEST, "ts") == EARLIEST
    assert check_time(LATEST, "ts") == LATEST
    with pytest.raises(Rejected, match="after 9999-12-31"):
        check_time(LATEST + 0.001, "ts")
    assert round(LATEST * 1000) < 2**63


@pytest.mark.parametrize(
    "payload",
    [b'"\\ud800"', b'{"value": "ok \\udfff"}', b'[{"vs": "\\ud83d"}]'],
    ids=["bare", "object", "senml"],
)
def test_a_lone_surrogate_is_refused_on_a_string_point(payload: bytes) -> None:
    rejected = rejection(payload, Datatype.STRING)
    assert rejected.reason is Reason.UNPARSEABLE
    assert "lone surrogate" in rejected.message


def test_a_surrogate_pair_is_a_character_and_kept() -> None:
    (raw,) = decode(b'"\\ud83d\\ude00"', now=RECEIVED)
    obs = check(
        raw, spec(Datatype.STRING), received_at=RECEIVED, max_future=1, units=ontology_units()
    )
    assert obs.value == "\U0001f600"


def test_a_string_past_the_limit_is_too_large() -> None:
    long = "x" * (MAX_STRING_BYTES + 1)
    rejected = rejection(json.dumps(long).encode(), Datatype.STRING)
    assert rejected.reason is Reason.TOO_LARGE
    assert f"{MAX_STRING_BYTES + 1:,} bytes" in rejected.message
    assert check_text("é" * (MAX_STRING_BYTES // 2), "s")  # bytes, not characters, count
    with pytest.raises(Rejected):
        check_text("é" * (MAX_STRING_BYTES // 2 + 1), "s")
