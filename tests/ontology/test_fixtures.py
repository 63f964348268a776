"""One test per fixture file: valid ones pass; each invalid one fails in exactly the way its
first line (``# expect: COMPONENT SUBJECT PROPERTY [line N]``) says."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgtwin.ontology.validate import Ontology, validate
from tests.conftest import DC1, FIXTURES

VALID = sorted((FIXTURES / "ontology" / "valid").glob("*.ttl"))
INVALID = sorted((FIXTURES / "ontology" / "invalid").glob("*.ttl"))


@pytest.mark.parametrize("path", [DC1, *VALID], ids=lambda p: p.name)
def test_valid_file_passes(path: Path, ontology: Ontology) -> None:
    report = validate([path], ontology)
    assert [p.render() for p in report.problems] == []
    assert report.graph is not None


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_file_reports_its_violation(path: Path, ontology: Ontology) -> None:
    header = path.read_text().splitlines()[0].removeprefix("# expect:").split()
    component, subject, prop = header[:3]
    report = validate([path], ontology)
    assert not report.ok
    assert report.graph is None
    (problem,) = report.problems
    assert problem.file == path
    if component == "SYNTAX":
        assert problem.kind == "syntax"
        assert problem.line == int(header[4])
        return
    assert problem.kind == component
    assert problem.subject == subject
    if prop != "-":
        assert problem.property == prop
    assert problem.line is not None
    assert problem.message  # the shape's words for a domain expert


def test_example_site_size(ontology: Ontology) -> None:
    report = validate([DC1], ontology)
    assert report.graph is not None
    labels = [node.labels for node in report.graph.nodes.values()]
    assets = sum("Asset" in lab for lab in labels)
    points = sum("Point" in lab for lab in labels)
    assert assets >= 150
    assert points >= 400
    for node in report.graph.nodes.values():
        if "Point" in node.labels:
            assert {"mqttTopic", "unit", "expectedInterval"} <= node.props.keys(), node.iri


def test_ontology_files_validate_against_meta_shapes(ontology: Ontology) -> None:
    report = validate([f.path for f in ontology.files], ontology)
    assert [p.render() for p in report.problems] == []
