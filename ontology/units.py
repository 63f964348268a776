"""Units of measure as the ontology declares them (``ontology/core/units.ttl``): which unit a
name stands for, the QUDT quantity kinds it measures, and the affine function that takes a
value from one unit to another. Ingestion and what-if share this one table, built at start
from the ontology's triples; how names resolve and convert is in ``docs/units.md``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import pint

from kgtwin.ontology.errors import UnitError, UnitProblem
from kgtwin.ontology.files import parse_files
from kgtwin.ontology.pint_parsing import (
    PINT_NAME,
    Charged,
    Dimension,
    ParseBudget,
    Registry,
    dimension_of,
    registry,
    to_si,
)
from kgtwin.ontology.qudt import Unit, dimension_of_unit, read_units
from kgtwin.ontology.triples import Triple
from kgtwin.ontology.unit_names import SENML_ONLY, SENML_UNITS, SPELLINGS

__all__ = ["DIMENSIONLESS", "IDENTITY", "Conversion", "ParseBudget", "Unit", "Units"]

DIMENSIONLESS: Final = "Dimensionless"
"""The QUDT quantity kind of a pure number (a count, a status code)."""

_MAX_NAME = 64
"""Longer unit names are refused outright (no unit is spelled that long)."""

_CLOSE = Fraction(1, 10**6)
"""How near pint's factor to SI must be to a QUDT unit's for a name to mean that unit
(QUDT gives some factors to 7 digits, e.g. the ton of refrigeration)."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """``value * scale + offset``: from one unit to another."""

    scale: float
    offset: float

    def __call__(self, value: float) -> float:
        return value * self.scale + self.offset

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0


IDENTITY: Final = Conversion(1.0, 0.0)


@dataclass(frozen=True, slots=True)
class _Failure:
    """A cached refusal (raised as a fresh exception each time, never the same one)."""

    problem: UnitProblem
    message: str


class Units:
    """The units of an ontology: resolves unit names and converts between units, caching
    both. Build one at start (:meth:`of` or :meth:`read`) and pass it down.

    Thread-safe: a miss computes under a lock. Bounded in memory and in time, so that a
    stream of made-up unit names costs little (each arrives on the MQTT network thread):

    - each cache (names, conversions) keeps the ``max_cached`` most recently used entries
      (an LRU: a flood of junk names does not evict the names in use), failures included;
    - the time pint may spend parsing is bounded by ``budget`` (a :class:`ParseBudget`).
      A name that would need pint once the budget is spent is refused (``UNKNOWN``,
      saying why) without being cached, so it resolves when it arrives again later.
      Names of the ontology's units, their spellings, cached names and every conversion
      between the ontology's units need no budget.
    """

    def __init__(
        self,
        declared: Iterable[Unit],
        dimensions: Mapping[str, Dimension],
        *,
        iris: Mapping[str, Unit] | None = None,
        max_cached: int = 4096,
        budget: ParseBudget | None = None,
    ) -> None:
        self.declared: Mapping[str, Unit] = {u.qudt: u for u in declared if u.qudt}
        """The ontology's units by QUDT local name: the units a point may have."""
        self._iris = dict(iris or {})
        self._senml = {s: self.declared[q] for s, q in SENML_UNITS.items() if q in self.declared}
        names = {
            s: self.declared[q]
            for s, q in (*SENML_UNITS.items(), *SPELLINGS.items())
            if q in self.declared and s not in SENML_ONLY
        }
        names.update((u.symbol, u) for u in self.declared.values())  # the ontology's win
        self._names = names
        self._dimensioned = [
            (u, d)
            for u in self.declared.values()
            if (d := dimension_of_unit(u, dimensions)) is not None
        ]
        self._lock = threading.Lock()
        self._budget = budget if budget is not None else ParseBudget()
        self._registry: Registry | None = None
        self._forms: list[tuple[Unit, pint.Unit]] = []
        self._units = functools.lru_cache(max_cached)(self._resolve_locked)
        self._conversions = functools.lru_cache(max_cached)(self._convert_locked)

    @classmethod
    def of(
        cls, triples: Iterable[Triple], *, max_cached: int = 4096, budget: ParseBudget | None = None
    ) -> Units:
        """The units the ontology's ``triples`` declare (``Ontology.graph``, say); raises
        ``VocabularyError`` for a unit it cannot use, naming the unit and the property."""
        declared, iris, dimensions = read_units(triples)
        return cls(declared, dimensions, iris=iris, max_cached=max_cached, budget=budget)

    @classmethod
    def read(
        cls, paths: Sequence[Path], *, max_cached: int = 4096, budget: ParseBudget | None = None
    ) -> Units:
        """The units declared in the Turtle files ``paths`` (``Settings.ontology``)."""
        files, errors = parse_files(paths)
        if errors:
            raise errors[0]
        triples = (triple for source in files for triple in source.triples())
        return cls.of(triples, max_cached=max_cached, budget=budget)

    def unit(self, qudt: str) -> Unit:
        """The ontology's unit with QUDT local name ``qudt`` (a point's or a capacity's
        unit); ``UnitError`` (``UNKNOWN``) if the ontology does not declare it."""
        found = self.declared.get(qudt)
        if found is None:
            raise UnitError(
                UnitProblem.UNKNOWN,
                f"unit {qudt!r} is not declared in ontology/core/units.ttl; "
                f"expected one of {', '.join(self.declared)}",
            )
        return found

    def resolve(self, name: str, *, senml: bool = False) -> Unit:
        """The unit ``name`` stands for; ``senml`` when it comes from a SenML pack (where
        "%" is a ratio, as RFC 8428 defines it). Raises ``UnitError`` (``UNKNOWN``)."""
        if len(name) > _MAX_NAME:  # refused before the cache, which keeps its keys
            raise UnitError(UnitProblem.UNKNOWN, f"{name[:_MAX_NAME]!r}… is not a unit")
        found = self._units(name, senml)
        if isinstance(found, _Failure):
            raise UnitError(found.problem, found.message)
        return found

    def conversion(self, name: str | None, target: Unit, *, senml: bool = False) -> Conversion:
        """The conversion from the unit a message names (None: the target's own) to
        ``target``. Raises ``UnitError``: ``UNKNOWN`` or ``INCOMPATIBLE``."""
        if name is None:
            return IDENTITY
        found = self._conversions(self.resolve(name, senml=senml), target)
        if isinstance(found, _Failure):
            raise UnitError(found.problem, found.message)
        return found

    # ------------------------------------------------------------------ resolving names

    def _resolve_locked(self, name: str, senml: bool) -> Unit | _Failure:
        with self._lock:
            return self._resolve(name, senml)

    def _convert_locked(self, source: Unit, target: Unit) -> Conversion | _Failure:
        with self._lock:
            return _convert(source, target)

    def _lookup(self, name: str, senml: bool) -> Unit | None:
        """The unit ``name`` spells without pint: QUDT local name, ``unit:`` name, IRI,
        symbol, SenML symbol or a common spelling."""
        if senml and name in self._senml:
            return self._senml[name]
        found = self.declared.get(name) or self._names.get(name) or self._iris.get(name)
        if found is None and name.startswith("unit:"):
            return self.declared.get(name.removeprefix("unit:"))
        return found

    def _resolve(self, name: str, senml: bool) -> Unit | _Failure:
        unit = self._lookup(name, senml)
        if unit is not None:
            return unit
        unknown = _Failure(
            UnitProblem.UNKNOWN,
            f"{name!r} is not a unit kgtwin knows; use a QUDT unit name or symbol "
            f"(e.g. 'KiloW' or 'kW') or a SenML unit (e.g. 'Cel')",
        )
        if not PINT_NAME.fullmatch(name):
            return unknown
        ureg = self._pint()
        try:
            with self._parsing(name):
                parsed = ureg.parse_units(name)
                dimension = dimension_of(parsed)
                multiplier, offset, note = to_si(ureg, parsed, dimension)
        except UnitError:
            raise  # the budget is spent: not cached
        # pint's parser raises a wide, undocumented range of exceptions on odd input
        # (UndefinedUnitError, ValueError, ZeroDivisionError, TokenError...): every one of
        # them means "not a unit", which is what this boundary reports.
        except Exception:
            return unknown
        return self._infer(name, parsed, dimension, multiplier, offset, note)

    def _infer(
        self,
        name: str,
        parsed: pint.Unit,
        dimension: Dimension,
        multiplier: Fraction | None,
        offset: Fraction,
        note: str,
    ) -> Unit | _Failure:
        """The ontology's unit a name pint parsed stands for, else a unit of its own whose
        kinds are those every ontology unit of its dimension shares."""
        exact = [u for u, form in self._forms if form == parsed]  # "kilovolt*ampere"
        if len(exact) == 1:
            return exact[0]
        dimensioned = [u for u, d in self._dimensioned if d == dimension]
        valued = [u for u in dimensioned if _same_factors(u, multiplier, offset)]
        if len(valued) == 1:  # "megawatt_hour", "ton_of_refrigeration"
            return valued[0]
        same = exact or valued or dimensioned
        if not same:  # a unit pint knows but of no kind the ontology has (a length, say)
            return Unit(None, name, frozenset(), multiplier, offset, note)
        kinds = same[0].kinds.intersection(*(u.kinds for u in same[1:]))
        if kinds:
            return Unit(None, name, kinds, multiplier, offset, note)
        options = ", ".join(sorted({k for u in same for k in u.kinds}))
        examples = ", ".join(repr(u.symbol) for u in same[:4])
        return _Failure(
            UnitProblem.UNKNOWN,
            f"unit {name!r} is ambiguous: its dimension fits several quantity kinds "
            f"({options}); name the unit by its QUDT name or symbol, e.g. {examples}",
        )

    def _parsing(self, name: str) -> AbstractContextManager[None]:
        """Charges pint's time for ``name`` to the budget; raises ``UnitError`` (never
        cached: an exception) when the budget is spent."""
        if not self._budget.allows():
            raise UnitError(
                UnitProblem.UNKNOWN,
                f"{name!r} is not a unit kgtwin has looked up yet, and too many distinct unit "
                f"names arrived lately to look it up now (at most "
                f"{self._budget.share:.0%} of a CPU goes to parsing them); it is looked up "
                "when it arrives again later",
            )
        return Charged(self._budget)

    def _pint(self) -> Registry:
        """pint's registry, built on first use, with the ontology's units whose symbol pint
        reads as that very unit."""
        if self._registry is None:
            ureg = registry()
            self._forms = [
                (u, form) for u in self.declared.values() if (form := self._form(ureg, u))
            ]
            self._registry = ureg
        return self._registry

    def _form(self, ureg: Registry, unit: Unit) -> pint.Unit | None:
        text = unit.symbol.replace("⋅", "*").replace("³", "**3").replace("²", "**2")
        if not PINT_NAME.fullmatch(text):
            return None
        try:
            form = ureg.parse_units(text)
            multiplier, offset, _note = to_si(ureg, form, dimension_of(form))
        except Exception:  # pint does not read this symbol ("TOR"): no form
            return None
        return form if _same_factors(unit, multiplier, offset) else None


