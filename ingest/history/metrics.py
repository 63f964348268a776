"""What history counts, as Prometheus metrics beside ingestion's (same registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class HistoryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.written = Counter(
            "kgtwin_history_rows_written",
            "History rows QuestDB took.",
            registry=registry,
        )
        self.dropped = Counter(
            "kgtwin_history_rows_dropped",
            "History rows not kept, by reason: spool_full (the spool was at its bound), "
            "spool_error (the spool file failed), refused (QuestDB refused the row).",
            ["reason"],
            registry=registry,
        )
        self.failures = Counter(
            "kgtwin_history_write_failures",
            "Sends to QuestDB that failed and will be retried (QuestDB away, refusing).",
            registry=registry,
        )
        self.spool_rows = Gauge(
            "kgtwin_history_spool_rows",
            "History rows in the spool, waiting for QuestDB.",
            registry=registry,
        )
        self.spool_bytes = Gauge(
            "kgtwin_history_spool_bytes",
            "Bytes of history rows in the spool (its bound: history spool_max_bytes).",
            registry=registry,
        )
        self.spool_oldest = Gauge(
            "kgtwin_history_spool_oldest_seconds",
            "Age of the oldest row in the spool (0 when empty): how far history lags.",
            registry=registry,
        )
        self.up = Gauge(
            "kgtwin_history_up",
            "1 when the last send to QuestDB succeeded, 0 while it fails.",
            registry=registry,
        )
