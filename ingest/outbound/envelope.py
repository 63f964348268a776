"""A twin event as a CloudEvent 1.0 in the JSON event format (structured mode), written
and read with the CloudEvents SDK: ``type`` is ``org.w3id.kgtwin.<kind>``, ``source``
names the kgtwin process that published it, ``subject`` the asset (point, scenario) it is
about, ``dataschema`` the JSON Schema of its ``data`` (``ingest/outbound/schemas/``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from kgtwin.ingest.errors import IngestError
from kgtwin.ingest.outbound.kinds import Kind, kind_of_type

CONTENT_TYPE = "application/cloudevents+json"  # MQTT 5 Content Type of every event
SCHEMA_BASE = "https://w3id.org/kgtwin/events/"
MAX_EVENT_BYTES = 4 * 2**20  # an event read larger than this is refused unread
_FORMAT = JSONFormat()


class EventError(IngestError, ValueError):
    """An MQTT message on the events topics that is not a twin event kgtwin can read."""


@dataclass(frozen=True, slots=True)
class TwinEvent:
    kind: Kind
    model: str
    data: Mapping[str, Any]  # JSON-ready; holds "model" too
    subject: str | None = None  # the asset (point, scenario) id it is about
    time: float = 0.0  # epoch seconds
    source: str = "/kgtwin"
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


def schema_url(kind: Kind) -> str:
    return f"{SCHEMA_BASE}{kind.value}.schema.json"


def encode(event: TwinEvent) -> bytes:
    """The event as a structured-mode CloudEvent (JSON)."""
    attributes: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.kind.type,
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "dataschema": schema_url(event.kind),
        "time": datetime.fromtimestamp(event.time, UTC),
    }
    if event.subject is not None:
        attributes["subject"] = event.subject
    return _FORMAT.write(CloudEvent(attributes=attributes, data=dict(event.data)))


def decode(body: bytes) -> TwinEvent:
    """The twin event a message holds; :class:`EventError` saying why not."""
    if len(body) > MAX_EVENT_BYTES:
        raise EventError(f"an event of {len(body):,} bytes (at most {MAX_EVENT_BYTES:,})")
    try:
        event = _FORMAT.read(CloudEvent, body)
    # what a malformed body raises inside the SDK (a list where an object belongs, JSON
    # nested past Python's recursion limit, ...)
    except (
        BaseCloudEventException,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise EventError(f"not a CloudEvent in JSON: {exc}") from exc
    attributes = event.get_attributes()
    kind = kind_of_type(str(attributes.get("type")))
    if kind is None:
        raise EventError(f"not a kgtwin event type: {str(attributes.get('type'))[:80]!r}")
    data = event.get_data()
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        raise EventError(f"{kind.value}: data must be an object with a model")
    moment = attributes.get("time")
    subject = attributes.get("subject")
    return TwinEvent(
        kind=kind,
        model=data["model"],
        data=data,
        subject=subject if isinstance(subject, str) else None,
        time=moment.timestamp() if isinstance(moment, datetime) else 0.0,
        source=str(attributes.get("source")),
        id=str(attributes.get("id")),
    )
