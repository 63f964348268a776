"""Live state on point nodes: what ingestion reads (the points and their topics) and
writes (values, staleness), each as one batched statement.

A point's live value is ``value``, ``observedAt`` (source time), ``receivedAt``,
``quality`` and ``stale`` on its node (its ``unit`` is the model's). Writes carry times as
epoch milliseconds and store Neo4j datetimes. Which observation wins is decided by Neo4j
inside the write, so it holds across several workers (docs/ingestion.md, "Which value
wins"). The write takes each point's lock (a property set and removed) before it reads the
point's time: Neo4j reads what is committed, so a check made before waiting for another
write's lock compared with the time that write then replaced, and the older value won.


- a newer ``observedAt`` wins; an older one never lands;
- at an equal ``observedAt`` the message received later wins, unless it is one already
  seen: the point keeps the keys (``observedKeys``, at most :data:`MAX_KEYS`) of the
  messages seen at its current ``observedAt``, and a message whose key is among them is a
  copy redelivered after a crash. A redelivered message (MQTT's DUP flag) with a key not
  among them wins only while the list is not full (once full, keys may have been dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

import neo4j
from neo4j import Driver

from kgtwin.graph.connection import encoding_errors, neo4j_errors
from kgtwin.graph.engine_types import HAS_POINT_EDGE, POINT_TYPES
from kgtwin.graph.reader import Reader

MAX_KEYS = 32
"""Keys of messages kept per point at its current ``observedAt`` (module docstring)."""

POINTS: LiteralString = (
    POINT_TYPES
    + """
MATCH (p:Point:Twin) WHERE p.mqttTopic IS NOT NULL
OPTIONAL MATCH (a:Twin)-[r]-(p) WHERE"""
    + HAS_POINT_EDGE
    + """
WITH DISTINCT p, a
RETURN collect([p.iri, p.id, p.mqttTopic, p.unit, p.datatype, p.minValue, p.maxValue,
                p.expectedInterval, p.receivedAt.epochMillis, p.stale, a.id,
                [label IN labels(a) WHERE label <> 'Twin'], p.failedWhen, p.model]) AS points
"""
)

APPLY: LiteralString = """
UNWIND range(0, size($iris) - 1) AS i
MATCH (p:Twin {iri: $iris[i]})
SET p._lock = true
REMOVE p._lock
WITH p, i, datetime.fromepochmillis($observedAt[i]) AS observed, $keys[i] AS keys
WITH p, i, observed, keys, coalesce(p.observedKeys, []) AS seen,
     coalesce(p.observedAt = observed, false) AS tie
WHERE p.observedAt IS NULL OR p.observedAt < observed
   OR (tie AND (size(keys) = 0 OR NOT last(keys) IN seen)
       AND (NOT $redelivered[i] OR size(seen) < $maxKeys))
WITH p, i, observed, keys, seen, tie, p.stale AS wasStale,
     p.failedWhen IS NOT NULL AND coalesce(p.value = p.failedWhen, false)
       AND NOT coalesce(p.stale, false) AND coalesce(p.quality, 'good') <> 'bad' AS wasFailing
SET p.value = $values[i], p.observedAt = observed,
    p.receivedAt = datetime.fromepochmillis($receivedAt[i]), p.quality = $qualities[i],
    p.stale = false,
    p.observedKeys = CASE WHEN tie THEN (seen + [k IN keys WHERE NOT k IN seen])[-$maxKeys..]
                     ELSE keys[-$maxKeys..] END
RETURN collect(i) AS applied, collect(CASE WHEN wasStale THEN i END) AS fresh,
       collect(CASE WHEN p.failedWhen IS NOT NULL
                     AND wasFailing <> (coalesce(p.value = p.failedWhen, false)
                                        AND p.quality <> 'bad') THEN i END) AS failures
"""

MARK_STALE: LiteralString = """
UNWIND $rows AS row
MATCH (p:Twin {iri: row.iri})
WHERE p.receivedAt <= datetime.fromepochmillis(row.silentSince) AND coalesce(p.stale, false) = false
WITH p, p.failedWhen IS NOT NULL AND coalesce(p.value = p.failedWhen, false)
          AND coalesce(p.quality, 'good') <> 'bad' AS wasFailing
