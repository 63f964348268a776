"""What-if through the GraphQL schema against the example site in the real Neo4j: failure
propagation with explanations, degraded assets, relationship failures, capacity cascades
(override and live telemetry loads), single points of failure, Monte Carlo availability,
saved scenarios, and the errors of each.

In dc1 each side's switchgear runs on its utility feed or its standby generator ("any"), so
losing utility feed A alone only takes down transformer A: side A's supply is lost when
generator A fails too. The issue's scenarios ("fail feed A, every rack stays up on feed B")
are therefore run with both.
"""

from __future__ import annotations

from typing import Any

import pytest
from neo4j import Driver

from kgtwin.server.auth import Principal, Role
from kgtwin.server.graph_cache import GraphCache
from tests.server.schema.conftest import Api, LiveWriter

SIDE_A = ["utility-feed-a", "generator-a"]
RACKS_H1 = [f"rack-h1-r{i:02d}" for i in range(1, 41)]
RACKS_H2 = [f"rack-h2-r{i:02d}" for i in range(1, 41)]

WHAT_IF = """
query ($fail: [String!]!, $rels: [RelationshipInput!], $mode: WhatIfMode! = TOPOLOGY,
       $loads: [LoadInput!], $class: String) {
  whatIf(fail: $fail, failRelationships: $rels, mode: $mode, loads: $loads) {
    modelVersion mode failed failedRelationships impactedCount degradedCount summary
    impacted(first: 100, class: $class) {
      id depth path rootCause policy required suppliers lostSuppliers explanation
    }
    degraded(first: 100) { id policy required suppliers working spare lostSuppliers }
    trips { order round id load capacity unit sources explanation }
    loads(first: 100) { id load ownLoad capacity unit source point }
  }
}
"""


