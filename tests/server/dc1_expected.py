"""Questions about the example site (``ontology/sites/dc1.ttl``) and the answers its Turtle
gives, shared by the in-process schema tests (``schema/test_query``) and the end-to-end
ones over HTTP (``test_http_queries``), so both hold the server to the same answers."""

from __future__ import annotations

from typing import Any

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

ASSETS = """
query ($class: String!, $where: [PropertyFilterInput!], $first: Int!, $after: String) {
  assets(class: $class, where: $where, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id } }
  }
}
"""

# --- ups-a1: a UPS on switchgear A feeding the two A-side PDUs of hall 1 ----------------

UPS_A1_CLASSES = ["UPS", "ElectricalAsset", "Asset"]
# name -> (value, unit): a capacity's unit is the node's capacityUnit
UPS_A1_PROPERTIES: dict[str, tuple[Any, str | None]] = {
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
UPS_A1_POINT_IDS = [  # in id order
    "ups-a1.battery-soc",
    "ups-a1.battery-temperature",
    "ups-a1.fault",
    "ups-a1.input-voltage",
    "ups-a1.on-battery",
    "ups-a1.output-energy",
    "ups-a1.output-power",
    "ups-a1.output-voltage",
]
UPS_A1_OUTPUT_POWER: dict[str, Any] = {
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
UPS_A1_FEEDS_OUT = [
    {"type": "FEEDS", "direction": "OUT", "other": {"id": "pdu-h1-a1"}},
    {"type": "FEEDS", "direction": "OUT", "other": {"id": "pdu-h1-a2"}},
]
UPS_A1_IN = [
    {"type": "FEEDS", "direction": "IN", "other": {"id": "switchgear-a"}},
    {"type": "HAS_PART", "direction": "IN", "other": {"id": "power-path-a"}},
]

# --- assets: classes with subclasses, filters --------------------------------------------

PUMPS = ["chw-pump-1", "chw-pump-2", "chw-pump-3"]  # dc:ChilledWaterPump is a dc:Pump
PDUS_FROM_150_BELOW_400 = [
    f"pdu-h{hall}-{side}" for hall in (1, 2) for side in ("a1", "a2", "b1", "b2")
]
K_OF_N_ASSETS = [
    "chw-header",
    "chw-loop",
    "cooling-zone-h1",
    "cooling-zone-h2",
    "svc-cache",
    "svc-queue",
    "svc-storage",
    "svc-web",
]
# the 25 instances of dc:ElectricalAsset's eight subclasses, in id order
ELECTRICAL_ASSETS = [
    "ats-mech-h1",
    "ats-mech-h2",
    "ats-mech-plant",
    "generator-a",
    "generator-b",
    "mech-board-a",
    "mech-board-b",
    *(f"pdu-h{hall}-{side}" for hall in (1, 2) for side in ("a1", "a2", "b1", "b2")),
    "switchgear-a",
    "switchgear-b",
    "transformer-a",
    "transformer-b",
    "ups-a1",
    "ups-a2",
    "ups-b1",
    "ups-b2",
    "utility-feed-a",
    "utility-feed-b",
]
RACKS = sorted(f"rack-h{hall}-r{n:02d}" for hall in (1, 2) for n in range(1, 41))

# --- walks and paths ---------------------------------------------------------------------

DEPENDENCY_TYPES = ["COOLS", "DEPENDS_ON", "FEEDS", "HOSTS", "SUPPLIES_CHILLED_WATER"]
DOWNSTREAM_OF_UPS_A1_DEPTH_1 = [
    {"depth": 1, "path": ["ups-a1", "pdu-h1-a1"], "asset": {"id": "pdu-h1-a1"}},
    {"depth": 1, "path": ["ups-a1", "pdu-h1-a2"], "asset": {"id": "pdu-h1-a2"}},
]
# web-01 runs in rack-h1-r03 (fed by pdu-h1-a1): hosts is supplier-to-consumer
WEB_01_FROM_UPS_A1 = {
    "depth": 3,
    "path": ["ups-a1", "pdu-h1-a1", "rack-h1-r03", "web-01"],
    "asset": {"id": "web-01"},
}
# web-01 is hosted by rack-h1-r03 (an edge into it) and depends on cooling-zone-h1 (an
# edge out of it): both are its suppliers
UPSTREAM_OF_WEB_01_DEPTH_1 = [
    {"depth": 1, "path": ["web-01", "cooling-zone-h1"], "asset": {"id": "cooling-zone-h1"}},
    {"depth": 1, "path": ["web-01", "rack-h1-r03"], "asset": {"id": "rack-h1-r03"}},
]
FEEDS_UPSTREAM_OF_RACK_H1_R01_DEPTH_2 = [
    (1, "pdu-h1-a1"),
    (1, "pdu-h1-b1"),
    (2, "ups-a1"),
    (2, "ups-b1"),
]
# the only path within 6 steps; none within 4
FEED_A_TO_RACK_H1_R01 = [
    "utility-feed-a",
    "transformer-a",
    "switchgear-a",
    "ups-a1",
    "pdu-h1-a1",
    "rack-h1-r01",
]
UPS_A1_TO_WEB_01 = {
    "ids": ["ups-a1", "pdu-h1-a1", "rack-h1-r03", "web-01"],
    "types": ["FEEDS", "FEEDS", "HOSTS"],
}

# --- the ontology --------------------------------------------------------------------------

UPS_IRI = "https://w3id.org/kgtwin/datacentre#UPS"
UPS_RATED_CAPACITY: dict[str, Any] = {
    "name": "ratedCapacity",
    "datatype": "decimal",
    "unit": None,
    "unitProperty": "capacityUnit",
    "minCount": 1,
    "maxCount": 1,
    "values": [],
}
REDUNDANCY_POLICIES = ["all", "any", "k-of-n"]
COOLS = {"type": "COOLS", "dependencyDirection": "SupplierToConsumer", "parents": ["FEEDS"]}