SET p.stale = true
RETURN collect(p.iri) AS stale, collect(CASE WHEN wasFailing THEN p.iri END) AS failures
"""


@dataclass(frozen=True, slots=True)
class PointRow:
    """A point as ingestion reads it from the graph."""

    iri: str
    id: str
    topic: str
    unit: str | None
    datatype: str | None
    min_value: float | None
    max_value: float | None
    expected_interval: float | None
    received_at_ms: int | None  # its last receivedAt, None if it never reported
    stale: bool
    asset_id: str | None  # the asset it reports on (HAS_POINT)
    asset_labels: tuple[str, ...]
    failed_when: bool | None = None  # kgt:failedWhen: the value that means its asset failed
    model: str = ""  # the model it came from


@dataclass(frozen=True, slots=True)
class LiveValue:
    """One observation to write: times in epoch milliseconds.

    ``keys`` name the messages that carried an observation of the point at
    ``observed_at_ms`` in this write, in the order they were received, the one this value
    comes from last (none: the value wins every tie); ``redelivered`` is whether that
    message had been delivered before (MQTT's DUP flag).
    """

    iri: str
    value: bool | int | float | str
    observed_at_ms: int
    received_at_ms: int
    quality: str
    keys: tuple[str, ...] = ()
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class Applied:
    """What a write changed: the points updated, of those the ones that were stale, and the
    status points (``kgt:failedWhen``) whose report of their asset's failure changed (it
    failed, or it no longer is)."""

    applied: tuple[str, ...]
    fresh: tuple[str, ...]
    failures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Marked:
    """Points marked stale, and of those the status points that reported a failure (a
    silent point reports nothing)."""

    stale: tuple[str, ...]
    failures: tuple[str, ...] = ()


def read_points(reader: Reader) -> list[PointRow]:
    """Every point that has an MQTT topic, in one statement."""
    (row,) = reader.rows(POINTS, "reading the points and their MQTT topics")
    return [
        PointRow(
            iri=iri,
            id=point_id,
            topic=topic,
            unit=unit,
            datatype=datatype,
            min_value=_float(low),
            max_value=_float(high),
            expected_interval=_float(interval),
            received_at_ms=received,
            stale=stale is True,
            asset_id=asset_id,
            asset_labels=tuple(labels or ()),
            failed_when=failed_when if isinstance(failed_when, bool) else None,
            model=model or "",
        )
        for (
            iri,
            point_id,
            topic,
            unit,
            datatype,
            low,
            high,
            interval,
            received,
            stale,
            asset_id,
            labels,
            failed_when,
            model,
        ) in row["points"]
    ]


def write_live_values(
    driver: Driver, values: Sequence[LiveValue], database: str | None = None
) -> Applied:
    """Write ``values`` (at most one per point) in one transaction; those that lose to what
    is stored (module docstring) are skipped. Raises ``GraphError`` (``retryable`` when
    worth retrying), and ``ValueRefused`` when a value cannot be stored (nothing is then)."""
    # one list per field, not a map per value: half the driver's encoding work, and rows
    # are named in the answer by their number
    columns = {
        "iris": [v.iri for v in values],
        "values": [v.value for v in values],
        "observedAt": [v.observed_at_ms for v in values],
        "receivedAt": [v.received_at_ms for v in values],
        "qualities": [v.quality for v in values],
        "keys": [list(v.keys) for v in values],
        "redelivered": [v.redelivered for v in values],
        "maxKeys": MAX_KEYS,
    }
    (record,) = _write(driver, APPLY, "writing live values", database, **columns)
    return Applied(
        tuple(values[i].iri for i in record["applied"]),
        tuple(values[i].iri for i in record["fresh"]),
        tuple(values[i].iri for i in record["failures"]),
    )


def mark_stale(
    driver: Driver, silent_since: Sequence[tuple[str, int]], database: str | None = None
) -> Marked:
    """Mark stale the points (IRI, epoch ms) that received nothing since that time; the
    check is made in Neo4j, so a point another worker just updated is left alone."""
    rows = [{"iri": iri, "silentSince": since} for iri, since in silent_since]
    (record,) = _write(driver, MARK_STALE, "marking stale points", database, rows=rows)
    return Marked(tuple(record["stale"]), tuple(record["failures"]))


def _write(
    driver: Driver, query: LiteralString, action: str, database: str | None, **params: Any
) -> list[dict[str, Any]]:
    """One explicit transaction, committed or failed at once: not the driver's managed
    transactions, which retry for 30 s; the worker retries with its own backoff and
    counts the failures."""
    with (
        neo4j_errors(action),
        driver.session(database=database, default_access_mode=neo4j.WRITE_ACCESS) as session,
        session.begin_transaction() as tx,
    ):
        with encoding_errors(action):  # the driver encodes the parameters here
            result = tx.run(query, params)
        rows = [record.data() for record in result]
        tx.commit()
        return rows


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
