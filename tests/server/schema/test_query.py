"""Each root field against the example site, with the answers the site's Turtle gives."""

from __future__ import annotations

from neo4j import Driver

from tests.server.schema.conftest import Api

SITE = "https://w3id.org/kgtwin/site/dc1#"

ASSET = """
query ($id: String, $iri: String) {
  asset(id: $id, iri: $iri) {
    id iri label model
    classes { name parents }
    properties { name value unit }
    points { id unit datatype mqttTopic expectedInterval minValue maxValue
             value observedAt receivedAt quality stale classes { name } }
    out: relationships(direction: OUT, types: ["FEEDS"]) { type direction other { id } }
    in: relationships(direction: IN) { type direction other { id } }
  }
}
"""


def test_asset_by_id_has_classes_properties_with_units_points_and_relationships(
    api: Api,
) -> None:
    asset = api.data(ASSET, {"id": "ups-a1"})["asset"]
    assert asset["iri"] == SITE + "ups-a1"
    assert asset["label"] == "UPS A1"
    assert asset["model"] == "dc1"
    assert [c["name"] for c in asset["classes"]] == ["UPS", "ElectricalAsset", "Asset"]
    assert asset["classes"][0]["parents"] == ["ElectricalAsset"]
    props = {p["name"]: (p["value"], p["unit"]) for p in asset["properties"]}
    assert props == {
        "capacityUnit": ("KiloW", None),
        "designLoad": (108.8, "KiloW"),
        "manufacturer": ("Kestrel Power", None),
        "modelNumber": ("KP-400-DC", None),
        "mtbfHours": (100000.0, None),
        "mttrHours": (8.0, None),
        "ratedCapacity": (400.0, "KiloW"),
        "redundancyPolicy": ("all", None),
        "serialNumber": ("KP4-11-20931", None),
    }
    points = {p["id"]: p for p in asset["points"]}
    assert sorted(points) == [
        "ups-a1.battery-soc",
        "ups-a1.battery-temperature",
        "ups-a1.input-voltage",
        "ups-a1.on-battery",
        "ups-a1.output-energy",
        "ups-a1.output-power",
        "ups-a1.output-voltage",
    ]
    power = points["ups-a1.output-power"]
    assert power == {
        "id": "ups-a1.output-power",
        "unit": "KiloW",
        "datatype": "double",
        "mqttTopic": "dc1/ups-a1/output-power",
        "expectedInterval": 5.0,
        "minValue": 0.0,
        "maxValue": 440.0,
        # no telemetry has arrived: the live fields are null
        "value": None,
        "observedAt": None,
        "receivedAt": None,
        "quality": None,
        "stale": None,
        "classes": [{"name": "PowerSensor"}, {"name": "Point"}],
    }
    assert asset["out"] == [
        {"type": "FEEDS", "direction": "OUT", "other": {"id": "pdu-h1-a1"}},
        {"type": "FEEDS", "direction": "OUT", "other": {"id": "pdu-h1-a2"}},
    ]
    assert asset["in"] == [
        {"type": "FEEDS", "direction": "IN", "other": {"id": "switchgear-a"}},
        {"type": "HAS_PART", "direction": "IN", "other": {"id": "power-path-a"}},
    ]


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
            '{ asset(id: "ups-a1") { points(first: 7) { id value unit observedAt receivedAt '
            "quality stale } } }"
        )["asset"]["points"][5]
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


ASSETS = """
query ($class: String!, $where: [PropertyFilterInput!], $first: Int!, $after: String) {
  assets(class: $class, where: $where, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id } }
  }
}
"""


