"""Encoding readings as MQTT payloads, in the three formats :mod:`ingest.payloads` decodes:
a bare JSON value, a JSON object ``{"value", "ts", "unit", "quality"}``, and a SenML pack
of one record. The mirror of decoding, for senders written in Python (the telemetry
simulator) and for tests: whatever :func:`encode` writes, ``payloads.decode`` reads back.

A JSON object names the point's unit by its QUDT local name ("KiloW"). A number may be
sent in another unit of the same quantity kind than the point's own, to exercise the
conversion ingestion does: :func:`alternate` gives a spelling :mod:`ontology.units`
resolves, with the factor that takes a value there. SenML spells units its own way
(``Cel``, ``kW``, ``/100``; its ``%`` is a ratio, never used here); a unit SenML has no
symbol for is left out of the record (the point's own applies).
Bare values and SenML records cannot carry a quality, so a reading whose quality is not
``good`` is always sent as a JSON object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from kgtwin.ingest.raw import Quality, Value


class Encoding(StrEnum):
    """A payload format, as a sender chooses it."""

    BARE = "bare"
    JSON = "json"
    SENML = "senml"


@dataclass(frozen=True, slots=True)
class Spelling:
    """A unit as a message names it, and how to take a value from the point's unit there:
    ``value * scale + offset``."""

    name: str
    scale: float = 1.0
    offset: float = 0.0

    def __call__(self, value: float) -> float:
        return value * self.scale + self.offset


SENML_SYMBOLS: Final[Mapping[str, str]] = {
    "W": "W",
    "KiloW": "kW",
    "KiloV-A": "kVA",
    "KiloW-HR": "kWh",
    "V": "V",
    "A": "A",
    "HZ": "Hz",
    "DEG_C": "Cel",
    "K": "K",
    "PA": "Pa",
    "M3-PER-SEC": "m3/s",
    "L-PER-SEC": "l/s",
    "SEC": "s",
    "MIN": "min",
    "HR": "h",
    "PERCENT": "/100",
    "PERCENT_RH": "%RH",
}
"""A point unit (QUDT local name) -> its SenML symbol (RFC 8428 and RFC 8798)."""

ALTERNATES: Final[Mapping[Encoding, Mapping[str, Spelling]]] = {
    Encoding.JSON: {
        "KiloW": Spelling("W", 1000.0),
        "KiloV-A": Spelling("VA", 1000.0),
        "KiloW-HR": Spelling("Wh", 1000.0),
        "V": Spelling("kV", 0.001),
        "KiloV": Spelling("V", 1000.0),
        "A": Spelling("mA", 1000.0),
        "DEG_C": Spelling("degF", 1.8, 32.0),
        "KiloPA": Spelling("Pa", 1000.0),
        "BAR": Spelling("kPa", 100.0),
        "M3-PER-HR": Spelling("L/s", 1 / 3.6),
        "MilliM-PER-SEC": Spelling("m/s", 0.001),
    },
    Encoding.SENML: {
        "KiloW": Spelling("W", 1000.0),
        "KiloV-A": Spelling("VA", 1000.0),
        "KiloW-HR": Spelling("Wh", 1000.0),
        "V": Spelling("mV", 1000.0),
        "KiloV": Spelling("V", 1000.0),
        "A": Spelling("mA", 1000.0),
        "DEG_C": Spelling("K", 1.0, 273.15),
        "KiloPA": Spelling("Pa", 1000.0),
        "BAR": Spelling("hPa", 1000.0),
        "M3-PER-HR": Spelling("l/s", 1 / 3.6),
        "MilliM-PER-SEC": Spelling("m/s", 0.001),
    },
}
"""Per format, a point unit -> another unit of its quantity kind that messages may use."""

_SENML_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")
_SIGNIFICANT: Final = 9  # digits kept of a converted number


def alternate(unit: str, encoding: Encoding) -> Spelling | None:
    """Another unit than ``unit`` for a number sent in ``encoding``; None when there is
    none (or the format carries no unit, as a bare value)."""
    return ALTERNATES.get(encoding, {}).get(unit)


def encode(
    topic: str,
    value: Value,
    *,
    unit: str | None,
    time: float | None,
    encoding: Encoding,
    quality: Quality = Quality.GOOD,
    spelling: Spelling | None = None,
) -> bytes:
    """The payload of ``value`` (in the point's ``unit``, a QUDT local name) observed at
    ``time`` (epoch seconds; None: none sent) for the point on ``topic``. ``spelling``
    sends a number in that unit instead."""
    if quality is not Quality.GOOD:
        encoding = Encoding.JSON
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if encoding is Encoding.BARE:
        return _dump(value)
    sent: Value = value
    name: str | None = None
    if numeric and spelling is not None:
        sent = float(f"{spelling(float(value)):.{_SIGNIFICANT}g}")
        name = spelling.name
    elif numeric and isinstance(value, float) and unit is not None:
        name = _own(unit, encoding)
    if encoding is Encoding.JSON:
        doc: dict[str, Value] = {"value": sent}
        if time is not None:
            doc["ts"] = round(time, 3)
        if name is not None:
            doc["unit"] = name
        if quality is not Quality.GOOD:
            doc["quality"] = quality.value
        return _dump(doc)
    record: dict[str, Value] = {}
    base, _, last = topic.rpartition("/")
    if base and _SENML_NAME.fullmatch(topic):  # else routed by the MQTT topic
        record["bn"], record["n"] = f"{base}/", last
    if time is not None:
        record["t"] = round(time, 3)
    if name is not None:
        record["u"] = name
    key = "vb" if isinstance(sent, bool) else "vs" if isinstance(sent, str) else "v"
    record[key] = sent
    return _dump([record])


def _own(unit: str, encoding: Encoding) -> str | None:
    """How ``encoding`` names a point's own unit (None: leave it out)."""
    if encoding is Encoding.SENML:
        return SENML_SYMBOLS.get(unit)
    return unit


def _dump(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
