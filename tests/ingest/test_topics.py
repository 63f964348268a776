"""Routing a reading to its point, and the topic filters the worker subscribes to."""

from __future__ import annotations

import pytest

from kgtwin.graph.live import PointRow
from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.topics import PointTable, is_dead_letter, topic_filter
from tests.units import ontology_units


def row(point_id: str, topic: str, unit: str | None = "KiloW") -> PointRow:
    return PointRow(
        iri=f"urn:p:{point_id}",
        id=point_id,
        topic=topic,
        unit=unit,
        datatype="double",
        min_value=None,
        max_value=None,
        expected_interval=10.0,
        received_at_ms=None,
        stale=False,
        asset_id="a",
        asset_labels=("Asset",),
    )


UNITS = ontology_units()
TABLE = PointTable.of(
    [row("p1", "dc1/a/power"), row("p2", "site-2/b/flow"), row("bad", "dc1/c/x", unit=None)],
    UNITS,
)


def test_points_without_a_unit_are_skipped_and_said_why() -> None:
    assert set(TABLE.by_topic) == {"dc1/a/power", "site-2/b/flow"}
    assert TABLE.skipped == ("urn:p:bad: it has no unit, datatype or expected interval",)


def test_one_wildcard_filter_per_first_topic_level() -> None:
    assert TABLE.filters() == frozenset({"dc1/#", "site-2/#"})
    assert topic_filter("plain") == "plain/#"


def test_routing_by_topic_then_by_senml_name() -> None:
    assert TABLE.route("dc1/a/power", None).id == "p1"
    assert TABLE.route("gateway/pack", "site-2/b/flow").id == "p2"  # a point's topic
    assert TABLE.route("gateway/pack", "p1").id == "p1"  # a point's id


@pytest.mark.parametrize(("topic", "name"), [("dc1/zz", None), ("dc1/a/power", "nope")])
def test_what_maps_to_no_point_is_rejected_as_unknown_topic(topic: str, name: str | None) -> None:
    with pytest.raises(Rejected) as caught:
        TABLE.route(topic, name)
    assert caught.value.reason is Reason.UNKNOWN_TOPIC


def test_dead_letters_are_recognised() -> None:
    assert is_dead_letter("kgtwin/deadletter/dc1/a/power")
    assert not is_dead_letter("dc1/a/power")


@pytest.mark.parametrize("topic", ["dc1+/a", "dc1/#", "", "dc1/\x00"])
def test_a_point_whose_topic_no_message_can_have_is_skipped(topic: str) -> None:
    """Its wildcard filter would be invalid, and paho's subscribe would raise on the
    network thread (issue 21: nothing may stop ingestion, a model's typo included)."""
    table = PointTable.of([row("odd", topic), row("p1", "dc1/a/power")], UNITS)
    assert set(table.by_topic) == {"dc1/a/power"}
    assert "is not one a message can be published to" in table.skipped[0]
    assert table.filters() == frozenset({"dc1/#"})


def test_a_point_whose_unit_the_ontology_does_not_declare_is_skipped() -> None:
    table = PointTable.of([row("odd", "dc1/a/odd", unit="KILOWATT"), row("p1", "dc1/a/p")], UNITS)
    assert set(table.by_topic) == {"dc1/a/p"}
    (why,) = table.skipped
    assert why.startswith("urn:p:odd: point unit 'KILOWATT' is not declared in ontology/core/")
