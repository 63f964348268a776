"""Each root field against the example site, with the answers the site's Turtle gives."""

from __future__ import annotations

from neo4j import Driver

from tests.server.dc1_expected import (
    ASSET,
    ASSETS,
    COOLS,
    DEPENDENCY_TYPES,
    DOWNSTREAM_OF_UPS_A1_DEPTH_1,
    FEED_A_TO_RACK_H1_R01,
    FEEDS_UPSTREAM_OF_RACK_H1_R01_DEPTH_2,
    K_OF_N_ASSETS,
    PDUS_FROM_150_BELOW_400,
    PUMPS,
    REDUNDANCY_POLICIES,
    SITE,
    UPS_A1_CLASSES,
    UPS_A1_FEEDS_OUT,
    UPS_A1_IN,
    UPS_A1_OUTPUT_POWER,
    UPS_A1_POINT_IDS,
    UPS_A1_PROPERTIES,
    UPS_A1_TO_WEB_01,
    UPS_IRI,
    UPS_RATED_CAPACITY,
    UPSTREAM_OF_WEB_01_DEPTH_1,
    WEB_01_FROM_UPS_A1,
)
from tests.server.schema.conftest import Api


def test_asset_by_id_has_classes_properties_with_units_points_and_relationships(
    api: Api,
) -> None:
    asset = api.data(ASSET, {"id": "ups-a1"})["asset"]
    assert asset["iri"] == SITE + "ups-a1"
    assert asset["label"] == "UPS A1"
    assert asset["model"] == "dc1"
    assert [c["name"] for c in asset["classes"]] == UPS_A1_CLASSES
    assert asset["classes"][0]["parents"] == ["ElectricalAsset"]
    props = {p["name"]: (p["value"], p["unit"]) for p in asset["properties"]}
    assert props == UPS_A1_PROPERTIES
    points = {p["id"]: p for p in asset["points"]}
    assert sorted(points) == UPS_A1_POINT_IDS
    power = points["ups-a1.output-power"]
    assert power == UPS_A1_OUTPUT_POWER
    assert asset["out"] == UPS_A1_FEEDS_OUT
    assert asset["in"] == UPS_A1_IN


def test_asset_by_iri_is_the_same_node(api: Api) -> None:
    asset = api.data("query ($iri: String) { asset(iri: $iri) { id } }", {"iri": SITE + "web-01"})
    assert asset == {"asset": {"id": "web-01"}}


def test_live_values_show_once_telemetry_has_written_them(api: Api, dc1: Driver) -> None:
    dc1.execute_query(
        "MATCH (p:Point {id: 'ups-a1.output-power'}) "
        "SET p.value = 97.5, p.observedAt = datetime('2025-01-02T03:04:05Z'), "
        "p.receivedAt = datetime('2025-01-02T03:04:06Z'), p.quality = 'good', p.stale = false"
    )
    try:
        point = api.data(
            '{ asset(id: "ups-a1") { points(first: 8) { id value unit observedAt receivedAt '
            "quality stale } } }"
        )["asset"]["points"][6]
    finally:
        dc1.execute_query(
            "MATCH (p:Point {id: 'ups-a1.output-power'}) "
            "REMOVE p.value, p.observedAt, p.receivedAt, p.quality, p.stale"
        )
    assert point == {
        "id": "ups-a1.output-power",
        "value": 97.5,
        "unit": "KiloW",
        "observedAt": "2025-01-02T03:04:05+00:00",
        "receivedAt": "2025-01-02T03:04:06+00:00",
        "quality": "good",
        "stale": False,
    }


def test_assets_of_a_class_include_subclasses(api: Api) -> None:
    page = api.data(ASSETS, {"class": "Pump", "first": 10})["assets"]
    assert [e["node"]["id"] for e in page["edges"]] == PUMPS
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


def test_assets_filtered_by_equality_and_ranges(api: Api) -> None:
    where = [{"property": "ratedCapacity", "gte": 150.0, "lt": 400.0}]
    page = api.data(ASSETS, {"class": "PDU", "where": where, "first": 20})["assets"]
    ids = [e["node"]["id"] for e in page["edges"]]
    assert ids == PDUS_FROM_150_BELOW_400
    where = [{"property": "redundancyPolicy", "eq": "k-of-n"}]
    page = api.data(ASSETS, {"class": "Asset", "where": where, "first": 20})["assets"]
    assert [e["node"]["id"] for e in page["edges"]] == K_OF_N_ASSETS
    assert page["totalCount"] == 8
    none = api.data(
        ASSETS,
        {"class": "UPS", "where": [{"property": "ratedCapacity", "gt": 400.0}], "first": 5},
    )["assets"]
    assert none == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