def _convert(source: Unit, target: Unit) -> Conversion | _Failure:
    if source == target:
        return IDENTITY
    if not source.kinds & target.kinds:
        hint = _HINTS.get(source.symbol, "")
        return _Failure(
            UnitProblem.INCOMPATIBLE,
            f"unit {source.describe()} cannot be converted to the point's unit "
            f"{target.describe()}: they measure different quantity kinds{hint}",
        )
    if source.multiplier is None or target.multiplier is None:
        problem = source.note if source.multiplier is None else target.note
    else:
        scale = source.multiplier / target.multiplier
        offset = (source.offset - target.offset) / target.multiplier
        try:
            return Conversion(_double(scale), _double(offset))
        except OverflowError:  # "YPa**13/yPa**12" is a pressure, 1e600 Pa of it
            problem = "the factor between them does not fit a double"
    return _Failure(
        UnitProblem.INCOMPATIBLE,
        f"unit {source.describe()} cannot be converted to the point's unit "
        f"{target.describe()}: {problem}",
    )


def _double(exact: Fraction) -> float:
    """``exact`` as a double; a short decimal when it is one to 15 digits. QUDT writes
    factors to 16 digits (°F is 0.5555555555555556 K), which leaves noise in the 16th
    digit of a conversion: 0 °C is 32 °F, not 32.000000000000036 °F."""
    value = float(exact)
    short = f"{value:.15g}"
    digits = short.partition("e")[0].lstrip("-").replace(".", "").strip("0")
    return float(short) if len(digits) < 15 else value


_HINTS = {
    "C": "; 'C' is the coulomb: for degrees Celsius write '°C', 'degC' or 'Cel'",
    "F": "; 'F' is the farad: for degrees Fahrenheit write '°F' or 'degF'",
}


def _same_factors(unit: Unit, multiplier: Fraction | None, offset: Fraction) -> bool:
    """Whether ``unit``'s factors to SI are those pint gives (within :data:`_CLOSE`)."""
    if unit.multiplier is None or multiplier is None:
        return False
    return _near(unit.multiplier, multiplier) and _near(unit.offset, offset)


def _near(a: Fraction, b: Fraction) -> bool:
    return abs(a - b) <= _CLOSE * max(abs(a), abs(b))