class WhatIf:
    def __init__(self, api: Api, cache: GraphCache) -> None:
        self.api, self.cache = api, cache

    def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.api.data(query, variables, cache=self.cache, **kw)

    def code(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> str:
        return self.api.code(query, variables, cache=self.cache, **kw)

    def run(self, fail: list[str], **variables: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.data(WHAT_IF, {"fail": fail, **variables})["whatIf"]
        return result


@pytest.fixture
def twin(api: Api, cache: GraphCache) -> WhatIf:
    return WhatIf(api, cache)


def hosted_by(dc1: Driver, racks: list[str]) -> set[str]:
    records, _, _ = dc1.execute_query(
        "MATCH (r:Rack)-[:HOSTS]->(s) WHERE r.id IN $racks RETURN s.id AS id", racks=racks
    )
    return {r["id"] for r in records}


def upstream_ids(twin: WhatIf, asset: str) -> list[str]:
    query = "query ($id: String) { upstream(id: $id) { totalCount items { id } } }"
    upstream = twin.data(query, {"id": asset})["upstream"]
    assert upstream["totalCount"] == len(upstream["items"])  # all of them, on one page
    return [i["id"] for i in upstream["items"]]


# -- propagation ------------------------------------------------------------------------


def test_feed_a_alone_is_covered_by_generator_a(twin: WhatIf) -> None:
    result = twin.run(["utility-feed-a"])
    assert [i["id"] for i in result["impacted"]] == ["transformer-a"]
    (switchgear,) = result["degraded"]
    assert switchgear == {
        "id": "switchgear-a",
        "policy": "any",
        "required": 1,
        "suppliers": 2,
        "working": 1,
        "spare": 0,
        "lostSuppliers": ["transformer-a"],
    }


def test_side_a_lost_every_rack_stays_up_on_side_b_degraded(twin: WhatIf) -> None:
    result = twin.run(SIDE_A)
    impacted = {i["id"] for i in result["impacted"]}
    assert not impacted & set(RACKS_H1 + RACKS_H2)
    assert {"switchgear-a", "ups-a1", "ups-a2", "pdu-h1-a1", "pdu-h2-a2"} <= impacted
    racks = {d["id"]: d for d in result["degraded"] if d["id"].startswith("rack-")}
    assert sorted(racks) == RACKS_H1 + RACKS_H2
    for rack in racks.values():
        assert (rack["working"], rack["spare"], rack["policy"]) == (1, 0, "any")
        (lost,) = rack["lostSuppliers"]
        assert "-a" in lost.removeprefix("pdu-h1").removeprefix("pdu-h2")  # the A-side PDU
    for item in result["impacted"]:
        assert item["rootCause"] == "FAILED_ASSET"
        assert item["path"][0] in SIDE_A
        assert item["path"][-1] == item["id"]
        assert item["depth"] == len(item["path"]) - 1


def test_side_a_and_ups_b1_take_down_the_racks_behind_b1_and_their_services(
    twin: WhatIf, dc1: Driver
) -> None:
    result = twin.run([*SIDE_A, "ups-b1"])
    impacted = {i["id"]: i for i in result["impacted"]}
    assert set(RACKS_H1) <= set(impacted)  # hall 1's B PDUs hang off UPS B1
    assert not set(RACKS_H2) & set(impacted)
    rack = impacted["rack-h1-r01"]
    assert rack["lostSuppliers"] == ["pdu-h1-a1", "pdu-h1-b1"]
    assert rack["path"][0] in [*SIDE_A, "ups-b1"]
    assert "rack-h1-r01 needs 1 of its 2 supplier(s) (any)" in rack["explanation"]
    hosted = hosted_by(dc1, RACKS_H1)
    assert hosted
    # every service instance on a hall-1 rack is impacted, each with its path through a rack
    services = {i["id"]: i for i in result["impacted"] if i["id"] in hosted}
    assert set(services) == hosted
    for service in services.values():
        assert any(step.startswith("rack-h1-") for step in service["path"])
    web = twin.run([*SIDE_A, "ups-b1"], **{"class": "ITService"})["impacted"]
    assert {i["id"] for i in web} >= hosted
    assert all(not i["id"].startswith("rack-") for i in web)


def test_paths_are_chains_of_real_dependencies(twin: WhatIf, dc1: Driver) -> None:
    result = twin.run([*SIDE_A, "ups-b1"])
    records, _, _ = dc1.execute_query(
        "MATCH (a:Twin)-[r:FEEDS|HOSTS|COOLS|SUPPLIES_CHILLED_WATER]->(b:Twin) "
        "RETURN a.id AS s, b.id AS c UNION "
        "MATCH (b:Twin)-[:DEPENDS_ON]->(a:Twin) RETURN a.id AS s, b.id AS c"
    )
    edges = {(r["s"], r["c"]) for r in records}
    for item in result["impacted"]:
        for step in zip(item["path"], item["path"][1:], strict=False):
            assert step in edges, (item["id"], step)


def test_failed_relationships_cut_supply_and_explain_it(twin: WhatIf) -> None:
    one = [{"from": "pdu-h1-a1", "to": "rack-h1-r01", "type": "FEEDS"}]
    result = twin.run([], rels=one)
    assert result["failedRelationships"] == ["pdu-h1-a1 -> rack-h1-r01"]
    assert result["impacted"] == []
    assert [d["id"] for d in result["degraded"]] == ["rack-h1-r01"]
    both = [*one, {"from": "pdu-h1-b1", "to": "rack-h1-r01"}]
    rack = twin.run([], rels=both)["impacted"][0]
    assert rack["id"] == "rack-h1-r01"
    assert rack["rootCause"] == "FAILED_RELATIONSHIP"
    assert rack["path"][-1] == "rack-h1-r01"
    assert rack["path"][0].startswith("pdu-h1-")


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"fail": ["no-such-asset"]}, "NOT_FOUND"),
        ({"fail": []}, "BAD_USER_INPUT"),
        (
            {"fail": [], "rels": [{"from": "ups-a1", "to": "rack-h1-r01"}]},
            "NOT_FOUND",
        ),
        (
            {
                "fail": [],
                "rels": [{"from": "rack-h1-r01", "to": "rack-h1-r02", "type": "LOCATED_IN"}],
            },
            "BAD_USER_INPUT",
        ),
        ({"fail": [], "rels": [{"from": "a", "to": "b", "type": "NOT_A_TYPE"}]}, "NOT_FOUND"),
        # regression: an empty type was ignored (any relationship between the two failed)
        (
            {"fail": [], "rels": [{"from": "pdu-h1-a1", "to": "rack-h1-r01", "type": " "}]},
            "BAD_USER_INPUT",
        ),
        (
            {"fail": ["ups-a1"], "loads": [{"asset": "ups-a1", "value": -1}], "mode": "CAPACITY"},
            "BAD_USER_INPUT",
        ),
    ],
)
def test_bad_what_if_arguments_get_a_clear_error(
    twin: WhatIf, variables: dict[str, Any], code: str
) -> None:
    assert twin.code(WHAT_IF, variables) == code


