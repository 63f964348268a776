"""The compiled SHACL checker against pySHACL, the reference, on random data.

The examples are derandomized so CI is repeatable; to explore new ones, run the inner
tests with more examples and a random seed (this session: 1,500 and 300 examples agreed).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.namespaces import KGT, RDF, RDFS, SH, XSD
from kgtwin.ontology.shacl import Unsupported, ValidationResult, compile_shapes
from kgtwin.ontology.triples import Triple, TripleIndex
from kgtwin.ontology.validate import Ontology, pyshacl_results
from tests.conftest import examples

EX = Namespace("https://example.org/test#")
SUBJECTS = [EX[f"s{i}"] for i in range(5)]
LITERALS: list[Node] = [
    Literal("1.5", datatype=XSD.decimal),
    Literal("0.0", datatype=XSD.decimal),
    Literal("-3", datatype=XSD.integer),
    Literal("2", datatype=XSD.integer),
    Literal("2.0", datatype=XSD.double),
    Literal("abc", datatype=XSD.decimal),  # ill-typed
    Literal("true", datatype=XSD.boolean),
    Literal("2026-11-26T10:00:00Z", datatype=XSD.dateTime),
    Literal("k-of-n"),
    Literal("any"),
    Literal("double"),
    Literal("dc1/pump-1/flow"),
    Literal("bad topic #"),
    Literal("Pump", lang="en"),
    Literal("Pumpe", lang="de"),
    Literal("Pump 2", lang="en"),
]


@functools.cache
def bundled() -> Ontology:
    return Ontology.load(default_ontology_files())


Key = tuple[Node, Node | None, Node | None, Node, Node, Node]


def key(result: ValidationResult) -> Key:
    r = result
    return (r.focus, r.path, r.value, r.component, r.shape, r.severity)


RANGES = {
    SH[f"{name}ConstraintComponent"]
    for name in ("MinInclusive", "MinExclusive", "MaxInclusive", "MaxExclusive", "LessThan")
}
RANGES.add(SH.LessThanOrEqualsConstraintComponent)


NUMBERS = {XSD.integer, XSD.decimal, XSD.double}


def spec_divergence(k: Key) -> bool:
    """Range results for values that are not well-typed numbers. pySHACL compares an
    ill-typed literal ("abc"^^xsd:decimal), a boolean, a dateTime or an IRI with the bound
    by Python's rules (True <= 2, "s0" < "s1") or skips it; SHACL says such values cannot
    be compared, so each range constraint reports them. The checker follows the spec;
    those results are left out of the comparison (the test below checks they are
    reported)."""
    value = k[2]
    if k[3] not in RANGES:
        return False
    if not isinstance(value, Literal):
        return True
    return bool(value.ill_typed) or value.datatype not in NUMBERS


def both(data: TripleIndex, shapes: Graph) -> tuple[set[Key], set[Key]]:
    mine = {key(r) for r in compile_shapes(shapes).check(data)}
    reference = {key(r) for r in pyshacl_results(data.to_graph(), shapes)}
    return (
        {k for k in mine if not spec_divergence(k)},
        {k for k in reference if not spec_divergence(k)},
    )


def statements(
    predicates: Sequence[Node], objects: Sequence[Node], types: Sequence[Node]
) -> st.SearchStrategy[list[Triple]]:
    typed = st.tuples(st.sampled_from(SUBJECTS), st.just(RDF.type), st.sampled_from(types))
    stated = st.tuples(
        st.sampled_from(SUBJECTS),
        st.sampled_from(predicates),
        st.sampled_from([*SUBJECTS, *objects, *LITERALS]),
    )
    return st.lists(st.one_of(typed, stated, stated), max_size=25)


def kgtwin_statements() -> st.SearchStrategy[list[Triple]]:
    ontology = bundled()
    vocab = ontology.vocabulary
    classes = [URIRef(c) for c in vocab.classes]
    properties = [URIRef(p) for p in vocab.properties]
    individuals = [URIRef(i) for i in vocab.individuals]
    return statements([*properties, RDFS.label], individuals, classes)


@settings(
    max_examples=examples(150),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(model=kgtwin_statements())
def test_kgtwin_shapes_agree_with_pyshacl(model: list[Triple]) -> None:
    ontology = bundled()
    data = TripleIndex()
    data.add(model)
    for source in ontology.files:
        data.add_quads(source.quads)
    mine, reference = both(data, ontology.graph)
    assert mine == reference


GENERIC_SHAPES = """
@prefix ex: <https://example.org/test#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:CShape a sh:NodeShape ;
    sh:targetClass ex:C ;
    sh:targetNode ex:s0 ;
    sh:property [ sh:path ex:p1 ; sh:nodeKind sh:Literal ; sh:minLength 2 ; sh:maxLength 6 ] ;
    sh:property [ sh:path ex:p2 ; sh:pattern "^p" ; sh:flags "i" ; sh:languageIn ( "en" ) ;
                  sh:uniqueLang true ] ;
    sh:property [ sh:path ex:p3 ; sh:maxInclusive 2 ; sh:minExclusive -3 ;
                  sh:lessThanOrEquals ex:p4 ; sh:disjoint ex:p1 ] ;
    sh:property [ sh:path ex:p4 ; sh:equals ex:p3 ; sh:maxExclusive 2.0 ; sh:minInclusive 0.0 ;
                  sh:lessThan ex:p1 ] ;
    sh:property [ sh:path [ sh:inversePath ex:p5 ] ; sh:node ex:DShape ; sh:minCount 1 ] ;
    sh:xone ( [ sh:class ex:D ] [ sh:property [ sh:path ex:p5 ; sh:minCount 1 ] ] ) ;
    sh:and ( [ sh:nodeKind sh:IRI ] [ sh:not [ sh:hasValue ex:s4 ] ] ) .

