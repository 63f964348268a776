"""Spellings of units that are not in the ontology: SenML's unit symbols and other common
ones, each to the QUDT local name of the unit it means. Names only: what a unit is (its
quantity kinds, its conversion) comes from ``ontology/core/units.ttl``, and a spelling of a
unit the ontology does not declare is left unused (:mod:`ontology.units`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SENML_UNITS: Final[Mapping[str, str]] = {
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

SENML_ONLY: Final = frozenset({"%"})
"""SenML symbols that mean something else outside a SenML pack."""

SPELLINGS: Final[Mapping[str, str]] = {
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
