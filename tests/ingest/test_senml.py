"""SenML packs (RFC 8428): base-field resolution, relative time, and what is refused."""

from __future__ import annotations

import json

import pytest

from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.payloads import decode
from kgtwin.ingest.raw import PayloadFormat, RawReading
from kgtwin.ingest.senml import RELATIVE_BELOW

NOW = 1_700_000_000.0


def pack(*records: dict[str, object]) -> list[RawReading]:
    return decode(json.dumps(list(records)).encode(), now=NOW)


def refused(*records: object) -> str:
    with pytest.raises(Rejected) as caught:
        decode(json.dumps(list(records)).encode(), now=NOW)
    assert caught.value.reason is Reason.UNPARSEABLE
    return caught.value.message


def senml(value: object, **fields: object) -> RawReading:
    return RawReading(value=value, format=PayloadFormat.SENML, **fields)  # type: ignore[arg-type]


def test_rfc8428_multiple_datapoints_example() -> None:
    """RFC 8428's example of two datapoints sharing a base name."""
    readings = pack(
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
        {"n": "current", "u": "A", "v": 1.2},
    )
    assert readings == [
        senml(120.1, unit="V", name="urn:dev:ow:10e2073a01080063:voltage"),
        senml(1.2, unit="A", name="urn:dev:ow:10e2073a01080063:current"),
    ]


def test_base_unit_and_base_time_apply_to_later_records() -> None:
    readings = pack(
        {"bn": "dev1:", "bt": 1.320067464e09, "bu": "%RH", "v": 20},
        {"u": "Cel", "t": 1, "v": 24.5},
        {"v": 21},
    )
    assert readings == [
        senml(20, unit="%RH", time=1_320_067_464.0, name="dev1:"),
        senml(24.5, unit="Cel", time=1_320_067_465.0, name="dev1:"),
        senml(21, unit="%RH", time=1_320_067_464.0, name="dev1:"),
    ]


def test_base_fields_carry_over_until_replaced() -> None:
    readings = pack(
        {"bn": "ups-a1/", "bt": 1_700_000_100, "bu": "kW", "bv": 100, "n": "load", "v": 5},
        {"n": "load", "t": 10, "v": -5},
        {"bn": "ups-a2/", "bu": "W", "bv": 0, "n": "load", "t": 20, "v": 7},
        {"n": "ok", "u": "/", "vb": True},
        {"n": "mode", "vs": "eco"},
    )
    assert readings == [
        senml(105, unit="kW", time=1_700_000_100.0, name="ups-a1/load"),
        senml(95, unit="kW", time=1_700_000_110.0, name="ups-a1/load"),
        senml(7, unit="W", time=1_700_000_120.0, name="ups-a2/load"),
        senml(True, unit="/", time=1_700_000_100.0, name="ups-a2/ok"),
        senml("eco", unit="W", time=1_700_000_100.0, name="ups-a2/mode"),
    ]


def test_base_value_is_not_added_to_boolean_or_string_values() -> None:
    assert [r.value for r in pack({"bv": 10, "vb": False}, {"vs": "x"})] == [False, "x"]


def test_integer_values_stay_integers_without_base_value() -> None:
    assert type(pack({"v": 3})[0].value) is int
    assert pack({"bv": 0.5, "v": 3})[0].value == 3.5


def test_no_name_when_neither_bn_nor_n() -> None:
    assert pack({"v": 1})[0].name is None
    assert pack({"bn": "", "v": 1})[0].name is None
    assert pack({"n": "temp", "v": 1})[0].name == "temp"


def test_no_time_when_neither_bt_nor_t() -> None:
    assert pack({"v": 1})[0].time is None


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"t": 0, "v": 1}, NOW),
        ({"t": -5, "v": 1}, NOW - 5),
        ({"t": 30, "v": 1}, NOW + 30),
        ({"bt": -60, "t": 10, "v": 1}, NOW - 50),
        ({"t": RELATIVE_BELOW - 1, "v": 1}, NOW + RELATIVE_BELOW - 1),
        ({"t": RELATIVE_BELOW, "v": 1}, float(RELATIVE_BELOW)),  # absolute from 2**28 on
        ({"bt": 1_600_000_000, "t": -10, "v": 1}, 1_599_999_990.0),
    ],
)
def test_times_below_2_pow_28_are_relative_to_now(
    record: dict[str, object], expected: float
) -> None:
    assert pack(record)[0].time == expected


def test_relative_time_uses_the_now_it_is_given() -> None:
    payload = b'[{"t": -1, "v": 1}]'
    assert decode(payload, now=100.0)[0].time == 99.0
    assert decode(payload, now=200.0)[0].time == 199.0


def test_unknown_fields_are_ignored() -> None:
    assert pack({"v": 1, "vendor": {"x": [1]}, "ut": 60, "s": 3})[0].value == 1


def test_version_10_is_accepted() -> None:
    assert pack({"bver": 10, "v": 1})[0].value == 1


@pytest.mark.parametrize(
    ("records", "says"),
    [
        ([], "SenML pack is empty"),
        ([1], "SenML record 1 of 1: expected a JSON object, found a number (1)"),
        ([{"v": 1}, {"v": 2}, {"n": "x"}], "SenML record 3 of 3: no value (v, vb or vs)"),
        ([{"s": 12.5}], "SenML record 1 of 1: only a sum (s), which is not stored"),
        ([{"vd": "aGk"}], "SenML record 1 of 1: a data value (vd) is not supported"),
        ([{"v": 1, "vb": True}], "SenML record 1 of 1: more than one value (v and vb)"),
        ([{"v": "1"}], "SenML record 1 of 1: 'v' must be a number, found a string ('1')"),
        ([{"v": True}], "'v' must be a number, found a boolean (true)"),
        ([{"v": 1}, {"vb": 1}], "SenML record 2 of 2: 'vb' must be true or false, found a number"),
        ([{"vs": 3}], "'vs' must be a string, found a number (3)"),
        ([{"n": 5, "v": 1}], "'n' must be a string"),
        ([{"u": None, "v": 1}], "'u' must be a string, found null"),
        ([{"t": "now", "v": 1}], "'t' must be a number"),
        ([{"bt": [], "v": 1}], "'bt' must be a number, found an array"),
        ([{"bver": 11, "v": 1}], "SenML version 11; this decoder implements version 10"),
        ([{"bver": 1.5, "v": 1}], "'bver' must be a positive integer, found a number (1.5)"),
        ([{"bver": True, "v": 1}], "'bver' must be a positive integer, found a boolean"),
        ([{"v": 1, "rd_": 1}], "the must-understand field 'rd_' is not supported"),
        ([{"n": "bad name", "v": 1}], "the name 'bad name' is not allowed"),
        ([{"bn": "-x", "v": 1}], "names start with a letter or digit"),
        ([{"v": 1e308, "bv": 1e308}], "'bv' + 'v' is a number too large for a double"),
        ([{"bt": 1e308, "t": 1e308, "v": 1}], "'bt' + 't' is too large for a double"),
    ],
)
def test_malformed_packs_name_the_record_and_the_problem(records: list[object], says: str) -> None:
    assert says in refused(*records)


def test_a_bad_record_rejects_the_whole_pack() -> None:
    message = refused({"v": 1}, {"v": 2}, {"vd": "x"})
    assert message.startswith("SenML record 3 of 3: ")
