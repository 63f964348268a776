"""Problems for the components beyond the basic ones read like the others: a closed shape
names the property it does not allow and suggests a near one, a qualified count says what
it wanted and lists what it found, a SPARQL constraint gives its own message."""

from __future__ import annotations

from pathlib import Path

from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.problems import Problem
from kgtwin.ontology.validate import Ontology, validate
from tests.conftest import FIXTURES

ACME = FIXTURES / "ontology" / "acme"
MODEL = """
@prefix acme: <https://example.org/acme#> .
@prefix p:    <https://example.org/plant#> .
p:press a acme:Machine ; acme:poweredBy p:press ; acme:reading p:drive .
p:drive a acme:Machine .
p:temp a acme:Sensor ; acme:tags "plant/press/temp" .
"""


def problems(tmp_path: Path) -> dict[tuple[str, str], Problem]:
    ontology = Ontology.load(
        [*default_ontology_files(), ACME / "acme.ttl", ACME / "explain.shapes.ttl"]
    )
    model = tmp_path / "model.ttl"
    model.write_text(MODEL, encoding="utf-8")
    report = validate([model], ontology)
    return {(p.kind, p.subject): p for p in report.problems}


def test_a_closed_shape_names_the_property_and_a_near_allowed_one(tmp_path: Path) -> None:
    closed = problems(tmp_path)["ClosedConstraintComponent", "p:temp"]
    assert closed.line == 6
    assert closed.message == "a property the shape does not allow"  # the shape says nothing
    assert closed.expected == "only acme:engUnit, acme:tag, rdf:type, rdfs:label"
    assert closed.found is not None
    assert closed.found.startswith('acme:tags "plant/press/temp"')
    assert "did you mean acme:tag?" in closed.found


def test_a_qualified_count_says_what_it_wanted_and_lists_what_it_found(tmp_path: Path) -> None:
    qualified = problems(tmp_path)["QualifiedMinCountConstraintComponent", "p:press"]
    assert qualified.property == "acme:reading"
    assert qualified.message == "too few values of the kind required"
    assert qualified.expected == "at least 1 value(s) that are instances of acme:Sensor"
    assert qualified.found == "p:drive (a acme:Machine)"


def test_a_sparql_constraint_gives_its_own_message(tmp_path: Path) -> None:
    sparql = problems(tmp_path)["SPARQLConstraintComponent", "p:press"]
    assert sparql.message == "p:press is powered by itself"
