from __future__ import annotations

import pytest
from rdflib import Graph

from kgtwin.graph.labels import SYSTEM_LABELS, SYSTEM_TYPES
from kgtwin.ontology.vocabulary import Vocabulary, local_name, relationship_type

ONTOLOGY = """
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix kgt: <https://w3id.org/kgtwin/core#> .
@prefix x: <https://example.org/x#> .
kgt:Asset a owl:Class ; rdfs:label "Asset" ; rdfs:comment "A thing." .
x:Pump a owl:Class ; rdfs:subClassOf kgt:Asset ; rdfs:label "Pump" ; rdfs:comment "Moves water." .
x:BoosterPump a owl:Class ; rdfs:subClassOf x:Pump ; rdfs:label "Booster" ; rdfs:comment "." .
kgt:feeds a owl:ObjectProperty ; kgt:dependencyDirection kgt:SupplierToConsumer ;
  rdfs:label "feeds" ; rdfs:comment "." .
x:pumpsWaterTo a owl:ObjectProperty ; rdfs:subPropertyOf kgt:feeds ;
  rdfs:label "p" ; rdfs:comment "." .
x:ratedFlow a owl:DatatypeProperty ; rdfs:range xsd:decimal ; rdfs:label "f" ; rdfs:comment "." .
"""


def vocabulary(extra: str = "") -> Vocabulary:
    return Vocabulary.from_graph(Graph().parse(data=ONTOLOGY + extra, format="turtle"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("feeds", "FEEDS"),
        ("hasPoint", "HAS_POINT"),
        ("dependsOn", "DEPENDS_ON"),
        ("suppliesChilledWater", "SUPPLIES_CHILLED_WATER"),
        ("partOf", "PART_OF"),
        ("hostsIT", "HOSTS_IT"),
    ],
)
def test_relationship_type_is_upper_snake(name: str, expected: str) -> None:
    assert relationship_type(name) == expected


def test_local_name_of_hash_and_slash_iris() -> None:
    assert local_name("https://w3id.org/kgtwin/core#feeds") == "feeds"
    assert local_name("http://qudt.org/vocab/unit/KiloW") == "KiloW"


def test_labels_include_every_superclass() -> None:
    vocab = vocabulary()
    labels = vocab.labels_for(["https://example.org/x#BoosterPump"])
    assert labels == ("Asset", "BoosterPump", "Pump")


def test_dependency_direction_is_inherited_by_subproperties() -> None:
    vocab = vocabulary()
    assert vocab.dependency_direction("https://example.org/x#pumpsWaterTo") == "SupplierToConsumer"
    assert vocab.properties["https://example.org/x#pumpsWaterTo"].rel_type == "PUMPS_WATER_TO"


def names(vocab: Vocabulary) -> dict[str, str]:
    return {iri: info.name for iri, info in [*vocab.classes.items(), *vocab.properties.items()]}


def test_a_shared_local_name_gets_the_prefix_of_each_foreign_term() -> None:
    vocab = vocabulary(
        "@prefix y: <https://example.org/y#> .\n"
        "@prefix z: <https://example.org/z#> .\n"
        "y:Pump a owl:Class . z:Pump a owl:Class . y:Asset a owl:Class .\n"
    )
    got = names(vocab)
    # kgtwin's own term keeps its name; terms of other namespaces sharing one get a prefix
    assert got["https://w3id.org/kgtwin/core#Asset"] == "Asset"
    assert got["https://example.org/y#Asset"] == "y_Asset"
    assert got["https://example.org/x#Pump"] == "x_Pump"
    assert got["https://example.org/y#Pump"] == "y_Pump"
    assert got["https://example.org/z#Pump"] == "z_Pump"
    assert vocab.labels_for(["https://example.org/x#BoosterPump"]) == (
        "Asset",
        "BoosterPump",
        "x_Pump",
    )


def test_names_do_not_depend_on_the_order_of_statements() -> None:
    prefix = "@prefix y: <https://example.org/y#> .\n"
    extra = [
        "y:Pump a owl:Class .\n",
        "y:feeds a owl:ObjectProperty .\n",
        "<https://example.org/q#Pump> a owl:Class .\n",
    ]
    assert names(vocabulary(prefix + "".join(extra))) == names(
        vocabulary(prefix + "".join(reversed(extra)))
    )


def test_a_reserved_property_name_gets_its_prefix() -> None:
    vocab = vocabulary("x:model a owl:DatatypeProperty . x:value a owl:DatatypeProperty .")
    assert vocab.properties["https://example.org/x#model"].name == "x_model"
    assert vocab.properties["https://example.org/x#value"].name == "x_value"


def test_a_local_name_that_cannot_be_a_label_is_made_one() -> None:
    vocab = vocabulary(
        "<https://example.org/x#Air-Handler> a owl:Class .\n"
        "<https://example.org/x#PM2.5_Sensor> a owl:Class .\n"
        "<https://example.org/x#9Lives> a owl:Class .\n"
    )
    got = names(vocab)
    assert got["https://example.org/x#Air-Handler"] == "Air_Handler"
    assert got["https://example.org/x#PM2.5_Sensor"] == "PM2_5_Sensor"
    assert got["https://example.org/x#9Lives"] == "x_9Lives"


