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
from kgtwin.graph.summary import ModelInfo, loaded_models
from kgtwin.graph.sync import (
    BATCH_SIZE,
    ONE_TRANSACTION,
    ONTOLOGY,
    TRANSACTION_ROWS,
    WRITERS,
    Progress,
    SyncSummary,
    sync_model,
)
from kgtwin.ontology.mapping import ONTOLOGY_MODEL, TWIN_LABEL, map_ontology
from kgtwin.ontology.validate import Ontology, Report, model_digest, validate


@dataclass(frozen=True, slots=True)
class LoadResult:
    report: Report
    validate_seconds: float
    ontology: SyncSummary | None = None
    model: SyncSummary | None = None
    # the model as loaded before, when the files and the ontology are those it was loaded
    # from: nothing was validated or written
    unchanged: ModelInfo | None = None


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
    writers: int = WRITERS,
    waiting: Callable[[str], None] | None = None,
    verify: bool = False,
) -> LoadResult:
    """Validate ``files``; if they pass, sync the ontology and then the model.

    Files whose digest is the one the model was loaded from, with the ontology it was
    loaded with, are neither validated nor synced (a million-asset model would take
    minutes to find nothing to do) unless ``verify``: the sync of unchanged files repairs
    what was changed by hand in the graph (:mod:`graph.sync`).

    ``waiting(model)`` is called when another load of that model (the ontology's, or this
    one's) keeps this one waiting. Raises ``CommitUnknown`` only when whether *the model*
    was saved is unknown; a lost commit of the ontology means the model was not loaded.
    """
    if not verify:
        loaded = _loaded_from(driver, files, model, ontology, database)
        if loaded is not None:
            report = Report(tuple(files), (), None, loaded.digest, 0)
            return LoadResult(report, 0.0, unchanged=loaded)
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
        writers=writers,
        waiting=_told(waiting, model),
    )
    return LoadResult(report, seconds, ontology_summary, model_summary)


def _loaded_from(
    driver: Driver, files: Sequence[Path], model: str, ontology: Ontology, database: str | None
) -> ModelInfo | None:
    """The model, if it was loaded, completely, from these files with this ontology."""
    loaded = loaded_models(driver, [model, ONTOLOGY_MODEL], database)
    found, terms = loaded.get(model), loaded.get(ONTOLOGY_MODEL)
    if found is None or found.loading_since is not None or terms is None:
        return None
    if terms.digest != ontology.digest or found.digest != model_digest(files, ontology):
        return None
    return found


def _told(waiting: Callable[[str], None] | None, model: str) -> Callable[[], None] | None:
    return None if waiting is None else lambda: waiting(model)
