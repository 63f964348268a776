"""Which point a message is about: the graph's points by MQTT topic, and the topic
filters the worker subscribes to.

The worker subscribes to one wildcard filter per first topic level of the points
(``dc1/#``), not to every topic: the subscription stays small for 100k points, and a
message on a topic that maps to no point arrives and is dead-lettered (``unknown_topic``)
instead of vanishing unseen. Dead letters themselves (``kgtwin/deadletter/...``) are never
taken as telemetry. A SenML record with a name is routed by that name (a point's topic,
else a point's id); without one, by the message's topic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kgtwin.graph.live import PointRow
from kgtwin.ingest.errors import IngestError, InvalidPoint, Reason, Rejected
from kgtwin.ingest.readings import Datatype, PointSpec
from kgtwin.ontology.errors import UnitError
from kgtwin.ontology.units import Units

logger = logging.getLogger(__name__)

DEAD_LETTER_PREFIX = "kgtwin/deadletter/"


@dataclass(frozen=True, slots=True)
class PointTable:
    """The points ingestion can write, by topic and by id."""

    by_topic: Mapping[str, PointSpec]
    by_id: Mapping[str, PointSpec]
    rows: Mapping[str, PointRow]  # by IRI: the asset, last receipt and staleness
    skipped: tuple[str, ...]  # points that cannot be used, with why (logged)

    @classmethod
    def of(cls, rows: Iterable[PointRow], units: Units) -> PointTable:
        """The points of ``rows`` that ingestion can use: each with a unit ``units`` declares
        (the others are skipped, and why is logged)."""
        by_topic: dict[str, PointSpec] = {}
        by_id: dict[str, PointSpec] = {}
        by_iri: dict[str, PointRow] = {}
        skipped: list[str] = []
        for row in rows:
            try:
                spec = _spec(row, units)
            except (IngestError, ValueError) as exc:
                skipped.append(f"{row.iri}: {exc}")
                continue
            by_topic[spec.topic] = spec
            by_id.setdefault(spec.id, spec)
            by_iri[spec.iri] = row
        for why in skipped:
            logger.warning("point not ingested: %s", why)
        return cls(by_topic, by_id, by_iri, tuple(skipped))

    def filters(self) -> frozenset[str]:
        """The topic filters that cover every point's topic."""
        return frozenset(topic_filter(topic) for topic in self.by_topic)

    def route(self, topic: str, name: str | None) -> PointSpec:
        """The point a reading on ``topic`` (with SenML ``name``) is for, else
        ``Rejected(unknown_topic)``."""
        if name is not None:
            spec = self.by_topic.get(name) or self.by_id.get(name)
            if spec is None:
                raise Rejected(
                    Reason.UNKNOWN_TOPIC,
                    f"SenML name {name!r} (on topic {topic!r}) is neither a point's topic nor "
                    "a point's id",
                )
            return spec
        spec = self.by_topic.get(topic)
        if spec is None:
            raise Rejected(
                Reason.UNKNOWN_TOPIC,
                f"no point has the MQTT topic {topic!r}; the points' topics are in the model "
                "(kgt:mqttTopic)",
            )
        return spec


def topic_filter(topic: str) -> str:
    """The wildcard filter that covers ``topic``: its first level and ``#``."""
    first, _sep, _rest = topic.partition("/")
    return f"{first}/#"


def valid_topic(topic: str) -> bool:
    """Whether ``topic`` is an MQTT topic name (what a PUBLISH may carry, MQTT 5 4.7)."""
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return 0 < size <= 65_535 and not any(c in topic for c in "+#\0")


def is_dead_letter(topic: str) -> bool:
    return topic.startswith(DEAD_LETTER_PREFIX)


def _spec(row: PointRow, units: Units) -> PointSpec:
    if row.unit is None or row.datatype is None or row.expected_interval is None:
        raise ValueError("it has no unit, datatype or expected interval")
    if not valid_topic(row.topic):
        raise ValueError(
            f"its MQTT topic {row.topic[:80]!r} is not one a message can be published to "
            "(empty, longer than 65,535 bytes, or with a wildcard + or #, or a NUL)"
        )
    try:
        units.unit(row.unit)
    except UnitError as exc:  # not declared in the ontology
        raise InvalidPoint(f"point {exc}") from exc
    return PointSpec(
        iri=row.iri,
        id=row.id,
        topic=row.topic,
        unit=row.unit,
        datatype=Datatype(row.datatype),
        min_value=row.min_value,
        max_value=row.max_value,
        expected_interval=row.expected_interval,
    )
