"""A batch of received messages, without I/O: which observation of each point is written
(:func:`newest`), the live values for it, and how each message ended (:func:`tally`).

Which observation wins within a batch is the rule the live write applies across batches
(:mod:`graph.live`): the newest ``observedAt`` in milliseconds, and among equal ones the
one received last. The write is also given the keys of every message of the batch that
observed the point at that time, so that none of them can win later as a redelivered copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kgtwin.graph.live import MAX_KEYS, LiveValue
from kgtwin.ingest.errors import Rejected
from kgtwin.ingest.readings import Observation


@dataclass(slots=True)
class Message:
    """One delivery of an MQTT message, as the worker keeps it until it is acknowledged.

    ``connection`` numbers the MQTT connection it arrived on: it is acknowledged on that
    one only. ``cost`` is what it counts against the queued-bytes limit. ``size`` and
    ``sha256`` describe a payload cut short because it was too large.
    """

    connection: int
    mid: int
    qos: int
    redelivered: bool
    topic: str
    payload: bytes
    received_at: float
    key: str
    cost: int
    observations: list[Observation] = field(default_factory=list)
    rejected: Rejected | None = None
    ignored: bool = False
    size: int | None = None
    sha256: str | None = None
    settled: bool = False  # acknowledged or dropped: its bytes released, its outcome counted


@dataclass(frozen=True, slots=True)
class Pick:
    """The observation of a point a batch writes, the message it came from, and the keys
    of the batch's messages that observed the point at the same millisecond."""

    observation: Observation
    message: Message
    observed_ms: int
    keys: tuple[str, ...]

    def live_value(self) -> LiveValue:
        obs = self.observation
        return LiveValue(
            iri=obs.point_iri,
            value=obs.value,
            observed_at_ms=self.observed_ms,
            received_at_ms=round(obs.received_at * 1000),
            quality=str(obs.quality),
            keys=self.keys[-MAX_KEYS:],
            redelivered=self.message.redelivered,
        )


def newest(messages: Iterable[Message], points: frozenset[str] | None = None) -> dict[str, Pick]:
    """Per point (only ``points`` when given), the newest observation of ``messages`` (in
    the order received); rejected and ignored messages carry none."""
    picks: dict[str, Pick] = {}
    for message in messages:
        if message.rejected is not None:
            continue
        for obs in message.observations:
            iri = obs.point_iri
            if points is not None and iri not in points:
                continue
            ms = round(obs.observed_at * 1000)
            kept = picks.get(iri)
            if kept is None or ms > kept.observed_ms:
                picks[iri] = Pick(obs, message, ms, (message.key,))
            elif ms == kept.observed_ms:  # received later: it wins the tie, its key last
                keys = (*(k for k in kept.keys if k != message.key), message.key)
                picks[iri] = Pick(obs, message, ms, keys)
    return picks


@dataclass(frozen=True, slots=True)
class Tally:
    """How the messages of a batch ended: counts by outcome and dead letters by reason."""

    outcomes: Counter[str]
    reasons: Counter[str]


def tally(batch: Sequence[Message], written: set[int]) -> Tally:
    """Each message's outcome: ``ignored``, ``deadlettered``, ``applied`` (an observation
    of it, by ``id``, is in ``written``) or ``outdated``."""
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for message in batch:
        if message.ignored:
            outcomes["ignored"] += 1
        elif message.rejected is not None:
            outcomes["deadlettered"] += 1
            reasons[str(message.rejected.reason)] += 1
        elif any(id(obs) in written for obs in message.observations):
            outcomes["applied"] += 1
        else:
            outcomes["outdated"] += 1
    return Tally(outcomes, reasons)
