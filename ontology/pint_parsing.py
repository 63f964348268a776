"""Parsing unit names with pint, for names the ontology does not list: the guard on what
reaches pint, a parsed unit's dimension and exact factors to SI, and the budget of time
pint may spend (each name arrives on the MQTT network thread)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Final

import pint

Dimension = tuple[tuple[str, Fraction], ...]
"""pint's base dimensions and their exponents, sorted, zeros left out."""

BASE: Final[Mapping[str, tuple[str, str]]] = {
    "A": ("[substance]", "mole"),
    "E": ("[current]", "ampere"),
    "L": ("[length]", "meter"),
    "I": ("[luminosity]", "candela"),
    "M": ("[mass]", "kilogram"),
    "H": ("[temperature]", "kelvin"),
    "T": ("[time]", "second"),
}
"""QUDT's letter for each SI base dimension: pint's name for it, and its SI unit."""

_SI_UNIT: Final = dict(BASE.values())

_FACTOR = r"(?:[^\W\d]|°)+(?:(?:\*\*|\^)?-?\d{1,2})?"  # a unit word, maybe a small power
PINT_NAME: Final = re.compile(rf"{_FACTOR}(?:\s*[*/·⋅ ]\s*{_FACTOR})*")
"""What is handed to pint: unit words with small exponents, joined by * / · or a space
("kWh", "m3/h", "ft**3 / min"). pint evaluates what it parses: "9**9**9" would never end."""

Registry = pint.UnitRegistry[Fraction]


def registry() -> Registry:
    """pint's registry (a few hundred milliseconds to build), computing in rationals, so
    that factors to SI are exact."""
    return pint.UnitRegistry(non_int_type=Fraction)


def dimension_of(parsed: pint.Unit) -> Dimension:
    return tuple(sorted((k, Fraction(str(e))) for k, e in parsed.dimensionality.items() if e))


def to_si(
    ureg: Registry, parsed: pint.Unit, dimension: Dimension
) -> tuple[Fraction | None, Fraction, str]:
    """``parsed``'s multiplier and offset to SI, exact; or None and why not."""
    si = ureg.parse_units("dimensionless")
    for base, exponent in dimension:
        if base not in _SI_UNIT:  # pint has dimensions SI does not ("[printing_unit]")
            return None, Fraction(0), f"pint gives {base} no SI unit"
        si = si * ureg.parse_units(_SI_UNIT[base]) ** exponent
    try:
        zero = Fraction(ureg.Quantity(Fraction(0), parsed).to(si).magnitude)
        one = Fraction(ureg.Quantity(Fraction(1), parsed).to(si).magnitude)
        if dimension == (("[temperature]", Fraction(1)),):
            # a temperature difference (delta_degC) converts to kelvin, not to a scale
            ureg.Quantity(Fraction(0), parsed).to(ureg.degree_Celsius)
    except (pint.errors.PintError, ArithmeticError) as exc:  # e.g. delta_degC -> degC
        return None, Fraction(0), str(exc)
    return one - zero, zero, ""


class ParseBudget:
    """How much time pint may spend: a token bucket of CPU seconds, refilled at ``share``
    seconds per second (2% of a core by default) up to ``burst`` seconds. ``clock`` is
    ``time.perf_counter``; tests give their own. Thread-safe through the lock of
    :class:`ontology.units.Units`."""

    def __init__(
        self,
        share: float = 0.02,
        burst: float = 0.25,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.share = share
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._at = clock()

    def allows(self) -> bool:
        """Whether there is time left to spend now."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.share)
        self._at = now
        return self._tokens > 0

    def spend(self, seconds: float) -> None:
        self._tokens -= seconds


class Charged:
    """A block whose duration is spent from a :class:`ParseBudget`."""

    __slots__ = ("_budget", "_started")

    def __init__(self, budget: ParseBudget) -> None:
        self._budget = budget
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = self._budget.clock()

    def __exit__(self, *_: object) -> None:
        self._budget.spend(self._budget.clock() - self._started)