def test_before_the_snapshot_is_built_the_answer_is_not_ready(api: Api) -> None:
    assert api.code(WHAT_IF, {"fail": ["ups-a1"]}, cache=GraphCache()) == "NOT_READY"


# -- capacity ---------------------------------------------------------------------------


def test_capacity_cascade_trips_an_overloaded_peer_and_continues(twin: WhatIf) -> None:
    loads = [{"asset": "pdu-h1-a1", "value": 100.0}, {"asset": "pdu-h1-b1", "value": 100.0}]
    result = twin.run(["pdu-h1-a1"], mode="CAPACITY", loads=loads)
    first, *_ = result["trips"]
    assert first == {
        "order": 1,
        "round": 1,
        "id": "pdu-h1-b1",
        "load": 200.0,
        "capacity": 150.0,
        "unit": "KiloW",
        "sources": ["pdu-h1-a1"],
        "explanation": "pdu-h1-b1 carried 200 KiloW against a rated 150 after load from "
        "pdu-h1-a1 reached it",
    }
    impacted = {i["id"]: i for i in result["impacted"]}
    assert impacted["pdu-h1-b1"]["rootCause"] == "TRIPPED"
    # with both of its PDUs gone, rack r01 goes down, explained from the tripped PDU
    assert impacted["rack-h1-r01"]["rootCause"] in {"TRIPPED", "FAILED_ASSET"}
    assert set(impacted["rack-h1-r01"]["lostSuppliers"]) == {"pdu-h1-a1", "pdu-h1-b1"}
    topology = twin.run(["pdu-h1-a1"])
    assert "rack-h1-r01" not in {i["id"] for i in topology["impacted"]}
    assert topology["trips"] == []
    assert topology["loads"] == []


def test_capacity_moves_load_in_proportion_and_reports_its_sources(twin: WhatIf) -> None:
    result = twin.run(["chiller-1"], mode="CAPACITY")
    loads = {item["id"]: item for item in result["loads"]}
    assert set(loads) == {"chiller-2", "chiller-3"}
    two, three = loads["chiller-2"], loads["chiller-3"]
    assert two["source"] == three["source"] == "DESIGN"
    moved = two["load"] - two["ownLoad"] + three["load"] - three["ownLoad"]
    assert moved == pytest.approx(dict_design(twin, "chiller-1"))
    assert result["trips"] == []


def dict_design(twin: WhatIf, asset: str) -> float:
    query = "query ($id: String) { asset(id: $id) { properties { name value } } }"
    properties = twin.data(query, {"id": asset})["asset"]["properties"]
    return float(next(p["value"] for p in properties if p["name"] == "designLoad"))


def test_capacity_reads_live_load_from_the_load_point(twin: WhatIf, live: LiveWriter) -> None:
    live("pdu-h1-b1.output-power", 140.0)  # kW, as ingestion writes them
    live("pdu-h1-a1.output-power", 5.0)
    result = twin.run(["pdu-h1-a1"], mode="CAPACITY")
    assert result["trips"] == []
    b1 = next(item for item in result["loads"] if item["id"] == "pdu-h1-b1")
    assert (b1["source"], b1["point"], b1["ownLoad"], b1["load"]) == (
        "TELEMETRY",
        "pdu-h1-b1.output-power",
        140.0,
        145.0,
    )
    live("pdu-h1-a1.output-power", 60.0)  # the next reading: now it does not fit
    (trip, *_) = twin.run(["pdu-h1-a1"], mode="CAPACITY")["trips"]
    assert (trip["id"], trip["load"], trip["sources"]) == ("pdu-h1-b1", 200.0, ["pdu-h1-a1"])


# -- single points of failure -----------------------------------------------------------

SPOF = """
query ($target: String, $class: String, $first: Int! = 100) {
  singlePointsOfFailure(target: $target, class: $class, first: $first) {
    modelVersion targetCount
    targets { target { id } singlePoints { id } }
    ranking { asset { id } takesDown targets }
  }
}
"""


def test_single_points_of_failure_of_a_service_match_failing_each_supplier(
    twin: WhatIf,
) -> None:
    answer = twin.data(SPOF, {"target": "web-01"})["singlePointsOfFailure"]
    (target,) = answer["targets"]
    found = [s["id"] for s in target["singlePoints"]]
    brute = [
        asset
        for asset in upstream_ids(twin, "web-01")
        if "web-01" in {i["id"] for i in twin.run([asset])["impacted"]}
    ]
    assert found == sorted(brute)
    assert "rack-h1-r03" in found
    assert "pdu-h1-a1" not in found


