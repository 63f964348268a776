"""The units ingestion recognises: every QUDT unit of ``ontology/core/units.ttl`` with its
quantity kinds and pint expression, a few more that messages commonly name, and the
spellings that lead to them (QUDT local name and IRI, QUDT symbol, SenML symbol).

Pure data and dictionary look-ups; converting values is :mod:`ingest.units`' job.

Two units convert only when they share a QUDT quantity kind. pint alone would convert
kV⋅A to kW (both are volt times ampere) or %RH to % (both are 1/100): QUDT keeps them
apart as ApparentPower vs Power and RelativeHumidity vs DimensionlessRatio, and so do we.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ontology.namespaces import UNIT

QUDT_UNIT_PREFIX = str(UNIT)
"""``http://qudt.org/vocab/unit/``: a message may name a unit by its full QUDT IRI."""


class QuantityKind(StrEnum):
    """QUDT quantity kinds (local names under ``http://qudt.org/vocab/quantitykind/``)."""

    POWER = "Power"
    APPARENT_POWER = "ApparentPower"
    ENERGY = "Energy"
    VOLTAGE = "Voltage"
    ELECTRIC_CURRENT = "ElectricCurrent"
    FREQUENCY = "Frequency"
    TEMPERATURE = "Temperature"
    THERMODYNAMIC_TEMPERATURE = "ThermodynamicTemperature"
    PRESSURE = "Pressure"
    VOLUME_FLOW_RATE = "VolumeFlowRate"
    VELOCITY = "Velocity"
    ANGULAR_VELOCITY = "AngularVelocity"
    TIME = "Time"
    DIMENSIONLESS_RATIO = "DimensionlessRatio"
    RELATIVE_HUMIDITY = "RelativeHumidity"
    DIMENSIONLESS = "Dimensionless"


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit as ingestion understands it.

    ``qudt`` is the QUDT local name, or None for a unit only pint knows (then ``kinds`` are
    inferred from its dimension). ``symbol`` is how messages and errors write it.
    """

    qudt: str | None
    symbol: str
    kinds: frozenset[QuantityKind]
    pint: str

    def describe(self) -> str:
        """``kW (unit:KiloW, Power)``: the unit as an error message names it."""
        kinds = ", ".join(sorted(self.kinds)) or "no quantity kind kgtwin knows"
        name = f"unit:{self.qudt}" if self.qudt else "a pint unit"
        return f"{self.symbol} ({name}, {kinds})"


def _unit(qudt: str, symbol: str, pint: str, *kinds: QuantityKind) -> tuple[str, Unit]:
    return qudt, Unit(qudt=qudt, symbol=symbol, kinds=frozenset(kinds), pint=pint)


_K = QuantityKind

POINT_UNITS: Mapping[str, Unit] = dict(
    (
        _unit("W", "W", "watt", _K.POWER),
        _unit("KiloW", "kW", "kilowatt", _K.POWER),
        _unit("MegaW", "MW", "megawatt", _K.POWER),
        _unit("KiloV-A", "kV⋅A", "kilovolt * ampere", _K.APPARENT_POWER),
        _unit("TON_FG", "TOR", "ton_of_refrigeration", _K.POWER),
        _unit("KiloW-HR", "kW⋅h", "kilowatt_hour", _K.ENERGY),
        _unit("MegaW-HR", "MW⋅h", "megawatt_hour", _K.ENERGY),
        _unit("V", "V", "volt", _K.VOLTAGE),
        _unit("KiloV", "kV", "kilovolt", _K.VOLTAGE),
        _unit("A", "A", "ampere", _K.ELECTRIC_CURRENT),
        _unit("HZ", "Hz", "hertz", _K.FREQUENCY),
        _unit("DEG_C", "°C", "degree_Celsius", _K.TEMPERATURE),
        _unit("K", "K", "kelvin", _K.TEMPERATURE, _K.THERMODYNAMIC_TEMPERATURE),
        _unit("DEG_F", "°F", "degree_Fahrenheit", _K.TEMPERATURE),
        _unit("PA", "Pa", "pascal", _K.PRESSURE),
        _unit("KiloPA", "kPa", "kilopascal", _K.PRESSURE),
        _unit("BAR", "bar", "bar", _K.PRESSURE),
        _unit("M3-PER-HR", "m³/h", "meter ** 3 / hour", _K.VOLUME_FLOW_RATE),
        _unit("M3-PER-SEC", "m³/s", "meter ** 3 / second", _K.VOLUME_FLOW_RATE),
        _unit("L-PER-SEC", "L/s", "liter / second", _K.VOLUME_FLOW_RATE),
        _unit("L-PER-MIN", "L/min", "liter / minute", _K.VOLUME_FLOW_RATE),
        _unit("MilliM-PER-SEC", "mm/s", "millimeter / second", _K.VELOCITY),
        _unit("REV-PER-MIN", "rev/min", "revolution / minute", _K.ANGULAR_VELOCITY),
        _unit("SEC", "s", "second", _K.TIME),
        _unit("MIN", "min", "minute", _K.TIME),
        _unit("HR", "h", "hour", _K.TIME),
        _unit("PERCENT", "%", "percent", _K.DIMENSIONLESS_RATIO),
        _unit("PERCENT_RH", "%RH", "percent", _K.RELATIVE_HUMIDITY),
        _unit("UNITLESS", "1", "dimensionless", _K.DIMENSIONLESS),
    )
)
"""The units a point may have: exactly those ``ontology/core/units.ttl`` declares."""

MESSAGE_UNITS: Mapping[str, Unit] = dict(
    (
        _unit("J", "J", "joule", _K.ENERGY),
        _unit("W-HR", "W⋅h", "watt_hour", _K.ENERGY),
        _unit("MilliSEC", "ms", "millisecond", _K.TIME),
        _unit("KiloHZ", "kHz", "kilohertz", _K.FREQUENCY),
        _unit("MegaHZ", "MHz", "megahertz", _K.FREQUENCY),
        _unit("V-A", "V⋅A", "volt * ampere", _K.APPARENT_POWER),
        _unit("MegaV-A", "MV⋅A", "megavolt * ampere", _K.APPARENT_POWER),
        _unit("MilliV", "mV", "millivolt", _K.VOLTAGE),
        _unit("MilliA", "mA", "milliampere", _K.ELECTRIC_CURRENT),
        _unit("HectoPA", "hPa", "hectopascal", _K.PRESSURE),
        _unit("M-PER-SEC", "m/s", "meter / second", _K.VELOCITY),
        # SenML's "/" (a ratio such as a switch position, 0..1): a fraction is both a ratio
        # and dimensionless, so it converts to % and passes to UNITLESS points unchanged.
        _unit("FRACTION", "/", "dimensionless", _K.DIMENSIONLESS_RATIO, _K.DIMENSIONLESS),
        _unit("NUM", "#", "dimensionless", _K.DIMENSIONLESS),
    )
)
"""Units a message may use but a point may not (the ontology does not declare them)."""

UNITS: Mapping[str, Unit] = {**POINT_UNITS, **MESSAGE_UNITS}
"""Every unit with a QUDT name, by QUDT local name."""

SENML_UNITS: Mapping[str, str] = {
    # RFC 8428 section 12.1 (the SenML Units registry) and RFC 8798's additions.
    "s": "SEC",
    "A": "A",
    "K": "K",
    "Hz": "HZ",
    "Pa": "PA",
    "J": "J",
    "W": "W",
    "V": "V",
    "VA": "V-A",
    "Cel": "DEG_C",
    "m/s": "M-PER-SEC",
    "m3/s": "M3-PER-SEC",
    "l/s": "L-PER-SEC",
    "count": "NUM",
    "/": "FRACTION",
    # RFC 8428 keeps "%" for historical reasons as the same unit as "/": a ratio (0.5 is
    # half), NOT a percentage. In SenML only; elsewhere "%" is QUDT's percent.
    "%": "FRACTION",
    "%RH": "PERCENT_RH",
    "%EL": "PERCENT",
    "EL": "SEC",
    # RFC 8798 secondary units (a primary unit scaled).
    "ms": "MilliSEC",
    "min": "MIN",
    "h": "HR",
    "MHz": "MegaHZ",
    "kW": "KiloW",
    "kVA": "KiloV-A",
    "Wh": "W-HR",
    "kWh": "KiloW-HR",
    "mV": "MilliV",
    "mA": "MilliA",
    "/100": "PERCENT",
    "hPa": "HectoPA",
}
"""SenML unit symbols, as SenML defines them, by QUDT local name."""

_SPELLINGS: Mapping[str, str] = {
    "watt": "W",
    "kilowatt": "KiloW",
    "megawatt": "MegaW",
    "kV·A": "KiloV-A",
    "kV*A": "KiloV-A",
    "MVA": "MegaV-A",
    "V·A": "V-A",
    "TR": "TON_FG",
    "kW·h": "KiloW-HR",
    "kW*h": "KiloW-HR",
    "MWh": "MegaW-HR",
    "MW·h": "MegaW-HR",
    "MW*h": "MegaW-HR",
    "W·h": "W-HR",
    "degC": "DEG_C",
    "℃": "DEG_C",
    "degF": "DEG_F",
    "℉": "DEG_F",
    "m3/h": "M3-PER-HR",
    "l/min": "L-PER-MIN",
    "rpm": "REV-PER-MIN",
    "RPM": "REV-PER-MIN",
}
"""Other common spellings (pint's names, ASCII for ⋅ and ³, Unicode ℃/℉)."""

ALIASES: Mapping[str, str] = {
    **{k: v for k, v in SENML_UNITS.items() if k != "%"},
    **{u.symbol: name for name, u in UNITS.items()},
    **_SPELLINGS,
}
"""Every spelling outside SenML packs, by QUDT local name; "%" is QUDT's percent here."""


def lookup(name: str, *, senml: bool = False) -> Unit | None:
    """The unit a message names by QUDT local name, ``unit:`` name, QUDT IRI, symbol or
    (in a SenML pack, where SenML's meaning wins) SenML symbol; None if the table lacks it.
    """
    if senml and name in SENML_UNITS:
        return UNITS[SENML_UNITS[name]]
    unit = UNITS.get(name)
    if unit is not None:
        return unit
    alias = ALIASES.get(name)
    if alias is not None:
        return UNITS[alias]
    for prefix in (QUDT_UNIT_PREFIX, "unit:"):
        if name.startswith(prefix):
            return UNITS.get(name[len(prefix) :])
    return None
