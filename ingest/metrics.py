"""What ingestion counts, as Prometheus metrics on a registry it is given (the server's
when ingestion runs inside ``kgtwin serve``, its own for ``kgtwin ingest``).

Every message received ends in exactly one outcome: ``applied`` (its value was written),
``outdated`` (older than the value stored or superseded in its batch: by design not
written), ``deadlettered`` (by reason) or ``ignored`` (a dead letter read back).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
            "Messages by outcome: applied, outdated, deadlettered or ignored.",
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
        self.lag = Histogram(
            "kgtwin_ingest_lag_seconds",
            "End-to-end lag of applied values: receivedAt - observedAt.",
            buckets=LAG_BUCKETS,
            registry=registry,
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
