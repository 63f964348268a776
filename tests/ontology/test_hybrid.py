"""Validation shape by shape: Brick 1.5's own shapes on generated Brick buildings, and a
SPARQL shape among core shapes, each against pySHACL on the same files."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import brickschema
import pytest
from rdflib import BNode, Graph, Namespace
from rdflib.term import Node

from bench.brick_site import brick_site
from kgtwin.ontology.files import index, parse_file
from kgtwin.ontology.hybrid import Checker, pyshacl_results
from kgtwin.ontology.namespaces import SH
from kgtwin.ontology.shacl import ValidationResult
from kgtwin.ontology.shacl_paths import path_text
from kgtwin.ontology.triples import TripleIndex

BRICK = Path(brickschema.__file__).parent / "ontologies" / "1.5" / "Brick.ttl"
EX = Namespace("https://example.org/test#")


@functools.cache
def brick() -> tuple[Graph, Checker]:
    graph = Graph()
    for triple in parse_file(BRICK).triples():
        graph.add(triple)
    return graph, Checker(graph)


Key = tuple[str, str, str, str, str]


def keys(results: list[ValidationResult], data: Graph) -> Counter[Key]:
    """Results as (focus, path, value, component, severity); a blank node as the statement
    pointing at it (the two runs read the files apart, so blank-node ids differ)."""

    def name(term: Node | None) -> str:
        if isinstance(term, BNode):
            return "[" + " ".join(sorted(f"{s} {p}" for s, p in data.subject_predicates(term)))
        return str(term)

    return Counter(
        (name(r.focus), name(r.path), name(r.value), str(r.component), str(r.severity))
        for r in results
    )


@pytest.mark.parametrize("violations", [0, 10])
def test_brick_shapes_agree_with_pyshacl_on_a_generated_building(
    violations: int, tmp_path: Path
) -> None:
    graph, checker = brick()
    site = brick_site(120, violations)
    paths = site.write(tmp_path)
    data = index([parse_file(p) for p in paths])
    data.add_quads(parse_file(BRICK).quads)
    assert checker.fallback == {}, "every shape of Brick 1.5 is compiled"
    data_graph = data.to_graph()
    mine = keys(checker.check(data), data_graph)
    reference = keys(pyshacl_results(data_graph, graph), data_graph)
    assert mine == reference
    found = {(k[0], k[3]) for k in mine}
    for seed in site.seeded:
        focus = f"[{seed.focus} {seed.via}" if seed.via else seed.focus
        assert (focus, seed.component) in found, seed


SHAPES = """
@prefix ex: <https://example.org/test#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:Core a sh:NodeShape ; sh:targetClass ex:C ;
    sh:property [ sh:path ex:p ; sh:minCount 1 ; sh:datatype xsd:integer ] ;
    sh:property [ sh:path ( ex:q [ sh:zeroOrMorePath ex:r ] ) ; sh:class ex:D ] ;
    sh:closed true ; sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) .
ex:Nested a sh:NodeShape ; sh:targetClass ex:D ; sh:property [ sh:path ex:p ; sh:maxCount 1 ] .
ex:Sparql a sh:NodeShape ; sh:targetClass ex:C ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:message "{$this} has an odd ex:p" ;
        sh:select '''PREFIX ex: <https://example.org/test#>
            SELECT $this ?value WHERE {
                $this ex:p ?value . OPTIONAL { $this ex:q ?x } FILTER (!bound(?x)) }''' ] .
ex:Once a sh:NodeShape ; sh:targetClass ex:D ;
    sh:sparql [ a sh:SPARQLConstraint ;
        sh:select '''PREFIX ex: <https://example.org/test#>
            SELECT $this ?value WHERE { $this ex:p ?value . FILTER (?value > 1) }''' ] .
"""
DATA = """
@prefix ex: <https://example.org/test#> .
ex:a a ex:C ; ex:p 1, "x" ; ex:q ex:b ; ex:s 3 .
ex:b a ex:D ; ex:p 2, 5 ; ex:r ex:c .
ex:c ex:r ex:b .
ex:e a ex:C ; ex:p 7 .
"""


def test_only_the_sparql_shape_pyshacl_cannot_be_spared_goes_to_pyshacl() -> None:
    shapes = Graph().parse(data=SHAPES, format="turtle")
    checker = Checker(shapes)
    assert set(checker.fallback) == {EX.Sparql}
    fallback = checker.fallback_graph
    assert fallback is not None
    assert set(fallback.subjects(SH.targetClass, None)) == {EX.Sparql}
    data_graph = Graph().parse(data=DATA, format="turtle")
    data = TripleIndex()
    data.add(data_graph)
    mine = keys(checker.check(data), data_graph)
    reference = keys(pyshacl_results(data_graph, shapes, advanced=True), data_graph)
    assert mine == reference
    components = {k[3].split("#")[1] for k in mine}
    assert {"ClosedConstraintComponent", "SPARQLConstraintComponent"} <= components


def test_complex_paths_are_written_like_sparql() -> None:
    shapes = Graph().parse(data=SHAPES, format="turtle")
    path = shapes.value(next(iter(shapes.subjects(SH["class"], EX.D))), SH.path)
    assert path_text(shapes, path, lambda n: "ex:" + str(n).split("#")[1]) == "ex:q/ex:r*"
    g = Graph().parse(
        data="@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/test#> ."
        "ex:s sh:path [ sh:alternativePath ( [ sh:inversePath ex:f ] [ sh:oneOrMorePath ex:f ] ) ]"
        " .",
        format="turtle",
    )
    text = path_text(g, g.value(EX.s, SH.path), lambda n: "ex:" + str(n).split("#")[1])
    assert text == "^ex:f|ex:f+"