def test_racks_on_2n_power_have_no_single_point_of_failure(twin: WhatIf) -> None:
    answer = twin.data(SPOF, {"class": "Rack", "first": 100})["singlePointsOfFailure"]
    assert answer["targetCount"] == 80
    assert [t["target"]["id"] for t in answer["targets"]] == RACKS_H1 + RACKS_H2
    assert all(t["singlePoints"] == [] for t in answer["targets"])
    assert answer["ranking"] == []


def test_ranking_over_a_class_counts_the_services_each_asset_takes_down(twin: WhatIf) -> None:
    answer = twin.data(SPOF, {"class": "ITService", "first": 5})["singlePointsOfFailure"]
    assert answer["targetCount"] > 0
    counts = [r["takesDown"] for r in answer["ranking"]]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > 1
    for ranked in answer["ranking"]:
        taken = twin.run([ranked["asset"]["id"]], **{"class": "ITService"})["impacted"]
        assert ranked["takesDown"] == len(taken)
        assert ranked["targets"] == sorted(i["id"] for i in taken)[:5]  # at most `first`
    assert twin.code(SPOF, {"target": "web-01", "class": "Rack"}) == "BAD_USER_INPUT"
    assert twin.code(SPOF, {"class": "NoSuchClass"}) == "UNKNOWN_CLASS"


# -- availability -----------------------------------------------------------------------

AVAILABILITY = """
query ($targets: [String!], $trials: Int! = 2000, $seed: Int! = 7,
       $probabilities: [ProbabilityInput!]) {
  availability(targets: $targets, trials: $trials, seed: $seed,
               probabilities: $probabilities) {
    trials seed assetsThatCanFail
    targets { target { id } availability low high upTrials trials }
  }
}
"""


def test_availability_is_reproducible_with_a_seed_and_bounded(twin: WhatIf) -> None:
    targets = {"targets": ["web-01", "rack-h1-r01"]}
    first = twin.data(AVAILABILITY, targets)["availability"]
    assert twin.data(AVAILABILITY, targets)["availability"] == first
    assert first["assetsThatCanFail"] > 0
    for item in first["targets"]:
        assert 0 <= item["low"] <= item["availability"] <= item["high"] <= 1
        assert item["trials"] == 2000
    certain = twin.data(
        AVAILABILITY,
        {**targets, "probabilities": [{"asset": "rack-h1-r03", "unavailability": 1.0}]},
    )["availability"]["targets"]
    web = next(t for t in certain if t["target"]["id"] == "web-01")
    assert (web["availability"], web["upTrials"]) == (0.0, 0)


@pytest.mark.parametrize(
    "variables",
    [
        {"targets": ["web-01"], "trials": 0},
        {"targets": ["web-01"], "seed": -1},
        {"targets": ["web-01"], "probabilities": [{"asset": "ups-a1", "unavailability": 2}]},
        {"targets": None},
    ],
)
def test_bad_availability_arguments_are_refused(twin: WhatIf, variables: dict[str, Any]) -> None:
    assert twin.code(AVAILABILITY, variables) == "BAD_USER_INPUT"


# -- scenarios --------------------------------------------------------------------------

SAVE = """
mutation ($name: String!, $fail: [String!]!) {
  saveScenario(name: $name, fail: $fail) {
    id name mode failed modelVersion createdBy createdAt impactedCount degradedCount
    impacted current summary
  }
}
"""
COMPARE = """
query ($a: ID!, $b: ID!) {
  compareScenarios(a: $a, b: $b) {
    sameModelVersion failedOnlyInA failedOnlyInB impactedOnlyInA impactedOnlyInB
    impactedInBoth summary
  }
}
"""


