"""Checking raw readings against points: datatypes, units, ranges, times, and every reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kgtwin.ingest.errors import InvalidPoint, Reason, Rejected
from kgtwin.ingest.payloads import decode
from kgtwin.ingest.raw import PayloadFormat, Quality, RawReading, Value
from kgtwin.ingest.readings import Datatype, Observation, PointSpec, check
from kgtwin.ontology.units import Units
from tests.units import ontology_units

RECEIVED = 1_700_000_000.0
MAX_FUTURE = 5.0
IRI = "https://example.org/dc1#ups-a1-load"


def point(
    unit: str = "KiloW",
    datatype: Datatype = Datatype.DOUBLE,
    min_value: float | None = None,
    max_value: float | None = None,
) -> PointSpec:
    return PointSpec(
        iri=IRI,
        id="ups-a1-load",
        topic="dc1/ups-a1/load",
        unit=unit,
        datatype=datatype,
        min_value=min_value,
        max_value=max_value,
        expected_interval=10.0,
    )


@pytest.fixture(scope="module")
def units() -> Units:
    return ontology_units()


def observe(units: Units, payload: bytes | str | dict[str, object], spec: PointSpec) -> Value:
    return _check(units, payload, spec).value


def _check(units: Units, payload: bytes | str | dict[str, object], spec: PointSpec) -> Observation:
    data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    data = data.encode() if isinstance(data, str) else data
    (raw,) = decode(data, now=RECEIVED)
    return check(raw, spec, received_at=RECEIVED, max_future=MAX_FUTURE, units=units)


def rejected(units: Units, payload: bytes | str | dict[str, object], spec: PointSpec) -> Rejected:
    with pytest.raises(Rejected) as caught:
        _check(units, payload, spec)
    return caught.value


def test_reasons_are_exactly_the_closed_set() -> None:
    assert [r.value for r in Reason] == [
        "unparseable",
        "unknown_topic",
        "unknown_unit",
        "incompatible_unit",
        "wrong_datatype",
        "out_of_range",
        "future_timestamp",
        "too_large",
        "unstorable",
        "internal_error",
    ]


def test_rejected_carries_reason_and_message() -> None:
    exc = Rejected(Reason.OUT_OF_RANGE, "value 250.0 kW is above the point's maximum 110.0 kW")
    assert exc.reason is Reason.OUT_OF_RANGE
    assert str(exc) == exc.message == "value 250.0 kW is above the point's maximum 110.0 kW"


# --- the observation ---------------------------------------------------------------------


def test_observation_of_an_object_payload(units: Units) -> None:
    payload = {"value": 42500, "unit": "W", "ts": RECEIVED - 3, "quality": "uncertain"}
    assert _check(units, payload, point(max_value=110.0)) == Observation(
        point_iri=IRI,
        value=42.5,
        unit="KiloW",
        observed_at=RECEIVED - 3,
        received_at=RECEIVED,
        quality=Quality.UNCERTAIN,
    )


def test_without_a_time_the_observation_is_at_receipt(units: Units) -> None:
    observation = _check(units, b"12.5", point())
    assert observation.observed_at == observation.received_at == RECEIVED
    assert observation.quality is Quality.GOOD


# --- datatypes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "value"), [(b"12.5", 12.5), (b"12", 12.0), (b"-0.0", 0.0)])
def test_double_takes_numbers_as_floats(units: Units, payload: bytes, value: float) -> None:
    observed = observe(units, payload, point())
    assert observed == value
    assert type(observed) is float


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        (b"true", "found a boolean (true)"),
        (b'"12.5"', "found a string ('12.5')"),
        ({"value": "on"}, "found a string ('on')"),
    ],
)
def test_double_refuses_booleans_and_strings(
    units: Units, payload: bytes | dict[str, object], found: str
) -> None:
    exc = rejected(units, payload, point())
    assert exc.reason is Reason.WRONG_DATATYPE
    assert exc.message == f"the point (datatype double) takes a number, {found}"


@pytest.mark.parametrize("datatype", [Datatype.DOUBLE, Datatype.INTEGER, Datatype.BOOLEAN])
def test_plain_text_is_unparseable_except_for_string_points(
    units: Units, datatype: Datatype
) -> None:
    exc = rejected(units, b"twelve", point("UNITLESS", datatype))
    assert exc.reason is Reason.UNPARSEABLE
    assert "'twelve' is not JSON" in exc.message


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (b"7", 7),
        (b"7.0", 7),
        ({"value": 2000, "unit": "W"}, 2),
        ({"value": 122, "unit": "degF"}, 50),  # 50.00000000000001: float noise, still whole
    ],
)
def test_integer_takes_whole_numbers(
    units: Units, payload: bytes | dict[str, object], value: int
) -> None:
    unit = "DEG_C" if isinstance(payload, dict) and payload["unit"] == "degF" else "KiloW"
    observed = observe(units, payload, point(unit, Datatype.INTEGER))
    assert observed == value
    assert type(observed) is int


def test_integer_refuses_a_fraction_after_conversion(units: Units) -> None:
    exc = rejected(units, {"value": 1500, "unit": "W"}, point(datatype=Datatype.INTEGER))
    assert exc.reason is Reason.WRONG_DATATYPE
    assert exc.message == (
        "the point (datatype integer) takes a whole number, found 1.5 kW (1500 W as sent)"
    )


@pytest.mark.parametrize("payload", [b"7.5", b"true", b'"7"'])
def test_integer_refuses_fractions_booleans_and_strings(units: Units, payload: bytes) -> None:
    assert rejected(units, payload, point(datatype=Datatype.INTEGER)).reason is (
        Reason.WRONG_DATATYPE
    )


def test_integer_must_fit_64_bits(units: Units) -> None:
    spec = point("UNITLESS", Datatype.INTEGER)
    assert observe(units, str(2**63 - 1), spec) == 2**63 - 1
    exc = rejected(units, str(2**63), spec)
    assert exc.reason is Reason.OUT_OF_RANGE
    assert "64-bit" in exc.message


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (b"true", True),
        (b"false", False),
        (b"1", True),
        (b"0", False),
        (b"1.0", True),
        ({"value": True, "unit": "UNITLESS"}, True),
        ({"value": False, "unit": "1"}, False),
        (b'[{"vb": true, "u": "/"}]', True),
        (b'[{"v": 0, "u": "count"}]', False),
    ],
)
def test_boolean_takes_true_false_and_0_1(
    units: Units, payload: bytes | dict[str, object], value: bool
) -> None:
    assert observe(units, payload, point("UNITLESS", Datatype.BOOLEAN)) is value


@pytest.mark.parametrize("payload", [b"2", b"-1", b"0.5", b'"true"', {"value": "on"}])
def test_boolean_refuses_other_numbers_and_strings(
    units: Units, payload: bytes | dict[str, object]
) -> None:
    exc = rejected(units, payload, point("UNITLESS", Datatype.BOOLEAN))
    assert exc.reason is Reason.WRONG_DATATYPE
    assert "takes true or false (or 0 or 1)" in exc.message


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (b"running", "running"),
        (b'"running"', "running"),
        (b"  eco mode \n", "eco mode"),
        (b"42", "42"),
        (b"true", "true"),
        ({"value": "fault"}, "fault"),
        (b'[{"vs": "open"}]', "open"),
    ],
)
def test_string_takes_text(units: Units, payload: bytes | dict[str, object], value: str) -> None:
    assert observe(units, payload, point("UNITLESS", Datatype.STRING)) == value


@pytest.mark.parametrize("payload", [{"value": 42}, {"value": True}, b'[{"v": 1}]'])
def test_string_refuses_typed_numbers_and_booleans(
    units: Units, payload: bytes | dict[str, object]
) -> None:
    exc = rejected(units, payload, point("UNITLESS", Datatype.STRING))
    assert exc.reason is Reason.WRONG_DATATYPE
    assert "takes a string" in exc.message


# --- units -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "unit", "value"),
    [
        ({"value": 250_000, "unit": "W"}, "KiloW", 250.0),
        ({"value": 20, "unit": "°C"}, "DEG_F", 68.0),
        ({"value": 68, "unit": "°F"}, "DEG_C", 20.0),
        (b'[{"v": 20, "u": "Cel"}]', "K", 293.15),
        (b'[{"v": 0.5, "u": "%"}]', "PERCENT", 50.0),  # SenML's % is a ratio
        ({"value": 50, "unit": "%"}, "PERCENT", 50.0),  # elsewhere it is percent
        ({"value": 4, "unit": "http://qudt.org/vocab/unit/BAR"}, "KiloPA", 400.0),
    ],
)
def test_values_are_converted_to_the_points_unit(
    units: Units, payload: bytes | dict[str, object], unit: str, value: float
) -> None:
    assert observe(units, payload, point(unit)) == pytest.approx(value)


@pytest.mark.parametrize(
    ("payload", "unit", "reason"),
    [
        ({"value": 1, "unit": "kVA"}, "KiloW", Reason.INCOMPATIBLE_UNIT),
        ({"value": 1, "unit": "kW"}, "KiloV-A", Reason.INCOMPATIBLE_UNIT),
        ({"value": 40, "unit": "%RH"}, "PERCENT", Reason.INCOMPATIBLE_UNIT),
        ({"value": 40, "unit": "%"}, "PERCENT_RH", Reason.INCOMPATIBLE_UNIT),
        ({"value": 1, "unit": "furlong"}, "KiloW", Reason.INCOMPATIBLE_UNIT),
        ({"value": 1, "unit": "zorkmid"}, "KiloW", Reason.UNKNOWN_UNIT),
        ({"value": 1, "unit": "mW"}, "KiloW", Reason.UNKNOWN_UNIT),
        (b'[{"v": 1, "u": "Zz"}]', "KiloW", Reason.UNKNOWN_UNIT),
    ],
)
def test_unit_rejections(
    units: Units, payload: bytes | dict[str, object], unit: str, reason: Reason
) -> None:
    assert rejected(units, payload, point(unit)).reason is reason


@pytest.mark.parametrize("datatype", [Datatype.BOOLEAN, Datatype.STRING])
def test_a_physical_unit_on_a_boolean_or_string_point_is_incompatible(
    units: Units, datatype: Datatype
) -> None:
    value = True if datatype is Datatype.BOOLEAN else "x"
    exc = rejected(units, {"value": value, "unit": "W"}, point("UNITLESS", datatype))
    assert exc.reason is Reason.INCOMPATIBLE_UNIT
    assert f"a {datatype} point takes no unit" in exc.message


def test_an_unknown_unit_on_a_boolean_point_is_unknown(units: Units) -> None:
    exc = rejected(units, {"value": True, "unit": "zorkmid"}, point("UNITLESS", Datatype.BOOLEAN))
    assert exc.reason is Reason.UNKNOWN_UNIT


def test_a_boolean_point_accepts_its_own_unit(units: Units) -> None:
    assert observe(units, {"value": 1, "unit": "%"}, point("PERCENT", Datatype.BOOLEAN)) is True


# --- ranges ------------------------------------------------------------------------------


def test_above_maximum_after_conversion_says_both_units(units: Units) -> None:
    exc = rejected(units, {"value": 250_000, "unit": "W"}, point(min_value=0.0, max_value=110.0))
    assert exc.reason is Reason.OUT_OF_RANGE
    assert exc.message == (
        "value 250.0 kW (250000 W as sent) is above the point's maximum 110.0 kW"
    )


def test_below_minimum(units: Units) -> None:
    exc = rejected(units, b"-0.5", point(min_value=0.0, max_value=110.0))
    assert exc.reason is Reason.OUT_OF_RANGE
    assert exc.message == "value -0.5 kW is below the point's minimum 0.0 kW"


@pytest.mark.parametrize("payload", [b"0", b"110", b"110.0", b'{"value": 110000, "unit": "W"}'])
def test_bounds_are_inclusive(units: Units, payload: bytes) -> None:
    observe(units, payload, point(min_value=0.0, max_value=110.0))


def test_a_value_that_overflows_on_conversion_is_out_of_range(units: Units) -> None:
    exc = rejected(units, {"value": 1e308, "unit": "MW"}, point("W"))
    assert exc.reason is Reason.OUT_OF_RANGE


@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_range_check_matches_the_converted_value(units: Units, value: float) -> None:
    raw = RawReading(value=value, format=PayloadFormat.OBJECT, unit="W")
    spec = point(min_value=-50.0, max_value=110.0)
    kilowatts = value / 1000
    assume(all(abs(kilowatts - bound) > 1e-9 for bound in (-50.0, 110.0)))  # float ties
    if -50.0 <= kilowatts <= 110.0:
        observation = check(raw, spec, received_at=RECEIVED, max_future=MAX_FUTURE, units=units)
        assert observation.value == pytest.approx(kilowatts)
    else:
        with pytest.raises(Rejected) as caught:
            check(raw, spec, received_at=RECEIVED, max_future=MAX_FUTURE, units=units)
        assert caught.value.reason is Reason.OUT_OF_RANGE


# --- time --------------------------------------------------------------------------------


@pytest.mark.parametrize("ahead", [-86_400.0, 0.0, MAX_FUTURE])
def test_times_up_to_max_future_are_accepted(units: Units, ahead: float) -> None:
    observation = _check(units, {"value": 1, "ts": RECEIVED + ahead}, point())
    assert observation.observed_at == RECEIVED + ahead


def test_a_time_too_far_ahead_is_future_timestamp(units: Units) -> None:
    exc = rejected(units, {"value": 1, "ts": RECEIVED + 60}, point())
    assert exc.reason is Reason.FUTURE_TIMESTAMP
    assert exc.message == (
        "timestamp 2023-11-14T22:14:20Z is 60 s after the message was received "
        "(2023-11-14T22:13:20Z); at most 5 s ahead is allowed"
    )


def test_epoch_microseconds_are_misread_as_far_future_and_rejected(units: Units) -> None:
    exc = rejected(units, {"value": 1, "ts": int(RECEIVED * 1_000_000)}, point())
    assert exc.reason is Reason.FUTURE_TIMESTAMP


def test_senml_relative_time_is_checked_like_any_other(units: Units) -> None:
    assert rejected(units, b'[{"t": 3600, "v": 1}]', point()).reason is Reason.FUTURE_TIMESTAMP
    assert _check(units, b'[{"t": -60, "v": 1}]', point()).observed_at == RECEIVED - 60


# --- the point itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"min_value": 10.0, "max_value": 1.0}, "minimum 10.0 is above maximum 1.0"),
        ({"datatype": Datatype.BOOLEAN, "max_value": 1.0}, "cannot have min/max"),
        ({"expected_interval": 0.0}, "expected interval must be above 0 s"),
    ],
)
def test_invalid_points(changes: dict[str, object], says: str) -> None:
    fields: dict[str, object] = {
        "iri": IRI,
        "id": "p",
        "topic": "t",
        "unit": "KiloW",
        "datatype": Datatype.DOUBLE,
        "min_value": None,
        "max_value": None,
        "expected_interval": 10.0,
    }
    with pytest.raises(InvalidPoint, match=says):
        PointSpec(**(fields | changes))  # type: ignore[arg-type]


def test_a_point_unit_the_ontology_does_not_declare_is_an_invalid_point(units: Units) -> None:
    """The point table leaves such points out; a point made without it fails as a point."""
    with pytest.raises(InvalidPoint, match=r"not declared in ontology/core/units\.ttl"):
        _check(units, {"value": 1000, "unit": "W"}, point("KILOWATT"))
