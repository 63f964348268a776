"""A copy of ontology/core/units.ttl as a domain expert edits it: what is added there is
resolved and converted with no code change, and what is wrong there is refused at start
with the unit and the property named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgtwin.ontology.errors import UnitError, UnitProblem, VocabularyError
from kgtwin.ontology.units import Units

UNITS_TTL = Path(__file__).resolve().parents[2] / "ontology" / "core" / "units.ttl"

KILO_BTU_PER_HOUR = """
unit:KiloBTU_IT-PER-HR
    a qudt:Unit ;
    rdfs:label "kilo British thermal unit (international table) per hour"@en ;
    qudt:symbol "kBtu/h" ;
    qudt:hasQuantityKind quantitykind:Power ;
    qudt:conversionMultiplier 293.0710701722222 .
"""

LENGTH = """
quantitykind:Length
    a qudt:QuantityKind ;
    rdfs:label "length"@en ;
    rdfs:comment "How long something is."@en ;
    qudt:hasDimensionVector qkdv:A0E0L1I0M0H0T0D0 .

qkdv:A0E0L1I0M0H0T0D0 a qudt:QuantityKindDimensionVector ; rdfs:label "L (length)"@en .

unit:M
    a qudt:Unit ;
    rdfs:label "metre"@en ;
    qudt:symbol "m" ;
    qudt:hasQuantityKind quantitykind:Length ;
    qudt:conversionMultiplier 1.0 .
"""


def edited(tmp_path: Path, added: str = "", *, without: str | None = None) -> Path:
    """A copy of units.ttl with ``added`` at its end and the unit ``without`` left out."""
    text = UNITS_TTL.read_text(encoding="utf-8")
    if without is not None:
        text, count = re.subn(rf"\nunit:{re.escape(without)}\n.*? \.\n", "\n", text, flags=re.S)
        assert count == 1, without
    path = tmp_path / "units.ttl"
    path.write_text(text + added, encoding="utf-8")
    return path


def test_a_unit_added_to_the_file_is_resolved_and_converted(tmp_path: Path) -> None:
    units = Units.read([edited(tmp_path, KILO_BTU_PER_HOUR)])
    kilowatt, added = units.unit("KiloW"), units.unit("KiloBTU_IT-PER-HR")  # a point unit too
    for name in (
        "kBtu/h",
        "KiloBTU_IT-PER-HR",
        "unit:KiloBTU_IT-PER-HR",
        "http://qudt.org/vocab/unit/KiloBTU_IT-PER-HR",
        "kBtu/hour",  # pint's spelling, the same factor to SI (to 1e-6)
    ):
        assert units.resolve(name) == added, name
        assert units.conversion(name, kilowatt)(10.0) == pytest.approx(2.930710701722222)
    assert units.conversion("kW", added)(2.930710701722222) == pytest.approx(10.0)
    with pytest.raises(UnitError) as caught:
        units.conversion("kBtu/h", units.unit("KiloV-A"))
    assert caught.value.problem is UnitProblem.INCOMPATIBLE


def test_a_quantity_kind_added_with_its_dimension_takes_pint_units(tmp_path: Path) -> None:
    units = Units.read([edited(tmp_path, LENGTH)])
    assert units.resolve("ft").kinds == {"Length"}  # pint's foot: a length, by its dimension
    assert units.conversion("ft", units.unit("M"))(1.0) == pytest.approx(0.3048)
    assert units.conversion("m", units.unit("M")).is_identity


def test_without_its_dimension_a_kind_takes_no_pint_units(tmp_path: Path) -> None:
    undimensioned = LENGTH.replace(" ;\n    qudt:hasDimensionVector qkdv:A0E0L1I0M0H0T0D0 .", " .")
    units = Units.read([edited(tmp_path, undimensioned)])
    assert units.conversion("m", units.unit("M")).is_identity  # its own symbol still works
    with pytest.raises(UnitError) as caught:
        units.conversion("ft", units.unit("M"))
    assert caught.value.problem is UnitProblem.INCOMPATIBLE


def test_a_unit_without_a_conversion_converts_only_to_itself(tmp_path: Path) -> None:
    unconverted = KILO_BTU_PER_HOUR.replace(
        " ;\n    qudt:conversionMultiplier 293.0710701722222 .", " ."
    )
    units = Units.read([edited(tmp_path, unconverted)])
    added = units.unit("KiloBTU_IT-PER-HR")
    assert units.conversion("kBtu/h", added).is_identity
    with pytest.raises(UnitError, match="gives unit:KiloBTU_IT-PER-HR no conversion") as caught:
        units.conversion("kBtu/h", units.unit("KiloW"))
    assert caught.value.problem is UnitProblem.INCOMPATIBLE


def test_spellings_of_a_unit_the_file_lacks_are_unknown(tmp_path: Path) -> None:
    units = Units.read([edited(tmp_path, without="DEG_C")])
    with pytest.raises(UnitError) as caught:
        units.resolve("Cel", senml=True)  # SenML's symbol for unit:DEG_C
    assert caught.value.problem is UnitProblem.UNKNOWN
    assert units.resolve("degC").qudt is None  # pint's degree Celsius, no unit of the file


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("293.0710701722222", '"lots"'), r"unit:KiloBTU_IT-PER-HR: qudt:conversionMultiplier"),
        (("293.0710701722222", "0.0"), r"conversionMultiplier must not be 0"),
        (('"kBtu/h"', '"kW"'), r"unit:KiloW and unit:KiloBTU_IT-PER-HR have the same symbol"),
        (('"kBtu/h"', '"kBtu/h", "kBtuh"'), r"unit:KiloBTU_IT-PER-HR has 2 qudt:symbol"),
    ],
)
def test_a_unit_the_file_gets_wrong_is_refused_naming_it(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    with pytest.raises(VocabularyError, match=says):
        Units.read([edited(tmp_path, KILO_BTU_PER_HOUR.replace(*change))])


def test_a_dimension_vector_qudt_does_not_spell_is_refused(tmp_path: Path) -> None:
    wrong = LENGTH.replace("qkdv:A0E0L1I0M0H0T0D0 .", "qkdv:length .", 1)
    with pytest.raises(VocabularyError, match=r"quantitykind:Length: .* is not a QUDT dimension"):
        Units.read([edited(tmp_path, wrong)])
