"""Units and conversions, read from ontology/core/units.ttl and checked against QUDT's own
numbers there (read here with rdflib, independently of ontology.units)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from kgtwin.ontology.errors import UnitError, UnitProblem
from kgtwin.ontology.namespaces import QUDT, UNIT
from kgtwin.ontology.unit_names import SENML_UNITS, SPELLINGS
from kgtwin.ontology.units import IDENTITY, Conversion, ParseBudget, Units
from tests.units import ontology_units

UNITS_TTL = Path(__file__).resolve().parents[2] / "ontology" / "core" / "units.ttl"


class QudtUnit(NamedTuple):
    symbol: str
    kinds: frozenset[str]
    multiplier: float
    offset: float


def _read_qudt() -> dict[str, QudtUnit]:
    graph = Graph().parse(UNITS_TTL)
    found = {}
    for subject in graph.subjects(RDF.type, QUDT.Unit):
        assert isinstance(subject, URIRef)
        offset = graph.value(subject, QUDT.conversionOffset)
        found[subject.removeprefix(str(UNIT))] = QudtUnit(
            symbol=str(graph.value(subject, QUDT.symbol)),
            kinds=frozenset(
                str(k).rsplit("/", 1)[1] for k in graph.objects(subject, QUDT.hasQuantityKind)
            ),
            multiplier=float(graph.value(subject, QUDT.conversionMultiplier)),  # type: ignore[arg-type]
            offset=0.0 if offset is None else float(offset),  # type: ignore[arg-type]
        )
    return found


QUDT_UNITS = _read_qudt()
UNITS = ontology_units()


@pytest.fixture(scope="module")
def units() -> Units:
    return ontology_units()


def convert(units: Units, name: str | None, point_unit: str, *, senml: bool = False) -> Conversion:
    return units.conversion(name, units.unit(point_unit), senml=senml)


def _refused(units: Units, name: str, point_unit: str, *, senml: bool = False) -> UnitError:
    with pytest.raises(UnitError) as caught:
        convert(units, name, point_unit, senml=senml)
    return caught.value


# --- the table ---------------------------------------------------------------------------


def test_the_units_are_exactly_the_ontologys() -> None:
    assert set(UNITS.declared) == set(QUDT_UNITS)


@pytest.mark.parametrize("name", sorted(QUDT_UNITS))
def test_symbol_kinds_and_factors_are_qudts(name: str) -> None:
    unit = UNITS.unit(name)
    assert unit.qudt == name
    assert unit.symbol == QUDT_UNITS[name].symbol
    assert unit.kinds == QUDT_UNITS[name].kinds
    assert unit.multiplier is not None
    assert float(unit.multiplier) == QUDT_UNITS[name].multiplier
    assert float(unit.offset) == QUDT_UNITS[name].offset


@pytest.fixture(scope="module")
def ureg() -> pint.UnitRegistry[Fraction]:
    return pint.UnitRegistry(non_int_type=Fraction)


PINT_NAMES = {  # how pint spells each unit of units.ttl (checks the file's numbers)
    "W": "watt",
    "KiloW": "kilowatt",
    "MegaW": "megawatt",
    "V-A": "volt * ampere",
    "KiloV-A": "kilovolt * ampere",
    "MegaV-A": "megavolt * ampere",
    "TON_FG": "ton_of_refrigeration",
    "J": "joule",
    "W-HR": "watt_hour",
    "KiloW-HR": "kilowatt_hour",
    "MegaW-HR": "megawatt_hour",
    "V": "volt",
    "MilliV": "millivolt",
    "KiloV": "kilovolt",
    "A": "ampere",
    "MilliA": "milliampere",
    "HZ": "hertz",
    "KiloHZ": "kilohertz",
    "MegaHZ": "megahertz",
    "DEG_C": "degree_Celsius",
    "K": "kelvin",
    "DEG_F": "degree_Fahrenheit",
    "PA": "pascal",
    "HectoPA": "hectopascal",
    "KiloPA": "kilopascal",
    "BAR": "bar",
    "M3-PER-HR": "meter ** 3 / hour",
    "M3-PER-SEC": "meter ** 3 / second",
    "L-PER-SEC": "liter / second",
    "L-PER-MIN": "liter / minute",
    "MilliM-PER-SEC": "millimeter / second",
    "M-PER-SEC": "meter / second",
    "REV-PER-MIN": "revolution / minute",
    "SEC": "second",
    "MilliSEC": "millisecond",
    "MIN": "minute",
    "HR": "hour",
    "PERCENT": "percent",
    "PERCENT_RH": "percent",
    "UNITLESS": "dimensionless",
    "FRACTION": "dimensionless",
    "NUM": "dimensionless",
}


def test_pint_spells_every_unit_of_the_file() -> None:
    assert set(PINT_NAMES) == set(QUDT_UNITS)


@pytest.mark.parametrize("name", sorted(QUDT_UNITS))
def test_the_files_factors_to_si_are_pints(ureg: pint.UnitRegistry[Fraction], name: str) -> None:
    unit = ureg.parse_units(PINT_NAMES[name])
    zero = ureg.Quantity(Fraction(0), unit).to_base_units().magnitude
    one = ureg.Quantity(Fraction(1), unit).to_base_units().magnitude
    # TON_FG's multiplier is given to 7 digits in QUDT; everything else agrees to ~1e-15.
    assert float(one - zero) == pytest.approx(QUDT_UNITS[name].multiplier, rel=1e-6)
    assert float(zero) == pytest.approx(QUDT_UNITS[name].offset, rel=1e-12)


def test_every_spelling_names_a_unit_of_the_file() -> None:
    assert set(SENML_UNITS.values()) <= set(QUDT_UNITS)
    assert set(SPELLINGS.values()) <= set(QUDT_UNITS)


@pytest.mark.parametrize(
    ("name", "qudt"),
    [
        ("KiloW", "KiloW"),
        ("http://qudt.org/vocab/unit/KiloW", "KiloW"),
        ("unit:KiloW", "KiloW"),
        ("kW", "KiloW"),
        ("kV⋅A", "KiloV-A"),
        ("kVA", "KiloV-A"),
        ("°C", "DEG_C"),
        ("degC", "DEG_C"),
        ("Cel", "DEG_C"),
        ("m³/h", "M3-PER-HR"),
        ("m3/h", "M3-PER-HR"),
        ("l/s", "L-PER-SEC"),
        ("%", "PERCENT"),
        ("%RH", "PERCENT_RH"),
        ("1", "UNITLESS"),
        ("/", "FRACTION"),
        ("count", "NUM"),
        ("rpm", "REV-PER-MIN"),
        ("TR", "TON_FG"),
    ],
)
def test_resolves_any_spelling(units: Units, name: str, qudt: str) -> None:
    assert units.resolve(name).qudt == qudt


def test_senml_and_qudt_agree_on_every_symbol_they_share_but_percent() -> None:
    symbols = {u.symbol: name for name, u in UNITS.declared.items()}
    shared = {s: name for s, name in SENML_UNITS.items() if s in symbols and s != "%"}
    assert shared  # "W", "%RH", "kW", ...
    assert shared == {s: symbols[s] for s in shared}


def test_percent_is_a_ratio_in_senml_only(units: Units) -> None:
    assert units.resolve("%", senml=True).qudt == "FRACTION"
    assert units.resolve("%").qudt == "PERCENT"


@pytest.mark.parametrize("name", ["http://qudt.org/vocab/unit/Nope", "unit:", "", "KILOW"])
def test_names_of_no_unit_are_unknown(units: Units, name: str) -> None:
    with pytest.raises(UnitError) as caught:
        units.resolve(name)
    assert caught.value.problem is UnitProblem.UNKNOWN


def test_a_unit_the_ontology_does_not_declare_is_no_point_unit(units: Units) -> None:
    with pytest.raises(UnitError, match=r"not declared in ontology/core/units\.ttl") as caught:
        units.unit("KILOWATT")
    assert caught.value.problem is UnitProblem.UNKNOWN
    assert "KiloW" in caught.value.message  # the choices


# --- conversions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "point_unit", "value", "expected"),
    [
        ("W", "KiloW", 1500.0, 1.5),
        ("MW", "KiloW", 2.0, 2000.0),
        ("TOR", "KiloW", 1.0, 3.516853),
        ("kWh", "MegaW-HR", 2500.0, 2.5),
        ("J", "KiloW-HR", 3_600_000.0, 1.0),
        ("mV", "V", 230_000.0, 230.0),
        ("mA", "A", 500.0, 0.5),
        ("MHz", "HZ", 0.00005, 50.0),
        ("bar", "KiloPA", 2.5, 250.0),
        ("hPa", "PA", 1013.25, 101_325.0),
        ("l/s", "M3-PER-HR", 1.0, 3.6),
        ("L/min", "L-PER-SEC", 30.0, 0.5),
        ("m/s", "MilliM-PER-SEC", 0.004, 4.0),
        ("h", "MIN", 1.5, 90.0),
        ("ms", "SEC", 250.0, 0.25),
        ("VA", "KiloV-A", 1000.0, 1.0),
        ("kVA", "KiloV-A", 3.0, 3.0),
    ],
)
def test_converts_within_a_quantity_kind(
    units: Units, name: str, point_unit: str, value: float, expected: float
) -> None:
    assert convert(units, name, point_unit)(value) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("name", "point_unit", "value", "expected"),
    [
        ("°C", "DEG_F", 0.0, 32.0),
        ("°C", "DEG_F", 100.0, 212.0),
        ("°C", "DEG_F", -40.0, -40.0),
        ("°F", "DEG_C", 212.0, 100.0),
        ("degF", "DEG_C", 32.0, 0.0),
        ("K", "DEG_C", 273.15, 0.0),
        ("K", "DEG_F", 0.0, -459.67),
        ("°C", "K", -273.15, 0.0),
        ("Cel", "K", 20.0, 293.15),
        ("degR", "K", 491.67, 273.15),  # pint-only unit, kind inferred from its dimension
    ],
)
def test_temperature_conversions_apply_the_offset(
    units: Units, name: str, point_unit: str, value: float, expected: float
) -> None:
    assert convert(units, name, point_unit)(value) == pytest.approx(expected, abs=1e-9)


def test_celsius_to_fahrenheit_is_exact(units: Units) -> None:
    """QUDT gives °F to 16 digits (0.5555555555555556 K): the noise it leaves in the 16th
    digit of a conversion is rounded away."""
    assert convert(units, "°C", "DEG_F") == Conversion(1.8, 32.0)
    assert convert(units, "K", "DEG_F") == Conversion(1.8, -459.67)


@pytest.mark.parametrize(
    ("name", "point_unit"),
    [
        ("kVA", "KiloW"),
        ("kW", "KiloV-A"),
        ("%RH", "PERCENT"),
        ("%", "PERCENT_RH"),
        ("%", "UNITLESS"),
        ("rpm", "HZ"),
        ("Hz", "REV-PER-MIN"),
        ("kWh", "KiloW"),
        ("°C", "KiloW"),
        ("m", "KiloW"),  # pint knows it (a length), the ontology has no such kind
    ],
)
def test_different_quantity_kinds_are_incompatible(
    units: Units, name: str, point_unit: str
) -> None:
    assert _refused(units, name, point_unit).problem is UnitProblem.INCOMPATIBLE


def test_incompatible_message_names_both_units_and_kinds(units: Units) -> None:
    message = _refused(units, "kVA", "KiloW").message
    assert "kV⋅A (unit:KiloV-A, ApparentPower)" in message
    assert "kW (unit:KiloW, Power)" in message


def test_bare_c_is_the_coulomb_and_the_message_says_so(units: Units) -> None:
    refused = _refused(units, "C", "DEG_C")
    assert refused.problem is UnitProblem.INCOMPATIBLE
    assert "'°C'" in refused.message


def test_senml_percent_is_a_ratio(units: Units) -> None:
    assert convert(units, "%", "PERCENT", senml=True)(0.5) == pytest.approx(50.0)
    assert convert(units, "%", "PERCENT")(50.0) == 50.0
    assert convert(units, "/100", "PERCENT", senml=True) == IDENTITY


def test_ratio_passes_to_unitless_points(units: Units) -> None:
    assert convert(units, "/", "UNITLESS", senml=True) == IDENTITY
    assert convert(units, "/", "PERCENT", senml=True)(0.25) == pytest.approx(25.0)


@pytest.mark.parametrize("name", ["bananas", "foo", "", "   ", "W/0", "x" * 200])
def test_unknown_units(units: Units, name: str) -> None:
    assert _refused(units, name, "KiloW").problem is UnitProblem.UNKNOWN


def test_unit_names_pint_would_evaluate_forever_are_refused_unparsed(units: Units) -> None:
    """Regression: pint evaluates the power in "9**9**9" (a number with 370 million digits)."""
    for name in ("9**9**9", "10**10**10", "m**(9**9**9)"):
        assert _refused(units, name, "KiloW").problem is UnitProblem.UNKNOWN


@pytest.mark.parametrize(
    ("name", "says"),
    [("delta_degC", "Cannot convert"), ("YPa**13/yPa**12", "does not fit a double")],
)
def test_same_kind_units_that_cannot_convert_are_incompatible(
    units: Units, name: str, says: str
) -> None:
    refused = _refused(units, name, "DEG_C" if "deg" in name else "PA")
    assert refused.problem is UnitProblem.INCOMPATIBLE
    assert says in refused.message


@pytest.mark.parametrize(
    ("name", "point_unit"), [("mW", "KiloW"), ("ppm", "PERCENT"), ("percent", "PERCENT")]
)
def test_units_whose_dimension_fits_several_kinds_are_unknown(
    units: Units, name: str, point_unit: str
) -> None:
    refused = _refused(units, name, point_unit)
    assert refused.problem is UnitProblem.UNKNOWN
    assert "ambiguous" in refused.message


@pytest.mark.parametrize(("name", "expected"), [("psi", 6.894757), ("kilopascal", 1.0)])
def test_pint_only_spellings_convert_when_their_kind_is_clear(
    units: Units, name: str, expected: float
) -> None:
    assert convert(units, name, "KiloPA")(1.0) == pytest.approx(expected, rel=1e-6)


def test_a_pint_spelling_of_a_unit_of_the_file_resolves_to_it(units: Units) -> None:
    assert units.resolve("kilovolt*ampere").qudt == "KiloV-A"  # not ambiguous with kW
    assert units.resolve("hectopascal").qudt == "HectoPA"
    assert units.resolve("megawatt_hour").qudt == "MegaW-HR"  # by its factor to SI
    assert units.resolve("ton_of_refrigeration").qudt == "TON_FG"  # QUDT's 7 digits
    assert units.resolve("dimensionless").kinds == {"Dimensionless"}  # 1, / and #
    assert units.resolve("ft**3/min").qudt is None  # pint-only: kind from its dimension


def test_no_unit_and_own_unit_are_the_identity(units: Units) -> None:
    assert convert(units, None, "KiloW") == IDENTITY
    assert convert(units, "kW", "KiloW") == IDENTITY
    assert convert(units, "KiloW", "KiloW").is_identity


def test_conversions_are_cached(units: Units) -> None:
    assert convert(units, "W", "MegaW") is convert(units, "W", "MegaW")


def test_a_cached_refusal_is_raised_afresh_each_time(units: Units) -> None:
    first = _refused(units, "kVA", "KiloW")
    second = _refused(units, "kVA", "KiloW")
    assert first is not second
    assert first.message == second.message


def test_a_full_cache_keeps_the_names_in_use() -> None:
    """An LRU: a stream of junk names evicts the oldest entries, not the ones in use."""
    clock = FakeClock()
    units = ontology_units(max_cached=3, budget=ParseBudget(share=0.5, burst=1.0, clock=clock))
    assert units.resolve("psi").symbol == "psi"  # needs pint: charged
    for n in range(10):
        clock.now += 1.0  # refills the budget
        with pytest.raises(UnitError):
            units.resolve(f"nonsense{n}")
        readings = clock.readings
        units.resolve("psi")  # in use: stays cached
        assert clock.readings == readings  # so it needs no parsing, nor the budget
    assert convert(units, "W", "KiloW")(1000.0) == 1.0


class FakeClock:
    """A perf_counter that moves ``step`` seconds at every reading: a parse, read before
    and after, costs ``step``; ``readings`` counts them."""

    def __init__(self, step: float = 0.01) -> None:
        self.now = 100.0
        self.step = step
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        self.now += self.step
        return self.now


def test_distinct_unknown_units_cost_a_bounded_share_of_the_cpu() -> None:
    """Issue 21: a stream of distinct unknown unit names cost 2.5 ms each on the network
    thread. With a spent budget, a name that needs pint is refused without parsing (and
    without being cached: it resolves when it comes again later)."""
    clock = FakeClock()
    units = ontology_units(budget=ParseBudget(share=0.02, burst=0.05, clock=clock))
    messages = []
    for n in range(20):
        with pytest.raises(UnitError) as caught:
            units.resolve(f"zork{n}")
        messages.append(caught.value.message)
    parsed = sum("is not a unit kgtwin knows" in m for m in messages)
    refused = sum("too many distinct unit names" in m for m in messages)
    # 10 ms a parse against 50 ms of burst, refilled by 2% of the 30 ms each parse reads
    assert (parsed, refused) == (6, 14)
    with pytest.raises(UnitError, match="too many distinct"):
        units.resolve("psi")  # a real unit, but the budget is spent
    assert units.resolve("kW").symbol == "kW"  # the table needs no parsing
    clock.now += 1.0  # 20 ms of budget back
    assert units.resolve("psi").symbol == "psi"  # not cached as unknown: resolved now


def test_a_spent_budget_never_stops_units_of_the_file_from_converting() -> None:
    """Found by the fault suite under load: once junk names had spent the budget, "W" (in
    the table) could not be converted to a kW point, whose conversion pint computed once.
    Now no conversion between units of the file involves pint at all."""
    clock = FakeClock()
    units = ontology_units(budget=ParseBudget(share=0.02, burst=0.05, clock=clock))
    for n in range(20):
        with pytest.raises(UnitError):
            units.resolve(f"zork{n}")
    with pytest.raises(UnitError, match="too many distinct"):
        units.resolve("psi")  # spent
    assert convert(units, "W", "KiloW")(1000.0) == 1.0
    assert convert(units, "degF", "DEG_C")(212.0) == pytest.approx(100.0)


# --- properties --------------------------------------------------------------------------

PAIRS = sorted(
    (a, b) for a in QUDT_UNITS for b in QUDT_UNITS if UNITS.unit(a).kinds & UNITS.unit(b).kinds
)
VALUES = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@given(pair=st.sampled_from(PAIRS), value=VALUES)
def test_there_and_back_returns_the_value(
    units: Units, pair: tuple[str, str], value: float
) -> None:
    a, b = pair
    back = convert(units, b, a)(convert(units, a, b)(value))
    assert back == pytest.approx(value, rel=1e-9, abs=1e-6)


@given(pair=st.sampled_from(PAIRS), value=VALUES)
def test_conversion_agrees_with_qudt_multipliers(
    units: Units, pair: tuple[str, str], value: float
) -> None:
    a, b = (QUDT_UNITS[name] for name in pair)
    expected = (value * a.multiplier + a.offset - b.offset) / b.multiplier
    assert convert(units, *pair)(value) == pytest.approx(expected, rel=1e-6, abs=1e-6)


@given(name=st.text(max_size=24), senml=st.booleans())
def test_resolve_returns_a_unit_or_refuses_it_as_unknown(
    units: Units, name: str, senml: bool
) -> None:
    problem: UnitProblem | None = None
    try:
        assert units.resolve(name, senml=senml).symbol
    except UnitError as exc:
        problem = exc.problem
    assert problem in (None, UnitProblem.UNKNOWN)
