"""A history row: one accepted observation of a point, as QuestDB keeps it.

Every observation of a message the worker accepts becomes a row (not only the one that
wins the live value: an observation superseded in its batch, or older than the live value,
is still what the point measured then). A dead-lettered or ignored message gives none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from kgtwin.graph.live import PointRow
from kgtwin.graph.ontology_read import Terms
from kgtwin.ingest.batch import Message


class HistoryRow(NamedTuple):
    """Times in epoch microseconds; a number or boolean (1 or 0) in ``value``, a string
    in ``text``. A NamedTuple, so that the spool stores it as a plain JSON array."""

    ts_us: int  # the source time (observedAt)
    point: str  # its IRI
    point_id: str
    asset: str | None  # the id of the asset it reports on
    asset_class: str | None  # that asset's most specific class
    unit: str  # a QUDT local name, e.g. "KiloW"
    quality: str
    value: float | None
    text: str | None
    received_us: int


class PointInfo(NamedTuple):
    """What a row says about its point besides the value."""

    id: str
    asset: str | None
    asset_class: str | None


def describe_points(rows: Iterable[PointRow], terms: Terms) -> dict[str, PointInfo]:
    """Per point IRI: its id, its asset's id and that asset's most specific class."""
    described = {}
    for row in rows:
        classes = terms.most_specific_first(row.asset_labels)
        described[row.iri] = PointInfo(row.id, row.asset_id, classes[0].name if classes else None)
    return described


def rows_of(messages: Iterable[Message], points: Mapping[str, PointInfo]) -> list[HistoryRow]:
    """The rows of ``messages``: every observation of those neither rejected nor ignored."""
    rows = []
    for message in messages:
        if message.rejected is not None or message.ignored:
            continue
        for obs in message.observations:
            info = points.get(obs.point_iri) or PointInfo(obs.point_iri, None, None)
            value, text = _columns(obs.value)
            rows.append(
                HistoryRow(
                    round(obs.observed_at * 1_000_000),
                    obs.point_iri,
                    info.id,
                    info.asset,
                    info.asset_class,
                    obs.unit,
                    str(obs.quality),
                    value,
                    text,
                    round(obs.received_at * 1_000_000),
                )
            )
    return rows


def _columns(value: float | int | bool | str) -> tuple[float | None, str | None]:
    if isinstance(value, str):
        return None, value
    return float(value), None  # a bool is an int: True -> 1.0