def test_scenarios_are_saved_listed_and_compared(twin: WhatIf, dc1: Driver) -> None:
    operator = Principal("planner", Role.OPERATOR)
    viewer = Principal("dashboard", Role.VIEWER)
    side_a = {"name": "side A lost", "fail": SIDE_A}
    assert twin.code(SAVE, side_a, principal=viewer) == "FORBIDDEN"
    assert twin.code(SAVE, side_a) == "UNAUTHENTICATED"
    a = twin.data(SAVE, side_a, principal=operator)["saveScenario"]
    b = twin.data(
        SAVE, {"name": "side A and UPS B1", "fail": [*SIDE_A, "ups-b1"]}, principal=operator
    )["saveScenario"]
    assert (a["createdBy"], a["mode"], a["failed"], a["current"]) == (
        "planner",
        "TOPOLOGY",
        SIDE_A,
        True,
    )
    assert a["impactedCount"] == len(a["impacted"]) == twin.run(SIDE_A)["impactedCount"]
    listed = twin.data("{ scenarios { id name } }")["scenarios"]
    assert [s["id"] for s in listed][:2] == [b["id"], a["id"]]
    records, _, _ = dc1.execute_query(
        "MATCH (s:Scenario {id: $id})-[:FAILS]->(t:Twin) RETURN t.id AS id ORDER BY id",
        id=a["id"],
    )
    assert [r["id"] for r in records] == sorted(SIDE_A)
    diff = twin.data(COMPARE, {"a": a["id"], "b": b["id"]})["compareScenarios"]
    assert diff["sameModelVersion"] is True
    assert (diff["failedOnlyInA"], diff["failedOnlyInB"]) == ([], ["ups-b1"])
    assert diff["impactedOnlyInA"] == []
    assert set(RACKS_H1) <= set(diff["impactedOnlyInB"])
    assert diff["impactedInBoth"] == a["impactedCount"]
    assert twin.code(COMPARE, {"a": a["id"], "b": "nope"}) == "NOT_FOUND"
    assert twin.code(SAVE, {"name": " ", "fail": SIDE_A}, principal=operator) == ("BAD_USER_INPUT")


def test_a_scenario_keeps_each_input_once(twin: WhatIf) -> None:
    """Regression: a scenario kept every input as given, repeats too, for every viewer's
    `scenarios` to read back."""
    query = """
    mutation ($fail: [String!]!, $rels: [RelationshipInput!], $loads: [LoadInput!]) {
      saveScenario(name: "twice", fail: $fail, failRelationships: $rels, loads: $loads,
                   mode: CAPACITY) {
        failed failedRelationships loadOverrides
      }
    }
    """
    rel = {"from": "pdu-h1-a1", "to": "rack-h1-r01", "type": "FEEDS"}
    variables = {
        "fail": ["ups-a1", "ups-a1", "ups-b1", "ups-a1"],
        "rels": [rel, rel],
        "loads": [{"asset": "ups-b1", "value": 10.0}, {"asset": "ups-b1", "value": 20.0}],
    }
    saved = twin.data(query, variables, principal=Principal("planner", Role.OPERATOR))
    assert saved["saveScenario"] == {
        "failed": ["ups-a1", "ups-b1"],
        "failedRelationships": ["pdu-h1-a1 -> rack-h1-r01"],
        "loadOverrides": ["ups-b1=20"],  # the last one given, as the what-if used it
    }


def test_load_moved_to_the_b_side_flows_up_and_trips_its_ups(twin: WhatIf) -> None:
    """2N: with UPS A1 gone, hall 1's A PDUs' load moves to the B PDUs and up to UPS B1;
    run hot (300 of 400 kW), UPS B1 trips and takes hall 1's racks with it."""
    query = """
    query ($loads: [LoadInput!]) {
      whatIf(fail: ["ups-a1"], mode: CAPACITY, loads: $loads) {
        trips { id round load capacity sources }
        loadFlows { from to amount }
        impacted(first: 100) { id }
      }
    }"""
    cool = twin.data(query)["whatIf"]
    assert cool["trips"] == []
    flows = {(f["from"], f["to"]): f["amount"] for f in cool["loadFlows"]}
    assert flows[("pdu-h1-b1", "ups-b1")] == pytest.approx(55.0)  # pdu-h1-a1's design load
    assert flows[("pdu-h1-b2", "ups-b1")] == pytest.approx(53.8)
    hot = twin.data(query, {"loads": [{"asset": "ups-b1", "value": 300.0}]})["whatIf"]
    (trip,) = [t for t in hot["trips"] if t["round"] == 1]
    assert (trip["id"], trip["capacity"]) == ("ups-b1", 400.0)
    assert trip["load"] == pytest.approx(300.0 + 55.0 + 53.8)
    assert trip["sources"] == ["pdu-h1-a1", "pdu-h1-a2"]
    assert set(RACKS_H1) <= {i["id"] for i in hot["impacted"]}
