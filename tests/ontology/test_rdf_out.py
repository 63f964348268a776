"""The pure RDF writer of ``kgtwin export``: names looked up in the vocabulary, the most
specific classes, values typed as the ontology expects, live state, and a mapped model
written out, validated and mapped again to the same property graph (no Neo4j)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef

from kgtwin.graph.records import NodeRecord, PropertyGraph, RelRecord
from kgtwin.ontology.namespaces import KGT, LIVE, OWL, RDF, RDFS, SH, UNIT, XSD
from kgtwin.ontology.rdf_out import (
    RdfWriter,
    expected_datatypes,
    literal,
    ontology_prefixes,
    serialize,
    to_rdf,
)
from kgtwin.ontology.validate import Ontology, validate
from kgtwin.ontology.vocabulary import ClassInfo, PropertyInfo, Vocabulary
from tests.conftest import DC1

SITE = "https://w3id.org/kgtwin/site/dc1#"
# rdflib's JSON-LD parser (tests only read JSON-LD) warns about a class of its own
JSON_LD_PARSER_WARNS = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning"
)
DC = "https://w3id.org/kgtwin/datacentre#"


def write(ontology: Ontology, graph: PropertyGraph, *, live: bool = False) -> Graph:
    return to_rdf(
        graph,
        ontology.vocabulary,
        expected_datatypes(ontology.graph, ontology.vocabulary),
        live=live,
        prefixes=ontology_prefixes(ontology.files),
        model_prefix="dc1",
    )


def node(iri: str, labels: tuple[str, ...], **props: object) -> NodeRecord:
    return NodeRecord(SITE + iri, ("Twin", *labels), {"iri": SITE + iri, "id": iri, **props})  # type: ignore[arg-type]


def test_a_mapped_site_written_out_validates_and_maps_to_the_same_graph(
    ontology: Ontology, tmp_path: Path
) -> None:
    mapped = validate([DC1], ontology).raise_for_problems()
    exported = tmp_path / "dc1.ttl"
    exported.write_text(serialize(write(ontology, mapped), "turtle"), encoding="utf-8")
    report = validate([exported], ontology)
    assert [p.render() for p in report.problems] == []
    again = report.raise_for_problems()
    assert again.rels == mapped.rels
    assert again.nodes.keys() == mapped.nodes.keys()
    for iri, original in mapped.nodes.items():
        assert sorted(again.nodes[iri].labels) == sorted(original.labels), iri
        assert again.nodes[iri].props == original.props, iri
    text = exported.read_text()
    # reads like the source: its prefixes, and one for the model's own namespace
    assert f"@prefix dc1: <{SITE}> ." in text
    assert "@prefix unit: <http://qudt.org/vocab/unit/> ." in text
    assert "dc1:ups-b1 a dc:UPS ;" in text
    assert "kgt:ratedCapacity 400.0 ;" in text  # a decimal, written as one


def test_only_the_most_specific_classes_are_written(ontology: Ontology) -> None:
    ups = node("ups", ("UPS", "ElectricalAsset", "Asset", "Location"), label="UPS")
    out = write(ontology, PropertyGraph({ups.iri: ups}, frozenset()))
    assert set(out.objects(URIRef(ups.iri), RDF.type)) == {URIRef(DC + "UPS"), KGT.Location}


def test_aligned_labels_and_keys_are_left_out(ontology: Ontology) -> None:
    pump = node(
        "p",
        ("Asset", "Pump", "Location"),
        label="P",
        manufacturer="Acme",
        mqttTopic="derived/by/alignment",
        modelKeys=["iri", "id", "label", "manufacturer"],
        alignedKeys=["mqttTopic"],
        alignedLabels=["Location"],
    )
    writer = RdfWriter(ontology.vocabulary, {}, live=True)
    writer.add([pump])
    out = writer.finish()
    subject = URIRef(pump.iri)
    assert set(out.objects(subject, RDF.type)) == {URIRef(DC + "Pump")}
    assert set(out.predicates(subject)) == {RDF.type, RDFS.label, KGT.manufacturer}
    assert not writer.skipped


def test_names_are_looked_up_in_the_vocabulary_not_derived() -> None:
    brick = "https://brickschema.org/schema/Brick#"
    point = ClassInfo(brick + "Point", "brick_Point", "", "", ())
    has_point = PropertyInfo(
        brick + "hasPoint", "brick_hasPoint", "object", "", "", (), (), (), None, None
    )
    size = PropertyInfo(
        brick + "size", "brick_size", "datatype", "", "", (), (XSD.decimal,), (), None, None
    )
    vocabulary = Vocabulary(
        {point.iri: point},
        {has_point.iri: has_point, size.iri: size},
        {},
        {point.iri: frozenset({point.iri})},
        {},
    )
    a = NodeRecord("urn:a", ("Twin", "brick_Point"), {"iri": "urn:a", "brick_size": 2.5})
    b = NodeRecord("urn:b", ("Twin", "brick_Point"), {"iri": "urn:b"})
    rel = RelRecord("urn:a", has_point.rel_type, "urn:b")
    assert rel.type == "BRICK_HAS_POINT"
    writer = RdfWriter(vocabulary, {size.iri: XSD.decimal})
    writer.add([a, b], [rel, RelRecord("urn:a", "NOT_OURS", "urn:b")])
    out = writer.finish()
    assert (URIRef("urn:a"), RDF.type, URIRef(point.iri)) in out
    assert (URIRef("urn:a"), URIRef(has_point.iri), URIRef("urn:b")) in out
    assert out.value(URIRef("urn:a"), URIRef(size.iri)) == Literal("2.5", datatype=XSD.decimal)
    assert writer.skipped == {"relationship type": {"NOT_OURS": 1}}


def test_what_the_ontology_cannot_name_is_left_out_and_counted(ontology: Ontology) -> None:
    p = node(
        "x",
        ("Asset", "Gizmo"),
        label="X",
        colour="red",
        unit="FURLONG-PER-FORTNIGHT",
        modelKeys=["iri", "id", "label", "colour", "unit"],
    )
    writer = RdfWriter(ontology.vocabulary, {})
    writer.add([p])
    assert writer.skipped == {
        "label": {"Gizmo": 1},
        "key": {"colour": 1},
        "individual": {"unit=FURLONG-PER-FORTNIGHT": 1},
    }


def test_individuals_become_their_iris(ontology: Ontology) -> None:
    p = node("p", ("Point",), label="P", unit="KiloW", modelKeys=["iri", "id", "label", "unit"])
    out = write(ontology, PropertyGraph({p.iri: p}, frozenset()))
    assert out.value(URIRef(p.iri), KGT.unit) == UNIT.KiloW


def test_live_keys_go_to_the_live_namespace_only_when_asked(ontology: Ontology) -> None:
    observed = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    p = node(
        "p",
        ("Point",),
        label="P",
        modelKeys=["iri", "id", "label", "model"],
        model="dc1",
        value=12.5,
        observedAt=observed,
        quality="good",
        stale=False,
        observedKeys=["k1", "k2"],
    )
    graph = PropertyGraph({p.iri: p}, frozenset())
    subject = URIRef(p.iri)
    without = write(ontology, graph)
    assert not any(str(pred).startswith(str(LIVE)) for pred in without.predicates(subject))
    live = write(ontology, graph, live=True)
    assert live.value(subject, LIVE.value) == Literal("12.5", datatype=XSD.decimal)
    assert live.value(subject, LIVE.observedAt).toPython() == observed  # type: ignore[union-attr]
    assert live.value(subject, LIVE.quality) == Literal("good")
    assert live.value(subject, LIVE.stale) == Literal(False)
    assert set(live.objects(subject, LIVE.observedKeys)) == {Literal("k1"), Literal("k2")}
    assert "@prefix kgtlive: <https://w3id.org/kgtwin/live#> ." in serialize(live, "turtle")


def test_live_keys_of_any_name_make_valid_iris(ontology: Ontology) -> None:
    odd = ["my key", "a/b#c", "<script>", "ünïcode", "x y\n> ."]
    p = node("p", ("Point",), label="P", modelKeys=["iri", "id", "label"], **dict.fromkeys(odd, 1))
    out = write(ontology, PropertyGraph({p.iri: p}, frozenset()), live=True)
    back = Graph().parse(data=serialize(out, "turtle"), format="turtle")
    assert set(back) == set(out)
    live = {str(pred) for pred in back.predicates(URIRef(p.iri)) if pred.startswith(LIVE)}
    assert len(live) == len(odd)
    assert all(" " not in iri and ">" not in iri and "#" not in iri[len(LIVE) :] for iri in live)


@pytest.mark.parametrize(
    ("value", "datatype", "expected"),
    [
        (400.0, XSD.decimal, Literal("400.0", datatype=XSD.decimal)),
        (1e-20, XSD.decimal, Literal("0.00000000000000000001", datatype=XSD.decimal)),
        (1e22, XSD.decimal, Literal("10000000000000000000000.0", datatype=XSD.decimal)),
        (5, XSD.decimal, Literal("5.0", datatype=XSD.decimal)),
        (math.inf, XSD.decimal, Literal("INF", datatype=XSD.double)),  # no decimal can be
        (2.5, XSD.double, Literal("2.5", datatype=XSD.double)),
        (math.nan, XSD.double, Literal("NaN", datatype=XSD.double)),
        (7, XSD.integer, Literal("7", datatype=XSD.integer)),
        (7, XSD.nonNegativeInteger, Literal("7", datatype=XSD.nonNegativeInteger)),
        (7, None, Literal("7", datatype=XSD.integer)),
        (True, XSD.boolean, Literal("true", datatype=XSD.boolean)),
        (True, XSD.integer, Literal("true", datatype=XSD.boolean)),  # its own type wins
        ("all", XSD.string, Literal("all")),
        ("P1D", XSD.duration, Literal("P1D", datatype=XSD.duration)),
        ("abc", XSD.decimal, Literal("abc")),  # not a decimal: written as the text it is
        (date(2024, 2, 29), XSD.date, Literal("2024-02-29", datatype=XSD.date)),
        (time(10, 30), XSD.time, Literal("10:30:00", datatype=XSD.time)),
        (
            datetime(2024, 1, 2, 3, 4, 5),
            XSD.dateTime,
            Literal("2024-01-02T03:04:05", datatype=XSD.dateTime),
        ),
        (
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            None,
            Literal("2024-01-02T03:04:05+00:00", datatype=XSD.dateTime),
        ),
    ],
)
def test_literals_take_the_datatype_expected_when_the_value_fits(
    value: object, datatype: URIRef | None, expected: Literal
) -> None:
    got = literal(value, datatype)  # type: ignore[arg-type]
    assert (str(got), got.datatype) == (str(expected), expected.datatype)
    assert not got.ill_typed


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_written_as_a_decimal_reads_back_as_the_same_float(value: float) -> None:
    written = literal(value, XSD.decimal)
    assert written.datatype == XSD.decimal
    assert not written.ill_typed
    assert float(written.toPython()) == value


def test_datatypes_come_from_the_range_else_from_the_shapes() -> None:
    ex = "urn:ex#"
    g = Graph()
    g.add((URIRef(ex + "ranged"), RDF.type, OWL.DatatypeProperty))
    g.add((URIRef(ex + "ranged"), RDFS.range, XSD.integer))
    g.add((URIRef(ex + "shaped"), RDF.type, OWL.DatatypeProperty))
    g.add((URIRef(ex + "shape"), SH.path, URIRef(ex + "shaped")))
    g.add((URIRef(ex + "shape"), SH.datatype, XSD.decimal))
    g.add((URIRef(ex + "neither"), RDF.type, OWL.DatatypeProperty))
    found = expected_datatypes(g, Vocabulary.from_graph(g))
    assert found == {ex + "ranged": XSD.integer, ex + "shaped": XSD.decimal}


@JSON_LD_PARSER_WARNS
def test_json_ld_holds_the_same_triples_as_turtle(ontology: Ontology) -> None:
    mapped = validate([DC1], ontology).raise_for_problems()
    out = write(ontology, mapped)
    document = serialize(out, "jsonld")
    assert '"dc1": "https://w3id.org/kgtwin/site/dc1#"' in document
    back = Graph().parse(data=document, format="json-ld")
    turtle = Graph().parse(data=serialize(out, "turtle"), format="turtle")
    assert len(back) == len(turtle) == len(out)
    assert set(back) == set(turtle)
