from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from kgtwin.ontology import mapping
from kgtwin.ontology.files import Locator, index, parse_file
from kgtwin.ontology.mapping import map_model, map_ontology, to_neo4j_value
from kgtwin.ontology.triples import TripleIndex
from kgtwin.ontology.vocabulary import Vocabulary
from tests.ontology.test_vocabulary import ONTOLOGY

UNITS = """
x:Unit a owl:Class ; rdfs:label "Unit" ; rdfs:comment "." .
x:unit a owl:ObjectProperty ; rdfs:label "unit" ; rdfs:comment "." .
x:KiloW a x:Unit .
"""
PREFIXES = """
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix kgt: <https://w3id.org/kgtwin/core#> .
@prefix x: <https://example.org/x#> .
@prefix s: <https://example.org/site#> .
"""


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary.from_graph(Graph().parse(data=ONTOLOGY + UNITS, format="turtle"))


def model(tmp_path: Path, body: str) -> tuple[TripleIndex, Locator]:
    path = tmp_path / "site.ttl"
    path.write_text(PREFIXES + body)
    files = [parse_file(path)]
    return index(files), Locator(files)


def test_subjects_become_nodes_with_labels_props_and_relationships(
    tmp_path: Path, vocab: Vocabulary
) -> None:
    files = model(
        tmp_path,
        """
s:p1 a x:BoosterPump ; rdfs:label "P1" ; x:ratedFlow 12.5 ; x:unit x:KiloW ;
  x:pumpsWaterTo s:p2 .
s:p2 a x:Pump ; x:ratedFlow 3 .
""",
    )
    graph, problems = map_model(*files, vocab)
    assert problems == []
    p1 = graph.nodes["https://example.org/site#p1"]
    assert p1.labels == ("Twin", "Asset", "BoosterPump", "Pump")
    assert p1.props == {
        "iri": "https://example.org/site#p1",
        "id": "p1",
        "label": "P1",
        "ratedFlow": 12.5,
        "unit": "KiloW",
    }
    assert graph.nodes["https://example.org/site#p2"].props["ratedFlow"] == 3
    (rel,) = graph.rels
    assert (rel.source, rel.type, rel.target) == (
        "https://example.org/site#p1",
        "PUMPS_WATER_TO",
        "https://example.org/site#p2",
    )


def test_unknown_property_is_reported_with_a_suggestion(tmp_path: Path, vocab: Vocabulary) -> None:
    files = model(tmp_path, "s:p1 a x:Pump ;\n  x:ratedFlo 3 .\n")
    _, problems = map_model(*files, vocab)
    (problem,) = problems
    assert problem.kind == "unknown-property"
    assert problem.subject == "s:p1"
    assert problem.property == "x:ratedFlo"
    assert "did you mean 'ratedFlow'" in problem.message
    assert problem.line == 6  # the line where s:p1's statement starts
    assert problem.file == tmp_path / "site.ttl"


def test_unknown_class_and_missing_class_are_reported(tmp_path: Path, vocab: Vocabulary) -> None:
    files = model(tmp_path, "s:p1 a x:Pmup .\ns:p2 rdfs:label 'no class' .\n")
    _, problems = map_model(*files, vocab)
    assert sorted(p.kind for p in problems) == ["no-class", "unknown-class"]
    assert any("did you mean 'Pump'" in p.message for p in problems)


def test_dangling_reference_is_reported(tmp_path: Path, vocab: Vocabulary) -> None:
    files = model(tmp_path, "s:p1 a x:Pump ; x:pumpsWaterTo s:nowhere .\n")
    _, problems = map_model(*files, vocab)
    (problem,) = problems
    assert problem.kind == "dangling-reference"
    assert problem.found == "s:nowhere"


