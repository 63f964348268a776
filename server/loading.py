"""The load workflow: validate a model, then sync the ontology and the model into Neo4j.

Wires ``ontology`` (pure) to ``graph`` (Neo4j); the CLI's ``validate``, ``load`` and
``demo`` commands call it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from neo4j import Driver

from kgtwin.graph.errors import CommitUnknown, Neo4jUnavailable
from kgtwin.graph.ontology_guard import check_ontology_covers
from kgtwin.graph.schema import ensure_schema
from kgtwin.graph.sync import (
    BATCH_SIZE,
    ONE_TRANSACTION,
    ONTOLOGY,
    TRANSACTION_ROWS,
    Progress,
    SyncSummary,
    sync_model,
)
from kgtwin.ontology.mapping import ONTOLOGY_MODEL, TWIN_LABEL, map_ontology
from kgtwin.ontology.validate import Ontology, Report, validate


@dataclass(frozen=True, slots=True)
class LoadResult:
    report: Report
    validate_seconds: float
    ontology: SyncSummary | None = None
    model: SyncSummary | None = None


def validate_model(
    files: Sequence[Path], ontology: Ontology, progress: Progress | None = None
) -> tuple[Report, float]:
    started = time.perf_counter()
    report = validate(files, ontology, progress)
    return report, time.perf_counter() - started


def load_model(
    driver: Driver,
    files: Sequence[Path],
    model: str,
    ontology: Ontology,
    *,
    database: str | None = None,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    transaction_rows: int = TRANSACTION_ROWS,
    waiting: Callable[[str], None] | None = None,
) -> LoadResult:
    """Validate ``files``; if they pass, sync the ontology and then the model.

    ``waiting(model)`` is called when another load of that model (the ontology's, or this
    one's) keeps this one waiting. Raises ``CommitUnknown`` only when whether *the model*
    was saved is unknown; a lost commit of the ontology means the model was not loaded.
    """
    report, seconds = validate_model(files, ontology, progress)
    if not report.ok:
        return LoadResult(report, seconds)
    desired = report.raise_for_problems()
    ensure_schema(driver, database)
    vocabulary = ontology.vocabulary
    check_ontology_covers(
        driver,
        {TWIN_LABEL, *(c.name for c in vocabulary.classes.values())},
        {p.rel_type for p in vocabulary.properties.values() if p.kind != "annotation"},
        model,
        database,
    )
    try:
        ontology_summary = sync_model(
            driver,
            ONTOLOGY_MODEL,
            map_ontology(ontology.vocabulary),
            scope=ONTOLOGY,
            transaction_rows=ONE_TRANSACTION,
            digest=ontology.digest,
            files=[str(f.path) for f in ontology.files],
            database=database,
            waiting=_told(waiting, ONTOLOGY_MODEL),
        )
    except CommitUnknown as exc:
        raise Neo4jUnavailable(f"{exc}; model {model!r} was not loaded") from exc
    model_summary = sync_model(
        driver,
        model,
        desired,
        digest=report.digest,
        files=[str(p) for p in files],
        database=database,
        progress=progress,
        batch_size=batch_size,
        transaction_rows=transaction_rows,
        waiting=_told(waiting, model),
    )
    return LoadResult(report, seconds, ontology_summary, model_summary)


def _told(waiting: Callable[[str], None] | None, model: str) -> Callable[[], None] | None:
    return None if waiting is None else lambda: waiting(model)
