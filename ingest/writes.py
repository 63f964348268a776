"""Writing a batch's live values so that no value can stop the others: a write refused for
a value (``ValueRefused``: the driver cannot encode it, or Neo4j refuses its type) is
split in halves and each half written again, down to the single values refused, which
are handed back to be dead-lettered. Every other failure (Neo4j away, a timeout, a
deadlock) is the write's, not a value's: ``write`` retries it (see the worker).

Decoding checks every value against what the stores can hold (:mod:`ingest.storable`),
so a refusal here means a check is missing; the split keeps ingestion going meanwhile,
at a cost of about two writes per refused value per halving.

A large write is cut into :data:`SLICES` slices written at once, each its own transaction
(``write_sliced``): one Cypher statement runs on one of Neo4j's cores, which left the
machine's other core idle part of the time. A batch holds one value per point, so the
slices never wait for each other's locks. Measured with ``bench/ingest.py --sites
synthetic`` (40,000 points, each message another point), two slices against one, four
runs alternated: sustained medians of 15,080 and 15,444 msgs/s against 13,763 and 14,193
(+9%).
Every slice ends before a failure goes up. A slice whose write fails is retried alone
(the worker's retry is per slice); if the worker stops instead, the batch is not
acknowledged and the broker delivers it again: a slice that had committed then finds its
values stored, and its copies are not applied twice (their report, such as a stale point
fresh again, was not made: the same as for a commit whose answer was lost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from itertools import pairwise

from kgtwin.graph.errors import ValueRefused
from kgtwin.graph.live import Applied, LiveValue

Write = Callable[[Sequence[LiveValue]], Applied]

SLICES = 2  # transactions a large write is cut into, written at once
LEAST_SLICE = 1_000  # values in a slice, at least: a smaller write stays one transaction


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
    return merged([first, second]), refused_first + refused_second


def write_sliced(
    write: Write,
    values: Sequence[LiveValue],
    slices: Executor,
    parts: int = SLICES,
    least: int = LEAST_SLICE,
) -> tuple[Applied, list[Refusal]]:
    """``values`` cut into at most ``parts`` slices of at least ``least`` values, each
    written with :func:`write_isolating` on a thread of ``slices``; the answers merged in
    the order of ``values``. The first failure of a slice goes up once every slice ended."""
    count = min(parts, len(values) // least)
    if count <= 1:
        return write_isolating(write, values)
    bounds = [len(values) * k // count for k in range(count + 1)]
    futures = [
        slices.submit(write_isolating, write, values[start:end]) for start, end in pairwise(bounds)
    ]
    wait(futures)
    answers = [future.result() for future in futures]
    return (
        merged([applied for applied, _refused in answers]),
        [refusal for _applied, refused in answers for refusal in refused],
    )


def merged(answers: Sequence[Applied]) -> Applied:
    """One answer for writes of distinct points."""
    return Applied(
        tuple(iri for a in answers for iri in a.applied),
        tuple(iri for a in answers for iri in a.fresh),
        tuple(iri for a in answers for iri in a.failures),
    )
