"""SPARQL-based shapes run over a copy of the data holding only the statements whose
predicate their queries name: which predicates a query reads, and that the answers stay
those of pySHACL, which runs the queries over all of the data."""

from __future__ import annotations

import pytest
from rdflib import Graph

from kgtwin.ontology.shacl import compile_shapes
from kgtwin.ontology.shacl_sparql import predicates_read
from kgtwin.ontology.triples import TripleIndex
from kgtwin.ontology.validate import pyshacl_results

A, B, C, D = (f"https://example.org/test#{x}" for x in "abcd")
PREFIX = "PREFIX ex: <https://example.org/test#>\n"


@pytest.mark.parametrize(
    ("where", "read"),
    [
        ("?this ex:a ?o", {A}),
        ("?this ex:a/(ex:b|^ex:c)* ?o", {A, B, C}),
        ("?this ex:a [ ex:b ?z ]", {A, B}),
        ("?this ex:a ?o FILTER NOT EXISTS { ?o ex:b/ex:d? ?z }", {A, B, D}),
        ("{ SELECT ?this WHERE { ?this ex:c ?o } }", {C}),
        # anything that may match any predicate: all the data is needed
        ("?this ?p ?o", None),
        ("?this !ex:a ?o", None),
        ("?this ex:a ?o FILTER EXISTS { ?o ?p ?z }", None),
        ("?this ex:a ?o FILTER EXISTS { ?o !(ex:b|ex:c) ?z }", None),
        ("?this ex:a ?o . OPTIONAL { ?o ex:b ?x ; ?v ?w }", None),
    ],
)
def test_the_predicates_a_query_reads(where: str, read: set[str] | None) -> None:
    found = predicates_read(f"{PREFIX}SELECT ?this WHERE {{ {where} }}")
    assert found == (None if read is None else frozenset(read))


def test_a_query_rdflib_cannot_read_may_read_anything() -> None:
    assert predicates_read("SELECT ?this WHERE { ?this") is None


SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/test#> .
ex:Named a sh:NodeShape ; sh:targetClass ex:Thing ;
    sh:sparql [ sh:select '''PREFIX ex: <https://example.org/test#>
        SELECT $this ?value WHERE {
            $this ex:a ?value . FILTER NOT EXISTS { ?value ex:b ?x } }''' ] .
ex:Any a sh:NodeShape ; sh:targetClass ex:Thing ;
    sh:sparql [ sh:select '''PREFIX ex: <https://example.org/test#>
        SELECT $this ?value WHERE { $this ?p ?value . FILTER (?p = ex:c) }''' ] .
"""

DATA = """
@prefix ex: <https://example.org/test#> .
ex:one a ex:Thing ; ex:a ex:two ; ex:c "flagged" ; ex:d ex:three .
ex:two ex:b ex:three .
ex:four a ex:Thing ; ex:a ex:three ; ex:d ex:two .
"""


@pytest.mark.parametrize("shape", ["Named", "Any"])
def test_a_sparql_shape_over_part_of_the_data_answers_as_over_all_of_it(shape: str) -> None:
    shapes = Graph().parse(data=SHAPES, format="turtle")
    for other in {"Named", "Any"} - {shape}:
        shapes.remove((shapes.namespace_manager.expand_curie(f"ex:{other}"), None, None))
    data_graph = Graph().parse(data=DATA, format="turtle")
    data = TripleIndex()
    data.add(data_graph)

    mine = {(str(r.focus), str(r.value)) for r in compile_shapes(shapes).check(data)}
    reference = {
        (str(r.focus), str(r.value)) for r in pyshacl_results(data_graph, shapes, advanced=True)
    }
    assert mine == reference
    assert mine  # the shape found something to report
