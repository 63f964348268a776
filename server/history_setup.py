"""The history writer of an ingestion worker, from the settings (or none, said once)."""

from __future__ import annotations

from typing import TextIO

from prometheus_client import CollectorRegistry

from kgtwin.ingest.history.metrics import HistoryMetrics
from kgtwin.ingest.history.spool import SpoolError
from kgtwin.ingest.history.writer import HistoryWriter
from kgtwin.server.settings import Settings, SettingsError


def open_history(
    settings: Settings, registry: CollectorRegistry, err: TextIO | None = None
) -> HistoryWriter | None:
    """The writer the settings ask for, its metrics in ``registry``; None when history is
    off. Where history goes (or why there is none) is printed once on ``err``."""
    config = settings.history_config()
    if err is not None:
        print(f"kgtwin: {settings.history_status()}", file=err, flush=True)
    if config is None:
        return None
    try:
        return HistoryWriter(config, HistoryMetrics(registry))
    except SpoolError as exc:
        raise SettingsError(str(exc)) from None
