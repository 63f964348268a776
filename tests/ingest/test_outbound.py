"""The twin's events, pure: the CloudEvents envelope written and read back, the topic tree,
the JSON Schemas (each valid, each kind's data as the listener builds it valid against its
own), and what a malformed event is told."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

import jsonschema
import pytest

from kgtwin.ingest.events import FailureChange, PointUpdate, StalenessChange
from kgtwin.ingest.outbound.envelope import EventError, TwinEvent, decode, encode, schema_url
from kgtwin.ingest.outbound.kinds import CLEARS, Kind, kind_of_type
from kgtwin.ingest.outbound.listener import POINTS_PER_EVENT, EventListener
from kgtwin.ingest.outbound.topics import MAX_LEVEL, event_topic, level, read_level, state_topic
from kgtwin.server.risk_watch import ON_KIND
from kgtwin.simulation.risk import OFF, ON, RiskKind

SCHEMAS = resources.files("kgtwin.ingest") / "outbound" / "schemas"


def schema(kind: Kind) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{kind.value}.schema.json").read_text())
    return loaded


def check(event: TwinEvent) -> None:
    """``event`` encoded, read back the same, and its data valid against its kind's schema."""
    body = encode(event)
    envelope = json.loads(body)
    assert envelope["specversion"] == "1.0"
    assert envelope["type"] == f"org.w3id.kgtwin.{event.kind.value}"
    assert envelope["dataschema"] == schema_url(event.kind)
    assert envelope["datacontenttype"] == "application/json"
    jsonschema.validate(
        envelope["data"], schema(event.kind), format_checker=jsonschema.FormatChecker()
    )
    back = decode(body)
    assert (back.kind, back.model, back.data, back.subject, back.id) == (
        event.kind,
        event.model,
        event.data,
        event.subject,
        event.id,
    )


class Collected:
    """A publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[TwinEvent] = []

    def publish(self, events: Iterable[TwinEvent]) -> None:
        self.events.extend(events)


def listener() -> tuple[EventListener, Collected]:
    collected = Collected()
    return EventListener(collected, source="/kgtwin/test"), collected  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.value)
def test_every_kind_has_a_valid_schema_named_for_it(kind: Kind) -> None:
    loaded = schema(kind)
    jsonschema.Draft202012Validator.check_schema(loaded)
    assert loaded["$id"] == schema_url(kind)
    assert kind_of_type(kind.type) is kind


def test_the_listener_s_events_match_their_schemas() -> None:
    publish, got = listener()
    labels = ("UPS", "Asset")
    publish.points_updated(
        [
            PointUpdate(
                "urn:p1", "p1", "ups-a1", labels, 97.5, "KiloW", 1e9, 1e9 + 1, "good", "dc1"
            ),
            PointUpdate("urn:p2", "p2", None, (), True, "UNITLESS", 1e9, 1e9, "uncertain", "dc1"),
            PointUpdate("urn:p3", "p3", "x", (), "on", "UNITLESS", 1e9, 1e9, "bad", "other"),
        ]
    )
    publish.staleness_changed(
        [
            StalenessChange("urn:p1", "p1", "ups-a1", labels, True, 1e9, "dc1"),
            StalenessChange("urn:p2", "p2", None, (), False, 1e9, "dc1"),
        ]
    )
    publish.failures_changed(
        [
            FailureChange("urn:s", "s", "ups-a1", labels, True, True, 1e9, 1e9 + 2, "dc1"),
            FailureChange("urn:s", "s", "ups-a1", labels, False, None, None, 1e9 + 3, "dc1"),
        ]
    )
    kinds = [e.kind for e in got.events]
    assert kinds == [
        Kind.POINTS_UPDATED,  # one per model
        Kind.POINTS_UPDATED,
        Kind.POINT_STALE,
        Kind.POINT_FRESH,
        Kind.FAILURE_REPORTED,
        Kind.FAILURE_CLEARED,
    ]
    assert [len(e.data["points"]) for e in got.events[:2]] == [2, 1]
    for event in got.events:
        check(event)


def test_a_large_batch_is_split_into_events_of_bounded_size() -> None:
    publish, got = listener()
    count = POINTS_PER_EVENT * 2 + 1
    publish.points_updated(
        [
            PointUpdate(f"urn:p{i}", f"p{i}", "a", (), i, "KiloW", 1e9, 1e9, "good", "dc1")
            for i in range(count)
        ]
    )
    assert [len(e.data["points"]) for e in got.events] == [POINTS_PER_EVENT, POINTS_PER_EVENT, 1]
    for event in got.events:
        check(event)


def test_topics_follow_the_tree_and_state_kinds_share_one_state_topic() -> None:
    assert event_topic("dc1", Kind.POINT_STALE, ("ups-a1", "p1")) == (
        "kgtwin/events/dc1/pointStale/ups-a1/p1"
    )
    assert event_topic("dc1", Kind.MODEL_LOADED) == "kgtwin/events/dc1/modelLoaded"
    for on, off in CLEARS.items():
        assert state_topic("dc1", on, ("a",)) == state_topic("dc1", off, ("a",))
        assert state_topic("dc1", on, ("a",)) == f"kgtwin/state/dc1/{on.value}/a"
    with pytest.raises(ValueError, match="sets no state"):
        state_topic("dc1", Kind.MODEL_LOADED, ())


@pytest.mark.parametrize("text", ["a/b", "+", "#", "x%2Fy", "\x00", "é", "", "-"])
def test_a_level_never_holds_what_mqtt_reads_as_structure(text: str) -> None:
    encoded = level(text)
    assert not {"/", "+", "#", "\x00"} & set(encoded)
    assert read_level(encoded) == text


def test_a_level_too_long_becomes_a_digest() -> None:
    encoded = level("x" * 10_000)
    assert encoded.startswith("~")
    assert len(encoded) <= MAX_LEVEL


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "not a CloudEvent"),
        (b"not json", "not a CloudEvent"),
        (b"[1, 2]", "not a CloudEvent"),
        (b"[" * 100_000 + b"]" * 100_000, "not a CloudEvent"),
        (b"\xff\xfe", "not a CloudEvent"),
        (b'{"specversion": "1.0"}', "not a CloudEvent"),
        (
            b'{"specversion": "1.0", "id": "1", "source": "x", "type": "com.example.x", '
            b'"data": {"model": "m"}}',
            "not a kgtwin event type",
        ),
        (
            b'{"specversion": "1.0", "id": "1", "source": "x", '
            b'"type": "org.w3id.kgtwin.pointStale", "data": [1]}',
            "data must be an object with a model",
        ),
        (b" " * (4 * 2**20 + 1), "bytes"),
    ],
    ids=["empty", "text", "list", "deep", "binary", "no-source", "foreign", "no-model", "huge"],
)
def test_a_malformed_event_is_refused_saying_why(body: bytes, why: str) -> None:
    with pytest.raises(EventError, match=why):
        decode(body)


def test_each_risk_kind_is_published_as_the_event_kinds_of_its_change() -> None:
    """The pure core's changes and the events' kinds are spelled in two packages (ingest
    does not import simulation): each risk's on and off events must be the same pair."""
    for kind in RiskKind:
        event = ON_KIND[kind.value]
        assert (event.value, event.cleared_by.value) == (ON[kind].value, OFF[kind].value)
