"""The batch-observed lag histogram is exposed exactly as prometheus_client's own."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from kgtwin.ingest.metrics import LAG_BUCKETS, BatchHistogram


def exposition(registry: CollectorRegistry) -> list[str]:
    """The text format's lines, without the optional ``_created`` sample."""
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


@pytest.mark.parametrize(
    "batches",
    [
        [],
        [[0.0]],
        [
            [0.01, 0.0100001, 0.05],
            [0.3, 1.0, 400.0],
            [60.0, 2.5, math.inf],
        ],  # on and past the bounds
        [[i / 997 for i in range(5_000)], [7.0] * 3],
    ],
)
def test_exposed_as_a_prometheus_histogram(batches: list[list[float]]) -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("lag_seconds", "Lag.", buckets=LAG_BUCKETS, registry=theirs)
    batched = BatchHistogram("lag_seconds", "Lag.", LAG_BUCKETS, ours)
    for batch in batches:
        for value in batch:
            reference.observe(value)
        batched.observe_many(batch)
    assert exposition(ours) == exposition(theirs)
