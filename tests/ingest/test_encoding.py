"""Encoding against decoding: every payload :func:`ingest.encoding.encode` writes, in every
format and unit spelling, is read back by ``payloads.decode`` and ``readings.check`` as the
value it was given, on the point it was meant for."""

from __future__ import annotations

import json

import pytest

from kgtwin.ingest.encoding import ALTERNATES, SENML_SYMBOLS, Encoding, Spelling, alternate, encode
from kgtwin.ingest.payloads import decode
from kgtwin.ingest.raw import PayloadFormat, Quality, Value
from kgtwin.ingest.readings import Datatype, PointSpec, check
from kgtwin.ingest.topics import PointTable
from tests.units import ontology_units

NOW = 1_767_225_600.0
TOPIC = "dc1/ups-a1/output-power"
UNITS = ontology_units()


def spec(unit: str, datatype: Datatype = Datatype.DOUBLE) -> PointSpec:
    return PointSpec("urn:p", "ups-a1.output-power", TOPIC, unit, datatype, None, None, 5.0)


def read_back(payload: bytes, point: PointSpec) -> tuple[Value, float, Quality, PayloadFormat]:
    (raw,) = decode(payload, now=NOW)
    observation = check(raw, point, received_at=NOW + 0.5, max_future=300, units=UNITS)
    return observation.value, observation.observed_at, observation.quality, raw.format


SPELLINGS = [
    (encoding, unit, spelling)
    for encoding, table in ALTERNATES.items()
    for unit, spelling in table.items()
]


@pytest.mark.parametrize(
    ("encoding", "unit", "spelling"), SPELLINGS, ids=[f"{e}-{u}" for e, u, _ in SPELLINGS]
)
def test_a_number_in_another_unit_reads_back_in_the_points_unit(
    encoding: Encoding, unit: str, spelling: Spelling
) -> None:
    for number in (0.0, 12.345, 987.5):
        payload = encode(TOPIC, number, unit=unit, time=NOW, encoding=encoding, spelling=spelling)
        value, _, _, _ = read_back(payload, spec(unit))
        assert value == pytest.approx(number, rel=1e-8, abs=1e-9), payload


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("unit", sorted(UNITS.declared))
def test_a_number_in_the_points_own_unit_reads_back(encoding: Encoding, unit: str) -> None:
    payload = encode(TOPIC, 42.125, unit=unit, time=NOW, encoding=encoding)
    value, observed, _, decoded = read_back(payload, spec(unit))
    assert value == 42.125
    assert decoded.value == ("object" if encoding is Encoding.JSON else encoding.value)
    assert observed == (NOW + 0.5 if encoding is Encoding.BARE else NOW)


def test_senml_names_units_the_senml_way() -> None:
    (record,) = json.loads(encode(TOPIC, 21.5, unit="DEG_C", time=NOW, encoding=Encoding.SENML))
    assert record == {"bn": "dc1/ups-a1/", "n": "output-power", "t": NOW, "u": "Cel", "v": 21.5}
    (record,) = json.loads(encode(TOPIC, 50.0, unit="PERCENT", time=NOW, encoding=Encoding.SENML))
    assert record["u"] == "/100"  # SenML's "%" is a ratio: never used for percent
    assert all(symbol != "%" for symbol in SENML_SYMBOLS.values())
    (record,) = json.loads(encode(TOPIC, 9.0, unit="BAR", time=NOW, encoding=Encoding.SENML))
    assert "u" not in record  # no SenML symbol: the point's own unit applies


def test_a_senml_record_is_routed_by_its_name_to_the_topic() -> None:
    table = PointTable({TOPIC: spec("KiloW")}, {}, {}, ())
    (raw,) = decode(encode(TOPIC, 1.0, unit="KiloW", time=NOW, encoding=Encoding.SENML), now=NOW)
    assert raw.name == TOPIC
    assert table.route("somewhere/else", raw.name).topic == TOPIC


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize(
    ("value", "datatype"),
    [
        (True, Datatype.BOOLEAN),
        (False, Datatype.BOOLEAN),
        ("source-b", Datatype.STRING),
        ("true", Datatype.STRING),
        (3, Datatype.INTEGER),
    ],
)
def test_states_read_back_in_every_format(
    encoding: Encoding, value: Value, datatype: Datatype
) -> None:
    payload = encode(TOPIC, value, unit="UNITLESS", time=NOW, encoding=encoding)
    decoded, _, _, _ = read_back(payload, spec("UNITLESS", datatype))
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_a_reading_that_is_not_good_goes_as_a_json_object(encoding: Encoding) -> None:
    payload = encode(TOPIC, 50.0, unit="HZ", time=NOW, encoding=encoding, quality=Quality.BAD)
    value, _, quality, decoded = read_back(payload, spec("HZ"))
    assert (value, quality, decoded) == (50.0, Quality.BAD, PayloadFormat.OBJECT)


def test_a_topic_that_is_no_senml_name_is_left_to_the_mqtt_topic() -> None:
    (record,) = json.loads(
        encode("site 2/pump #1", 1.0, unit="KiloW", time=NOW, encoding=Encoding.SENML)
    )
    assert "bn" not in record
    assert "n" not in record


def test_alternates_exist_only_where_the_format_carries_a_unit() -> None:
    assert alternate("KiloW", Encoding.BARE) is None
    assert alternate("KiloW", Encoding.JSON) == Spelling("W", 1000.0)
    assert alternate("REV-PER-MIN", Encoding.SENML) is None
