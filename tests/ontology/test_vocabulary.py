from __future__ import annotations

import pytest
from rdflib import Graph

from kgtwin.graph.labels import SYSTEM_LABELS, SYSTEM_TYPES
from kgtwin.ontology.errors import VocabularyError
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


def test_two_classes_with_one_local_name_are_refused() -> None:
    with pytest.raises(VocabularyError, match="share the local name 'Pump'"):
        vocabulary("<https://example.org/y#Pump> a owl:Class .")


def test_reserved_property_name_is_refused() -> None:
    with pytest.raises(VocabularyError, match="reserved"):
        vocabulary("x:model a owl:DatatypeProperty .")


def test_class_name_that_cannot_be_a_label_is_refused() -> None:
    with pytest.raises(VocabularyError, match="cannot be a Neo4j label"):
        vocabulary("<https://example.org/x#Air-Handler> a owl:Class .")


@pytest.mark.parametrize("label", sorted(SYSTEM_LABELS))
def test_a_class_cannot_take_a_label_kgtwin_uses_for_itself(label: str) -> None:
    """Regression: a model class named ApiToken made twin nodes the token lookup matched,
    so a model author could mint an admin token."""
    with pytest.raises(VocabularyError, match=f"its label '{label}' is reserved by kgtwin"):
        vocabulary(f'x:{label} a owl:Class ; rdfs:subClassOf kgt:Asset ; rdfs:label "t" .\n')


@pytest.mark.parametrize("rel_type", sorted(SYSTEM_TYPES))
def test_a_relationship_cannot_take_a_type_kgtwin_uses_for_itself(rel_type: str) -> None:
    words = rel_type.lower().split("_")
    name = words[0] + "".join(w.title() for w in words[1:])  # SUBCLASS_OF -> subclassOf
    with pytest.raises(VocabularyError, match=f"relationship type '{rel_type}' is reserved"):
        vocabulary(f'x:{name} a owl:ObjectProperty ; rdfs:label "t" .\n')
