"""Unit resolution and conversion: which unit a message names, and the affine function that
takes its values to the point's unit.

pint computes each conversion once, exactly (in rationals); :class:`Units` caches it as a
:class:`Conversion` (``value * scale + offset``), so the per-message cost is one dictionary
look-up and one multiply-add. Build one :class:`Units` per worker at start-up and pass it down.

Resolving a name: the table of :mod:`ingest.unit_table` first; failing that, pint parses it
("degF", "psi", "GJ") and its QUDT quantity kind is inferred from its dimension, when the
dimension pins one down (temperature, pressure, energy...). Where it does not (power could
be real or apparent; a pure number could be %, %RH or a count), the unit is unknown: the
sender must name it by a QUDT name or symbol.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import pint

from ingest.errors import InvalidPoint, Reason, Rejected
from ingest.unit_table import POINT_UNITS, UNITS, Unit, lookup

_MAX_NAME = 64
"""Longer unit names are refused outright (no unit is spelled that long)."""

_FACTOR = r"(?:[^\W\d]|°)+(?:(?:\*\*|\^)?-?\d{1,2})?"  # a unit word, maybe a small power
_PINT_NAME = re.compile(rf"{_FACTOR}(?:\s*[*/·⋅ ]\s*{_FACTOR})*")
"""What is handed to pint: unit words with small exponents, joined by * / · or a space
("kWh", "m3/h", "ft**3 / min"). pint evaluates what it parses: "9**9**9" would never end."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """``value * scale + offset``: from a message's unit to a point's unit."""

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
    """A cached rejection (re-raised as a fresh exception each time, never the same one)."""

    reason: Reason
    message: str


class Units:
    """Resolves unit names and converts between units, caching both.

    Thread-safe: a miss computes under a lock. Bounded in memory and in time, so that a
    stream of made-up unit names costs little (each arrives on the MQTT network thread):

    - each cache (names, conversions) keeps the ``max_cached`` most recently used entries
      (an LRU: a flood of junk names does not evict the names in use), failures included;
    - the time pint may spend parsing is bounded by ``budget`` (a :class:`ParseBudget`).
      A name that would need pint once the budget is spent is rejected (``unknown_unit``,
      saying why) without being cached, so it resolves when it arrives again later.
      Names in the table of :mod:`ingest.unit_table`, and cached ones, need no budget.
    """

    def __init__(self, *, max_cached: int = 4096, budget: ParseBudget | None = None) -> None:
        self._lock = threading.Lock()
        self._budget = budget if budget is not None else ParseBudget()
        self._registry: pint.UnitRegistry[Fraction] | None = None
        self._table: list[tuple[Unit, pint.Unit]] = []
        self._units = functools.lru_cache(max_cached)(self._resolve_locked)
        self._conversions = functools.lru_cache(max_cached)(self._convert_locked)

    def resolve(self, name: str, *, senml: bool = False) -> Unit:
        """The unit ``name`` stands for; ``senml`` when it comes from a SenML pack (where
        "%" is a ratio, as RFC 8428 defines it). Raises ``Rejected(unknown_unit)``."""
        if len(name) > _MAX_NAME:  # refused before the cache, which keeps its keys
            raise Rejected(Reason.UNKNOWN_UNIT, f"{name[:_MAX_NAME]!r}… is not a unit")
        found = self._units(name, senml)
        if isinstance(found, _Failure):
            raise Rejected(found.reason, found.message)
        return found

    def conversion(self, name: str | None, point_unit: str, *, senml: bool = False) -> Conversion:
        """The conversion from the unit a message names (None: the point's own) to
        ``point_unit`` (a QUDT local name from :data:`~ingest.unit_table.POINT_UNITS`).

        Raises ``Rejected`` with ``unknown_unit`` or ``incompatible_unit``, and
        ``InvalidPoint`` if ``point_unit`` is not a unit a point may have.
        """
        if name is None:
            return IDENTITY
        target = point_unit_of(point_unit)
        found = self._conversions(self.resolve(name, senml=senml), target)
        if isinstance(found, _Failure):
            raise Rejected(found.reason, found.message)
        return found

    def _resolve_locked(self, name: str, senml: bool) -> Unit | _Failure:
        with self._lock:
            return self._resolve(name, senml)

    def _convert_locked(self, source: Unit, target: Unit) -> Conversion | _Failure:
        with self._lock:
            return self._convert(source, target)

    def _parsing(self, name: str) -> AbstractContextManager[None]:
        """Charges pint's time for ``name`` to the budget; raises ``Rejected`` (never
        cached: an exception) when the budget is spent."""
        if not self._budget.allows():
            raise Rejected(
                Reason.UNKNOWN_UNIT,
                f"{name!r} is not a unit kgtwin has looked up yet, and too many distinct unit "
                f"names arrived lately to look it up now (at most "
                f"{self._budget.share:.0%} of a CPU goes to parsing them); it is looked up "
                "when it arrives again later",
            )
        return _Charged(self._budget)

    def _pint(self) -> pint.UnitRegistry[Fraction]:
        """pint's registry, built on first use (it takes a few hundred milliseconds)."""
        if self._registry is None:
            # Exact rational arithmetic: 0 °C is 32.0 °F, not pint's float 31.999999999999936.
            ureg: pint.UnitRegistry[Fraction] = pint.UnitRegistry(non_int_type=Fraction)
            self._table = [(u, ureg.parse_units(u.pint)) for u in UNITS.values()]
            self._registry = ureg
        return self._registry

    def _resolve(self, name: str, senml: bool) -> Unit | _Failure:
        unit = lookup(name, senml=senml)
        if unit is not None:
            return unit
        unknown = _Failure(
            Reason.UNKNOWN_UNIT,
            f"{name!r} is not a unit kgtwin knows; use a QUDT unit name or symbol "
            f"(e.g. 'KiloW' or 'kW') or a SenML unit (e.g. 'Cel')",
        )
        if not _PINT_NAME.fullmatch(name):
            return unknown
        ureg = self._pint()
        try:
            with self._parsing(name):
                parsed = ureg.parse_units(name)
        except Rejected:
            raise  # the budget is spent: not cached
        # pint's parser raises a wide, undocumented range of exceptions on odd input
        # (UndefinedUnitError, ValueError, ZeroDivisionError, TokenError...): every one of
        # them means "not a unit", which is what this boundary reports.
        except Exception:
            return unknown
        exact = [u for u, p in self._table if p == parsed]
        if len(exact) == 1:
            return exact[0]
        same = exact or [u for u, p in self._table if p.dimensionality == parsed.dimensionality]
        if not same:  # a unit pint knows but of no kind kgtwin knows (a length, say)
            return Unit(qudt=None, symbol=name, kinds=frozenset(), pint=name)
        kinds = same[0].kinds.intersection(*(u.kinds for u in same[1:]))
        if kinds:
            return Unit(qudt=None, symbol=name, kinds=kinds, pint=name)
        options = ", ".join(sorted({k.value for u in same for k in u.kinds}))
        examples = ", ".join(repr(u.symbol) for u in same[:4])
        return _Failure(
            Reason.UNKNOWN_UNIT,
            f"unit {name!r} is ambiguous: its dimension fits several quantity kinds "
            f"({options}); name the unit by its QUDT name or symbol, e.g. {examples}",
        )

    def _convert(self, source: Unit, target: Unit) -> Conversion | _Failure:
        if source == target:
            return IDENTITY
        if not source.kinds & target.kinds:
            hint = _HINTS.get(source.symbol, "")
            return _Failure(
                Reason.INCOMPATIBLE_UNIT,
                f"unit {source.describe()} cannot be converted to the point's unit "
                f"{target.describe()}: they measure different quantity kinds{hint}",
            )
        ureg = self._pint()
        # Conversions between units of the table are a bounded set, each computed once:
        # only a unit pint made of a name sent (no QUDT name) is charged to the budget, so
        # a flood of junk names never keeps "W" from converting to "kW".
        charged = self._parsing(source.symbol) if source.qudt is None else nullcontext()
        try:
            with charged:
                src, dst = ureg.parse_units(source.pint), ureg.parse_units(target.pint)
                offset = ureg.Quantity(Fraction(0), src).to(dst).magnitude
                scale = ureg.Quantity(Fraction(1), src).to(dst).magnitude - offset
            return Conversion(float(scale), float(offset))
        except pint.errors.PintError as exc:  # e.g. delta_degC -> degC
            problem = str(exc)
        except OverflowError:  # "YPa**13/yPa**12" is a pressure, 1e600 Pa of it
            problem = "the factor between them does not fit a double"
        return _Failure(
            Reason.INCOMPATIBLE_UNIT,
            f"unit {source.describe()} cannot be converted to the point's unit "
            f"{target.describe()}: {problem}",
        )


_HINTS = {
    "C": "; 'C' is the coulomb: for degrees Celsius write '°C', 'degC' or 'Cel'",
    "F": "; 'F' is the farad: for degrees Fahrenheit write '°F' or 'degF'",
}


def point_unit_of(name: str) -> Unit:
    """The unit of a point, by QUDT local name; ``InvalidPoint`` if points cannot have it."""
    unit = POINT_UNITS.get(name)
    if unit is None:
        raise InvalidPoint(
            f"point unit {name!r} is not declared in ontology/core/units.ttl; "
            f"expected one of {', '.join(POINT_UNITS)}"
        )
    return unit


class ParseBudget:
    """How much time pint may spend: a token bucket of CPU seconds, refilled at ``share``
    seconds per second (2% of a core by default) up to ``burst`` seconds. ``clock`` is
    ``time.perf_counter``; tests give their own. Thread-safe through :class:`Units`'s lock."""

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


class _Charged:
    """A block whose duration is spent from a :class:`ParseBudget`."""

    __slots__ = ("_budget", "_started")

    def __init__(self, budget: ParseBudget) -> None:
        self._budget = budget
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = self._budget.clock()

    def __exit__(self, *_: object) -> None:
        self._budget.spend(self._budget.clock() - self._started)
