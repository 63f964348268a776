"""The ontology's closed set of classes and relationship types, read from the graph."""

from __future__ import annotations

import pytest
from neo4j import Driver

from kgtwin.graph.errors import UnknownClass, UnknownRelationship
from kgtwin.graph.ontology_read import Terms, read_terms
from kgtwin.graph.reader import Reader
from kgtwin.graph.schema import ensure_schema
from kgtwin.graph.sync import ONTOLOGY, sync_model
from kgtwin.ontology.mapping import ONTOLOGY_MODEL, map_ontology
from kgtwin.ontology.validate import Ontology


@pytest.fixture
def terms(driver: Driver, ontology: Ontology) -> Terms:
    ensure_schema(driver)
    sync_model(driver, ONTOLOGY_MODEL, map_ontology(ontology.vocabulary), scope=ONTOLOGY)
    return read_terms(Reader(driver))


def test_classes_and_relationship_types_come_from_the_graph(terms: Terms) -> None:
    assert terms.classes["ChilledWaterPump"].parents == ("Pump",)
    assert terms.classes["UPS"].iri == "https://w3id.org/kgtwin/datacentre#UPS"
    assert terms.relationships["COOLS"].parents == ("FEEDS",)
    assert terms.dependency_types == (
        "COOLS",
        "DEPENDS_ON",
        "FEEDS",
        "HOSTS",
        "SUPPLIES_CHILLED_WATER",
    )
    assert terms.reversed_types(["FEEDS", "DEPENDS_ON", "HAS_PART"]) == {"DEPENDS_ON"}


def test_most_specific_class_first(terms: Terms) -> None:
    labels = ["Asset", "Pump", "Twin", "MechanicalAsset", "ChilledWaterPump"]
    assert [c.name for c in terms.most_specific_first(labels)] == [
        "ChilledWaterPump",
        "Pump",
        "MechanicalAsset",
        "Asset",
    ]


def test_unknown_names_are_refused_with_the_choices(terms: Terms) -> None:
    with pytest.raises(UnknownClass, match=r"^unknown class 'Chiler' \(did you mean 'Chiller'"):
        terms.check_class("Chiler")
    with pytest.raises(UnknownClass, match="valid choices: ATS, Asset, Building, "):
        terms.check_class("Nothing")
    assert terms.check_relationships(["FEEDS", "HOSTS", "FEEDS"]) == ("FEEDS", "HOSTS")
    with pytest.raises(UnknownRelationship, match=r"valid choices: .*DEPENDS_ON, FEEDS, "):
        terms.check_relationships(["FEEDS", "feeds"])


def test_properties_whose_values_are_units_are_not_edges(terms: Terms) -> None:
    """kgt:unit links a point to a QUDT unit individual: the graph holds it as the node
    property ``unit``, so UNIT is neither a walkable type nor offered as a choice."""
    assert terms.relationships["UNIT"].as_property
    assert not terms.relationships["FEEDS"].as_property
    with pytest.raises(UnknownRelationship, match="stored as the node property 'unit'") as caught:
        terms.check_relationships(["UNIT"])
    choices = str(caught.value).split("valid choices: ")[1].split(", ")
    assert "FEEDS" in choices
    assert not {
        "UNIT",
        "CAPACITY_UNIT",
        "QUANTITY_KIND",
        "HAS_QUANTITY_KIND",
        "HAS_DIMENSION_VECTOR",
    } & set(choices)


def test_an_empty_graph_says_to_load_a_model_first(driver: Driver) -> None:
    with pytest.raises(UnknownClass, match="the graph holds no ontology yet"):
        read_terms(Reader(driver)).check_class("Pump")
