"""What ingestion counts, as Prometheus metrics on a registry it is given (the server's
when ingestion runs inside ``kgtwin serve``, its own for ``kgtwin ingest``).

Every delivery of a message ends in exactly one outcome: ``applied`` (its value was
written), ``outdated`` (older than the value stored, superseded in its batch, or a copy of
one already applied: by design not written), ``deadlettered`` (by reason), ``ignored`` (a
dead letter read back), or ``dropped`` (its connection was given up before it was
acknowledged: the broker delivers it again, and that delivery gets an outcome of its own).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import HistogramMetricFamily
from prometheus_client.registry import Collector

BATCH_BUCKETS = (1, 10, 50, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000)
SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "kgtwin_ingest_messages_received",
            "MQTT messages received by the ingestion worker.",
            registry=registry,
        )
        self.outcomes = Counter(
            "kgtwin_ingest_messages",
            "Deliveries by outcome: applied, outdated, deadlettered, ignored or dropped.",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "kgtwin_ingest_dead_letters",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "kgtwin_ingest_batch_size",
            "Messages per write batch.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.write_seconds = Histogram(
            "kgtwin_ingest_write_seconds",
            "Time to write one batch of live values to Neo4j (committed).",
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.write_failures = Counter(
            "kgtwin_ingest_write_failures",
            "Batch writes that failed and were retried.",
            registry=registry,
        )
        self.lag = BatchHistogram(
            "kgtwin_ingest_lag_seconds",
            "End-to-end lag of applied values: receivedAt - observedAt.",
            LAG_BUCKETS,
            registry,
        )
        self.queue_depth = Gauge(
            "kgtwin_ingest_queue_depth",
            "Messages received and not yet written.",
            registry=registry,
        )
        self.stale_points = Gauge(
            "kgtwin_ingest_stale_points",
            "Points marked stale: no data for three of their expected intervals.",
            registry=registry,
        )
        self.connected = Gauge(
            "kgtwin_ingest_connected",
            "1 while the worker is connected to the MQTT broker.",
            registry=registry,
        )
        self.pending = Gauge(
            "kgtwin_ingest_pending",
            "Messages received and not yet acknowledged (or dropped).",
            registry=registry,
        )
        self.queued_bytes = Gauge(
            "kgtwin_ingest_queued_bytes",
            "Bytes held for messages received and not yet acknowledged (max_queued_bytes).",
            registry=registry,
        )
        self.stalled = Gauge(
            "kgtwin_ingest_stalled",
            "1 while messages are pending and none was finished for stall_after seconds.",
            registry=registry,
        )
        self.pipeline_errors = Counter(
            "kgtwin_ingest_pipeline_errors",
            "Unexpected errors (bugs) in the worker, by thread; each is logged with a traceback.",
            ["thread"],
            registry=registry,
        )
        self.restarts = Counter(
            "kgtwin_ingest_restarts",
            "MQTT connections the worker gave up so that the broker delivers again what was not "
            "acknowledged, by reason: dead_letters (not taken by the broker) or pipeline_error.",
            ["reason"],
            registry=registry,
        )


class BatchHistogram(Collector):
    """A Prometheus histogram observed a batch at a time: prometheus_client's ``Histogram``
    takes a lock per value, which for a write of thousands of values costs the worker's
    finisher thread more than the rest of its bookkeeping. Exposed as a ``Histogram`` is,
    without the optional ``_created`` sample."""

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self._bounds = (*sorted(buckets), math.inf)
        self._counts = [0] * len(self._bounds)  # per bucket, not cumulative
        self._sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        bounds, counts, total = self._bounds, [0] * len(self._bounds), 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1  # the first bucket with value <= le
            total += value
        with self._lock:
            self._counts = [mine + new for mine, new in zip(self._counts, counts, strict=True)]
            self._sum += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = self._counts, self._sum
        cumulative, buckets = 0, []
        for bound, count in zip(self._bounds, counts, strict=True):
            cumulative += count
            buckets.append((_le(bound), cumulative))
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=total)


def _le(bound: float) -> str:
    """A bucket's ``le`` label as prometheus_client writes it (``0.25``, ``1.0``, ``+Inf``)."""
    return "+Inf" if bound == math.inf else repr(float(bound))