def test_duplicate_local_names_are_reported(tmp_path: Path, vocab: Vocabulary) -> None:
    files = model(tmp_path, "s:p1 a x:Pump .\n<https://example.org/other#p1> a x:Pump .\n")
    _, problems = map_model(*files, vocab)
    assert [p.kind for p in problems] == ["duplicate-id"]


def test_multiple_values_become_a_sorted_list(tmp_path: Path, vocab: Vocabulary) -> None:
    files = model(tmp_path, "s:p1 a x:Pump ; x:ratedFlow 3.0, 1.0, 2.0 .\n")
    graph, problems = map_model(*files, vocab)
    assert problems == []
    assert graph.nodes["https://example.org/site#p1"].props["ratedFlow"] == [1.0, 2.0, 3.0]


def test_nodes_share_one_object_per_relationship_type_individual_and_literal(
    tmp_path: Path, vocab: Vocabulary
) -> None:
    # what keeps a million-asset model's mapping small: a value given by many subjects is
    # one object, not one per node or relationship
    body = "".join(
        f's:p{i} a x:Pump ; rdfs:label "Pump {i}" ; x:ratedFlow 12.5 ; x:unit x:KiloW ; '
        f"x:pumpsWaterTo s:p{i + 1} .\n"
        for i in range(4)
    )
    graph, problems = map_model(*model(tmp_path, body + "s:p4 a x:Pump .\n"), vocab)
    assert problems == []
    pumps = [graph.nodes[f"https://example.org/site#p{i}"].props for i in range(4)]
    assert [p["ratedFlow"] for p in pumps] == [12.5] * 4
    assert [p["label"] for p in pumps] == [f"Pump {i}" for i in range(4)]
    assert all(type(p["label"]) is str for p in pumps)
    assert len({id(p["ratedFlow"]) for p in pumps}) == 1
    assert len({id(p["unit"]) for p in pumps}) == 1
    assert len({id(rel.type) for rel in graph.rels}) == 1


def test_literals_past_the_memo_are_converted_each_time(
    tmp_path: Path, vocab: Vocabulary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mapping, "LITERAL_MEMO", 2)
    body = "".join(f"s:p{i} a x:Pump ; x:ratedFlow {i}.5 .\n" for i in range(5))
    bad = "".join(
        f's:q{i} a x:Pump ; x:ratedFlow "fast"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n'
        for i in range(3)
    )
    graph, problems = map_model(*model(tmp_path, body + bad), vocab)
    flows = [graph.nodes[f"https://example.org/site#p{i}"].props["ratedFlow"] for i in range(5)]
    assert flows == [0.5, 1.5, 2.5, 3.5, 4.5]
    # an ill-typed literal given three times is three problems, memoized or not
    assert [(p.kind, p.subject) for p in problems] == [("ill-typed", f"s:q{i}") for i in range(3)]


def test_ill_typed_literal_is_not_converted() -> None:
    assert to_neo4j_value(Literal("fast", datatype=XSD.decimal)) is None
    assert to_neo4j_value(Literal("2.5", datatype=XSD.decimal)) == 2.5
    assert to_neo4j_value(Literal("true", datatype=XSD.boolean)) is True


def test_ontology_maps_to_class_and_relationship_nodes(vocab: Vocabulary) -> None:
    graph = map_ontology(vocab)
    pump = graph.nodes["https://example.org/x#Pump"]
    assert pump.labels == ("Class", "OntologyTerm")
    assert pump.props["comment"] == "Moves water."
    feeds = graph.nodes["https://w3id.org/kgtwin/core#feeds"]
    assert feeds.props["type"] == "FEEDS"
    assert feeds.props["dependencyDirection"] == "SupplierToConsumer"
    edges = {(r.source.split("#")[1], r.type, r.target.split("#")[1]) for r in graph.rels}
    assert ("BoosterPump", "SUBCLASS_OF", "Pump") in edges
    assert ("pumpsWaterTo", "SUBPROPERTY_OF", "feeds") in edges
    assert URIRef("https://example.org/x#KiloW") not in graph.nodes
