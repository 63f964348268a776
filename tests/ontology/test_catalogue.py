"""The class catalogue: what each class may carry, from the ontology and its shapes."""

from __future__ import annotations

import pytest

from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.validate import Ontology


@pytest.fixture(scope="module")
def catalogue(ontology: Ontology) -> Catalogue:
    return Catalogue.build(ontology.graph, ontology.vocabulary)


def test_a_class_gets_the_properties_of_its_superclasses_shapes(catalogue: Catalogue) -> None:
    pump = catalogue.classes["ChilledWaterPump"]
    assert pump.parents == ("Pump",)
    names = [p.name for p in pump.properties]
    assert names == sorted(names)
    # from kgt:Asset's shapes, three levels up
    assert {"ratedCapacity", "redundancyPolicy", "mtbfHours", "feeds", "label"} <= set(names)
    assert "mqttTopic" not in names  # a point's property


def test_constraints_of_several_shapes_are_merged(catalogue: Catalogue) -> None:
    point = {p.name: p for p in catalogue.classes["Point"].properties}
    power = {p.name: p for p in catalogue.classes["PowerSensor"].properties}
    assert point["unit"].values == ()
    assert point["unit"].min_count == 1
    assert point["unit"].max_count == 1
    assert point["unit"].class_name == "Unit"
    # dc:PowerSensor's shape narrows the units; kgt:Point's shape still requires one
    assert power["unit"].values == ("W", "KiloW", "MegaW", "KiloV-A")
    assert power["unit"].min_count == 1
    assert point["datatype"].values == ("double", "integer", "boolean", "string")
    assert point["expectedInterval"].datatype == "decimal"
    assert point["expectedInterval"].unit == "SEC"
    assert point["label"].datatype == "string"


def test_capacities_take_their_unit_from_the_node(catalogue: Catalogue) -> None:
    rated = catalogue.literals["ratedCapacity"]
    assert rated.unit_property == "capacityUnit"
    assert rated.numeric
    assert catalogue.unit_of("ratedCapacity", {"capacityUnit": "KiloW"}) == "KiloW"
    assert catalogue.unit_of("ratedCapacity", {}) is None
    assert catalogue.unit_of("expectedInterval", {}) == "SEC"
    assert catalogue.unit_of("manufacturer", {}) is None
    assert catalogue.unit_of("notAProperty", {}) is None


def test_literals_are_the_keys_a_filter_may_use(catalogue: Catalogue) -> None:
    names = set(catalogue.literals)
    assert {"id", "label", "comment", "ratedCapacity", "mqttTopic", "unit", "capacityUnit"} <= names
    # relationships are not node properties
    assert not {"feeds", "hasPoint", "locatedIn"} & names
    assert not catalogue.literals["manufacturer"].numeric


def test_relationship_types_with_dependency_direction(catalogue: Catalogue) -> None:
    cools = catalogue.relationships["COOLS"]
    assert cools.direction == "SupplierToConsumer"  # inherited from kgt:feeds
    assert cools.parents == ("FEEDS",)
    assert cools.domain == ("CRAH",)
    assert catalogue.relationships["DEPENDS_ON"].direction == "ConsumerToSupplier"
    assert catalogue.relationships["LOCATED_IN"].direction is None
    assert "UNIT" not in catalogue.relationships  # a unit is a property value, not a link
