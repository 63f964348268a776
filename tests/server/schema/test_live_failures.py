"""Failures reported by telemetry, through the GraphQL schema against the example site in the
real Neo4j: ``reportedFailures`` lists the assets whose status point reads its
``kgt:failedWhen`` value (not stale, not of bad quality), and ``whatIf(fromLiveState: true)``
starts from them.

In dc1, UPS A1 and UPS B1 feed hall 1's PDU pairs (2N): either alone leaves every hall-1
rack up, both take all 40 down.
"""

from __future__ import annotations

from typing import Any

import pytest

from kgtwin.server.auth import Principal, Role
from kgtwin.server.graph_cache import GraphCache
from tests.server.schema.conftest import Api, LiveWriter

RACKS_H1 = {f"rack-h1-r{i:02d}" for i in range(1, 41)}

REPORTED = "{ reportedFailures { id iri point value observedAt } }"

WHAT_IF = """
query ($fail: [String!], $live: Boolean! = true, $mode: WhatIfMode! = TOPOLOGY) {
  whatIf(fail: $fail, fromLiveState: $live, mode: $mode) {
    failed impactedCount summary
    reportedFailures { id point value }
    impacted(first: 100, class: "Rack") { id rootCause path }
    trips { id }
  }
}
"""

SAVE = """
mutation ($name: String!) {
  saveScenario(name: $name, fail: ["ups-b1"], fromLiveState: true) { id failed summary }
}
"""


def run(api: Api, cache: GraphCache, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data(WHAT_IF, variables, cache=cache)["whatIf"]
    return result


def test_nothing_is_reported_failed_while_no_status_point_says_so(
    api: Api, cache: GraphCache, live: LiveWriter
) -> None:
    live("ups-a1.fault", False)
    live("utility-feed-a.available", True)
    assert api.data(REPORTED, cache=cache)["reportedFailures"] == []
    answer = run(api, cache)  # nothing given, nothing reported: an answer, not an error
    assert answer["failed"] == []
    assert answer["impactedCount"] == 0


def test_a_ups_fault_is_listed_with_the_point_that_reports_it(
    api: Api, cache: GraphCache, live: LiveWriter
) -> None:
    live("ups-a1.fault", True)
    live("web-01.healthy", False)
    live("web-02.healthy", True)
    reported = api.data(REPORTED, cache=cache)["reportedFailures"]
    assert [(r["id"], r["point"], r["value"]) for r in reported] == [
        ("ups-a1", "ups-a1.fault", True),
        ("web-01", "web-01.healthy", False),
    ]
    assert reported[0]["iri"].endswith("#ups-a1")
    assert reported[0]["observedAt"]


def test_the_what_if_starts_from_the_failure_the_telemetry_reports(
    api: Api, cache: GraphCache, live: LiveWriter
) -> None:
    live("ups-a1.fault", True)
    without = run(api, cache, fail=["ups-b1"], live=False)
    assert without["impacted"] == []
    assert without["reportedFailures"] == []
    answer = run(api, cache, fail=["ups-b1"])
    assert answer["failed"] == ["ups-b1", "ups-a1"]  # the request's first
    assert answer["reportedFailures"] == [{"id": "ups-a1", "point": "ups-a1.fault", "value": True}]
    assert {a["id"] for a in answer["impacted"]} == RACKS_H1
    assert {a["path"][0] for a in answer["impacted"]} <= {"ups-a1", "ups-b1"}
    assert {a["rootCause"] for a in answer["impacted"]} == {"FAILED_ASSET"}
    assert "(1 reported by telemetry)" in answer["summary"]


@pytest.mark.parametrize(
    ("stale", "quality"), [(True, "good"), (False, "bad")], ids=["stale", "bad-quality"]
)
def test_a_stale_or_bad_status_point_reports_nothing(
    api: Api, cache: GraphCache, live: LiveWriter, stale: bool, quality: str
) -> None:
    live("ups-a1.fault", True, stale=stale, quality=quality)
    assert api.data(REPORTED, cache=cache)["reportedFailures"] == []
    assert run(api, cache, fail=["ups-b1"])["impacted"] == []


def test_a_capacity_what_if_from_the_live_state(
    api: Api, cache: GraphCache, live: LiveWriter
) -> None:
    live("ups-a1.fault", True)
    answer = run(api, cache, mode="CAPACITY")
    assert answer["failed"] == ["ups-a1"]
    assert answer["impacted"] == []  # 2N: side B carries hall 1 ...
    assert answer["trips"] == []  # ... within its ratings


def test_a_scenario_saved_from_the_live_state_keeps_the_reported_failure(
    api: Api, cache: GraphCache, live: LiveWriter
) -> None:
    live("ups-a1.fault", True)
    operator = Principal("ops", Role.OPERATOR)
    saved = api.data(SAVE, {"name": "B1 while A1 is down"}, cache=cache, principal=operator)
    scenario = saved["saveScenario"]
    assert scenario["failed"] == ["ups-b1", "ups-a1"]
    assert "(1 reported by telemetry)" in scenario["summary"]


def test_without_failures_or_the_live_state_the_what_if_asks_for_one(
    api: Api, cache: GraphCache
) -> None:
    error = api.error(WHAT_IF, {"fail": [], "live": False}, cache=cache)
    assert (error.extensions or {})["code"] == "BAD_USER_INPUT"
    assert "fromLiveState" in error.message