def test_assets_of_a_class_include_subclasses(api: Api) -> None:
    # dc:ChilledWaterPump is a subclass of dc:Pump
    page = api.data(ASSETS, {"class": "Pump", "first": 10})["assets"]
    assert [e["node"]["id"] for e in page["edges"]] == ["chw-pump-1", "chw-pump-2", "chw-pump-3"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


def test_assets_filtered_by_equality_and_ranges(api: Api) -> None:
    where = [{"property": "ratedCapacity", "gte": 150.0, "lt": 400.0}]
    page = api.data(ASSETS, {"class": "PDU", "where": where, "first": 20})["assets"]
    ids = [e["node"]["id"] for e in page["edges"]]
    assert ids == [f"pdu-h{hall}-{side}" for hall in (1, 2) for side in ("a1", "a2", "b1", "b2")]
    where = [{"property": "redundancyPolicy", "eq": "k-of-n"}]
    page = api.data(ASSETS, {"class": "Asset", "where": where, "first": 20})["assets"]
    assert [e["node"]["id"] for e in page["edges"]] == [
        "chw-header",
        "chw-loop",
        "cooling-zone-h1",
        "cooling-zone-h2",
        "svc-cache",
        "svc-queue",
        "svc-storage",
        "svc-web",
    ]
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
    assert reach["via"] == ["COOLS", "DEPENDS_ON", "FEEDS", "HOSTS", "SUPPLIES_CHILLED_WATER"]
    assert reach["totalCount"] == 2
    assert reach["truncated"] is False
    assert reach["items"] == [
        {"depth": 1, "path": ["ups-a1", "pdu-h1-a1"], "asset": {"id": "pdu-h1-a1"}},
        {"depth": 1, "path": ["ups-a1", "pdu-h1-a2"], "asset": {"id": "pdu-h1-a2"}},
    ]
    deeper = api.data(
        '{ downstream(id: "ups-a1", maxDepth: 3) { items { depth path asset { id } } } }'
    )["downstream"]["items"]
    web = [i for i in deeper if i["asset"]["id"] == "web-01"]
    # web-01 runs in rack-h1-r03 (fed by pdu-h1-a1): hosts is supplier-to-consumer
    assert web == [
        {
            "depth": 3,
            "path": ["ups-a1", "pdu-h1-a1", "rack-h1-r03", "web-01"],
            "asset": {"id": "web-01"},
        }
    ]


def test_upstream_walks_each_type_in_its_dependency_direction(api: Api) -> None:
    # web-01 is hosted by rack-h1-r03 (an edge into it) and depends on cooling-zone-h1
    # (an edge out of it): both are its suppliers
    items = api.data(
        '{ upstream(id: "web-01", maxDepth: 1) { items { depth path asset { id } } } }'
    )["upstream"]["items"]
    assert items == [
        {"depth": 1, "path": ["web-01", "cooling-zone-h1"], "asset": {"id": "cooling-zone-h1"}},
        {"depth": 1, "path": ["web-01", "rack-h1-r03"], "asset": {"id": "rack-h1-r03"}},
    ]
    only_feeds = api.data(
        '{ upstream(id: "rack-h1-r01", via: ["FEEDS"], maxDepth: 2) '
        "{ via items { depth asset { id } } } }"
    )["upstream"]
    assert only_feeds["via"] == ["FEEDS"]
    assert [(i["depth"], i["asset"]["id"]) for i in only_feeds["items"]] == [
        (1, "pdu-h1-a1"),
        (1, "pdu-h1-b1"),
        (2, "ups-a1"),
        (2, "ups-b1"),
    ]


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
            "ids": [
                "utility-feed-a",
                "transformer-a",
                "switchgear-a",
                "ups-a1",
                "pdu-h1-a1",
                "rack-h1-r01",
            ],
            "types": ["FEEDS"] * 5,
            "assets": [
                {"id": i}
                for i in [
                    "utility-feed-a",
                    "transformer-a",
                    "switchgear-a",
                    "ups-a1",
                    "pdu-h1-a1",
                    "rack-h1-r01",
                ]
            ],
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
    assert paths == [
        {
            "ids": ["ups-a1", "pdu-h1-a1", "rack-h1-r03", "web-01"],
            "types": ["FEEDS", "FEEDS", "HOSTS"],
        }
    ]


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
    assert ups["iri"] == "https://w3id.org/kgtwin/datacentre#UPS"
    assert ups["parents"] == ["ElectricalAsset"]
    props = {p["name"]: p for p in ups["properties"]}
    assert props["ratedCapacity"] == {
        "name": "ratedCapacity",
        "datatype": "decimal",
        "unit": None,
        "unitProperty": "capacityUnit",
        "minCount": 1,
        "maxCount": 1,
        "values": [],
    }
    assert props["redundancyPolicy"]["values"] == ["all", "any", "k-of-n"]
    types = {r["type"]: r for r in ontology["relationshipTypes"]}
    assert types["FEEDS"]["dependencyDirection"] == "SupplierToConsumer"
    assert types["DEPENDS_ON"]["dependencyDirection"] == "ConsumerToSupplier"
    assert types["COOLS"] == {
        "type": "COOLS",
        "dependencyDirection": "SupplierToConsumer",
        "parents": ["FEEDS"],
    }
    assert types["HAS_POINT"]["dependencyDirection"] is None
    assert {"ratedCapacity", "mqttTopic", "id", "label"} <= {
        p["name"] for p in ontology["properties"]
    }