@pytest.mark.parametrize("label", sorted(SYSTEM_LABELS))
def test_a_class_cannot_take_a_label_kgtwin_uses_for_itself(label: str) -> None:
    """Regression: a model class named ApiToken made twin nodes the token lookup matched,
    so a model author could mint an admin token. Now such a class is named with its
    prefix, never with the reserved label."""
    vocab = vocabulary(f'x:{label} a owl:Class ; rdfs:subClassOf kgt:Asset ; rdfs:label "t" .\n')
    assert vocab.classes[f"https://example.org/x#{label}"].name == f"x_{label}"
    assert label not in vocab.labels_for([f"https://example.org/x#{label}"])


@pytest.mark.parametrize("rel_type", sorted(SYSTEM_TYPES))
def test_a_relationship_cannot_take_a_type_kgtwin_uses_for_itself(rel_type: str) -> None:
    words = rel_type.lower().split("_")
    name = words[0] + "".join(w.title() for w in words[1:])  # SUBCLASS_OF -> subclassOf
    vocab = vocabulary(f'x:{name} a owl:ObjectProperty ; rdfs:label "t" .\n')
    assert vocab.properties[f"https://example.org/x#{name}"].rel_type == f"X_{rel_type}"


def test_two_names_giving_one_relationship_type_are_told_apart() -> None:
    vocab = vocabulary("x:hasPart a owl:ObjectProperty . x:has_part a owl:ObjectProperty .")
    types = {
        vocab.properties[f"https://example.org/x#{n}"].rel_type for n in ("hasPart", "has_part")
    }
    assert len(types) == 2
    assert "HAS_PART" in types


def test_alignments_give_engine_labels_and_meanings() -> None:
    vocab = vocabulary(
        "@prefix b: <https://example.org/b#> .\n"
        "kgt:hasPoint a owl:ObjectProperty . kgt:Point a owl:Class .\n"
        "b:Equipment a owl:Class . b:Fan a owl:Class ; rdfs:subClassOf b:Equipment .\n"
        "b:hasPoint a owl:ObjectProperty . b:feeds a owl:ObjectProperty .\n"
        "b:Equipment kgt:means kgt:Asset . b:hasPoint kgt:means kgt:hasPoint .\n"
        "b:feeds kgt:means kgt:feeds .\n"
    )
    assert vocab.aligned_labels(["https://example.org/b#Fan"]) == ("Asset",)
    assert vocab.labels_for(["https://example.org/b#Fan"]) == ("Equipment", "Fan")
    assert vocab.dependency_direction("https://example.org/b#feeds") == "SupplierToConsumer"
    assert vocab.properties["https://example.org/b#feeds"].rel_type == "B_FEEDS"
    assert vocab.engine_meaning("https://example.org/b#hasPoint") == {
        "https://w3id.org/kgtwin/core#hasPoint"
    }


def test_the_summary_counts_what_is_ignored_and_never_fetches_imports() -> None:
    vocab = vocabulary(
        "<https://example.org/x> a owl:Ontology ; owl:imports <https://example.org/remote> .\n"
        "x:Pump rdfs:subClassOf [ a owl:Restriction ; owl:onProperty kgt:feeds ;"
        " owl:someValuesFrom kgt:Asset ] ; owl:equivalentClass x:Pompe .\n"
    )
    line = vocab.summary()
    assert "1 OWL restrictions" in line
    assert "1 class equivalences" in line
    assert "never fetched: <https://example.org/remote>" in line


def test_an_inverse_alignment_reads_the_property_the_other_way_round() -> None:
    vocab = vocabulary(
        "@prefix b: <https://example.org/b#> .\n"
        "kgt:hasPoint a owl:ObjectProperty .\n"
        "b:isPointOf a owl:ObjectProperty . b:isFedBy a owl:ObjectProperty .\n"
        "b:isPointOf kgt:meansInverseOf kgt:hasPoint . b:isFedBy kgt:meansInverseOf kgt:feeds .\n"
    )
    assert vocab.engine_meaning_inverse("https://example.org/b#isPointOf") == {
        "https://w3id.org/kgtwin/core#hasPoint"
    }
    assert vocab.engine_meaning("https://example.org/b#isPointOf") == frozenset()
    assert vocab.dependency_direction("https://example.org/b#isFedBy") == "ConsumerToSupplier"


def test_two_terms_said_to_invert_each_other_end_the_search_for_a_direction() -> None:
    vocab = vocabulary(
        "kgt:x a owl:ObjectProperty . kgt:y a owl:ObjectProperty .\n"
        "kgt:x kgt:meansInverseOf kgt:y . kgt:y kgt:meansInverseOf kgt:x .\n"
    )
    assert vocab.dependency_direction("https://w3id.org/kgtwin/core#x") is None
