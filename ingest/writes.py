"""Writing a batch's live values so that no value can stop the others: a write refused for
a value (``ValueRefused``: the driver cannot encode it, or Neo4j refuses its type) is
split in halves and each half written again, down to the single values refused, which
are handed back to be dead-lettered. Every other failure (Neo4j away, a timeout, a
deadlock) is the write's, not a value's: ``write`` retries it (see the worker).

Decoding checks every value against what the stores can hold (:mod:`ingest.storable`),
so a refusal here means a check is missing; the split keeps ingestion going meanwhile,
at a cost of about two writes per refused value per halving.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kgtwin.graph.errors import ValueRefused
from kgtwin.graph.live import Applied, LiveValue

Write = Callable[[Sequence[LiveValue]], Applied]


@dataclass(frozen=True, slots=True)
class Refusal:
    value: LiveValue
    error: ValueRefused


def write_isolating(write: Write, values: Sequence[LiveValue]) -> tuple[Applied, list[Refusal]]:
    """Write ``values`` with ``write``; what was applied, and the values refused alone."""
    try:
        return write(values), []
    except ValueRefused as exc:
        if len(values) == 1:
            return Applied((), ()), [Refusal(values[0], exc)]
    half = len(values) // 2
    first, refused_first = write_isolating(write, values[:half])
    second, refused_second = write_isolating(write, values[half:])
    return (
        Applied(
            first.applied + second.applied,
            first.fresh + second.fresh,
            first.failures + second.failures,
        ),
        refused_first + refused_second,
    )
