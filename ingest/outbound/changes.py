"""Events of the twin's own changes: a model loaded (what changed) and a scenario saved, and
a one-shot publication for a command that exits once it is done (``kgtwin load``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from kgtwin.graph.sync import SyncSummary
from kgtwin.ingest.address import BrokerAddress
from kgtwin.ingest.outbound.envelope import TwinEvent
from kgtwin.ingest.outbound.kinds import Kind
from kgtwin.ingest.outbound.listener import moment
from kgtwin.ingest.outbound.publisher import EventPublisher

TWIN = "_twin"  # the model level of events about the twin as a whole (a scenario)


def model_loaded(summary: SyncSummary, files: Sequence[str], source: str) -> TwinEvent:
    now = time.time()
    return TwinEvent(
        Kind.MODEL_LOADED,
        summary.model,
        {
            "model": summary.model,
            "files": list(files),
            "changed": summary.changed,
            "nodes": {
                "created": summary.nodes_created,
                "updated": summary.nodes_updated,
                "removed": summary.nodes_removed,
                "unchanged": summary.nodes_unchanged,
            },
            "relationships": {
                "created": summary.rels_created,
                "removed": summary.rels_removed,
                "unchanged": summary.rels_unchanged,
                "repaired": summary.rels_repaired,
            },
            "seconds": round(summary.seconds, 3),
            "at": moment(now),
        },
        subject=summary.model,
        time=now,
        source=source,
    )


def scenario_saved(
    scenario_id: str,
    name: str,
    mode: str,
    failed: Sequence[str],
    impacted: int,
    created_by: str | None,
    source: str,
) -> TwinEvent:
    now = time.time()
    return TwinEvent(
        Kind.SCENARIO_SAVED,
        TWIN,
        {
            "model": TWIN,
            "scenarioId": scenario_id,
            "name": name,
            "mode": mode,
            "failed": list(failed),
            "impactedCount": impacted,
            "createdBy": created_by,
            "at": moment(now),
        },
        subject=scenario_id,
        time=now,
        source=source,
    )


def publish_once(
    address: BrokerAddress, client_id: str, events: Sequence[TwinEvent], timeout: float
) -> bool:
    """Publish ``events`` on a connection of their own; whether the broker took them all
    within ``timeout`` seconds."""
    publisher = EventPublisher(address, client_id)
    publisher.start()
    try:
        publisher.publish(events)
        return publisher.flush(timeout) and publisher.published == len(events)
    finally:
        publisher.stop(0.0)