ex:DShape a sh:NodeShape ;
    sh:property [ sh:path ex:p1 ; sh:datatype xsd:decimal ; sh:maxCount 1 ] .

ex:UsedShape a sh:NodeShape ;
    sh:targetSubjectsOf ex:p5 ;
    sh:targetObjectsOf ex:p3 ;
    sh:severity sh:Warning ;
    sh:message "used" ;
    sh:or ( [ sh:datatype xsd:integer ] [ sh:class ex:C ] [ sh:in ( "any" ex:s1 ) ] ) .
"""


@settings(max_examples=examples(200), deadline=None, derandomize=True)
@given(model=statements([EX.p1, EX.p2, EX.p3, EX.p4, EX.p5], [], [EX.C, EX.D, EX.E]))
def test_every_compiled_component_agrees_with_pyshacl(model: list[Triple]) -> None:
    shapes = Graph().parse(data=GENERIC_SHAPES, format="turtle")
    data = TripleIndex()
    data.add(model)
    data.add(shapes)
    mine, reference = both(data, shapes)
    assert mine == reference


@pytest.mark.parametrize(
    "constraint",
    [
        "sh:sparql [ sh:ask 'ASK { FILTER(false) }' ]",
        "sh:sparql [ sh:select 'SELECT $this WHERE { MINUS { $this ex:p ?o } }' ]",
        "sh:sparql [ sh:select 'SELECT $this WHERE { ?x ex:p ?o }' ]",
        "sh:property [ sh:path ex:p1 ; sh:sparql [ sh:select 'SELECT $this { $this $PATH ?o }' ] ]",
        "sh:property [ sh:path ex:p1 ; sh:node [ sh:sparql [ sh:ask 'ASK {}' ] ] ]",
        "sh:target [ a ex:CustomTarget ] ; sh:minCount 1",
    ],
    ids=["ask", "minus", "this-unbound", "path", "nested", "custom-target"],
)
def test_features_not_compiled_are_refused_so_pyshacl_runs_instead(constraint: str) -> None:
    text = (
        "@prefix ex: <https://example.org/test#> . @prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        f"ex:S a sh:NodeShape ; sh:targetClass ex:C ; {constraint} ."
    )
    with pytest.raises(Unsupported):
        compile_shapes(Graph().parse(data=text, format="turtle"))


def test_blank_node_focus_is_reported_like_pyshacl() -> None:
    shapes = Graph().parse(data=GENERIC_SHAPES, format="turtle")
    data = TripleIndex()
    node = BNode()
    data.add([(node, RDF.type, EX.C), (node, EX.p1, Literal("x")), (EX.s1, KGT.unit, node)])
    data.add(shapes)
    mine, reference = both(data, shapes)
    assert mine == reference
    assert any(focus == node for focus, *_ in mine)


@pytest.mark.parametrize(
    "value",
    [
        Literal("abc", datatype=XSD.decimal),
        Literal("true", datatype=XSD.boolean),
        Literal("2026-11-26T10:00:00Z", datatype=XSD.dateTime),
        EX.s1,
    ],
    ids=["ill-typed", "boolean", "dateTime", "IRI"],
)
def test_values_that_cannot_be_compared_with_a_number_violate_a_range(value: Node) -> None:
    shapes = Graph().parse(data=GENERIC_SHAPES, format="turtle")
    data = TripleIndex()
    data.add([(EX.s0, EX.p3, value)])
    data.add(shapes)
    components = {r.component for r in compile_shapes(shapes).check(data) if r.value == value}
    assert {SH.MaxInclusiveConstraintComponent, SH.MinExclusiveConstraintComponent} <= components