def test_downstream_follows_dependencies_with_depth_and_a_shortest_path(api: Api) -> None:
    reach = api.data(
        '{ downstream(id: "ups-a1", maxDepth: 1) { via maxDepth totalCount truncated '
        "items { depth path asset { id } } } }"
    )["downstream"]
    assert reach["via"] == DEPENDENCY_TYPES
    assert reach["totalCount"] == 2
    assert reach["truncated"] is False
    assert reach["items"] == DOWNSTREAM_OF_UPS_A1_DEPTH_1
    deeper = api.data(
        '{ downstream(id: "ups-a1", maxDepth: 3) { items { depth path asset { id } } } }'
    )["downstream"]["items"]
    web = [i for i in deeper if i["asset"]["id"] == "web-01"]
    assert web == [WEB_01_FROM_UPS_A1]


def test_upstream_walks_each_type_in_its_dependency_direction(api: Api) -> None:
    items = api.data(
        '{ upstream(id: "web-01", maxDepth: 1) { items { depth path asset { id } } } }'
    )["upstream"]["items"]
    assert items == UPSTREAM_OF_WEB_01_DEPTH_1
    only_feeds = api.data(
        '{ upstream(id: "rack-h1-r01", via: ["FEEDS"], maxDepth: 2) '
        "{ via items { depth asset { id } } } }"
    )["upstream"]
    assert only_feeds["via"] == ["FEEDS"]
    assert [(i["depth"], i["asset"]["id"]) for i in only_feeds["items"]] == (
        FEEDS_UPSTREAM_OF_RACK_H1_R01_DEPTH_2
    )


def test_downstream_first_bounds_the_items_not_the_count(api: Api) -> None:
    reach = api.data(
        '{ downstream(id: "ups-a1", maxDepth: 2, first: 3) { totalCount items { asset { id } } } }'
    )["downstream"]
    assert len(reach["items"]) == 3
    assert reach["totalCount"] > 3


def test_paths_between_two_assets_shortest_first(api: Api) -> None:
    paths = api.data(
        '{ paths(from: "utility-feed-a", to: "rack-h1-r01", maxDepth: 6, first: 5) '
        "{ length ids types assets { id } } }"
    )["paths"]
    assert paths == [
        {
            "length": 5,
            "ids": FEED_A_TO_RACK_H1_R01,
            "types": ["FEEDS"] * 5,
            "assets": [{"id": i} for i in FEED_A_TO_RACK_H1_R01],
        }
    ]
    # one step short of the only path: nothing
    assert api.data(
        '{ paths(from: "utility-feed-a", to: "rack-h1-r01", maxDepth: 4) { ids } }'
    ) == {"paths": []}


def test_paths_to_a_service_come_through_both_power_sides(api: Api) -> None:
    paths = api.data(
        '{ paths(from: "ups-a1", to: "web-01", maxDepth: 3, first: 10) { ids types } }'
    )["paths"]
    assert paths == [UPS_A1_TO_WEB_01]


def test_ontology_lists_classes_with_shape_properties_and_relationship_types(api: Api) -> None:
    ontology = api.data(
        """{ ontology {
            classes { name }
            class(name: "UPS") { iri label parents
              properties { name datatype unit unitProperty minCount maxCount values } }
            relationshipTypes { type dependencyDirection parents }
            properties { name }
        } }"""
    )["ontology"]
    names = [c["name"] for c in ontology["classes"]]
    assert {"Asset", "UPS", "Pump", "ChilledWaterPump", "Point", "PowerSensor"} <= set(names)
    ups = ontology["class"]
    assert ups["iri"] == UPS_IRI
    assert ups["parents"] == ["ElectricalAsset"]
    props = {p["name"]: p for p in ups["properties"]}
    assert props["ratedCapacity"] == UPS_RATED_CAPACITY
    assert props["redundancyPolicy"]["values"] == REDUNDANCY_POLICIES
    types = {r["type"]: r for r in ontology["relationshipTypes"]}
    assert types["FEEDS"]["dependencyDirection"] == "SupplierToConsumer"
    assert types["DEPENDS_ON"]["dependencyDirection"] == "ConsumerToSupplier"
    assert types["COOLS"] == COOLS
    assert types["HAS_POINT"]["dependencyDirection"] is None
    assert {"ratedCapacity", "mqttTopic", "id", "label"} <= {
        p["name"] for p in ontology["properties"]
    }
