"""``kgtwin validate`` and ``kgtwin load``: what they show while they work and when done.

Three ways to run either: for a person (the phases as they go on stderr, a bar on a
terminal and plain lines elsewhere, see :mod:`server.progress`, then a summary), with
``--quiet`` (only the problems, and errors; the exit status says the rest) and with
``--json`` (one JSON document on stdout, nothing on stderr but errors).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from kgtwin.graph.connection import open_driver, ping
from kgtwin.graph.summary import ModelInfo
from kgtwin.graph.sync import Progress, SyncSummary
from kgtwin.ontology.problems import Problem
from kgtwin.ontology.standards import STANDARDS
from kgtwin.ontology.validate import Ontology, Report
from kgtwin.server.loading import load_model, validate_model
from kgtwin.server.progress import ProgressDisplay, silent
from kgtwin.server.settings import Settings

EVENT_TIMEOUT = 5.0  # seconds the broker has to take a load's modelLoaded event


class Output(Enum):
    """Who reads the command's output."""

    PERSON = "person"
    QUIET = "quiet"
    JSON = "json"


def cmd_validate(
    settings: Settings, files: list[Path], output: Output, out: TextIO, err: TextIO
) -> int:
    shown, display = _progress(output, err)
    ontology = _read_ontology(settings, shown)
    report, seconds = validate_model(files, ontology, shown)
    display.finish()
    if output is Output.JSON:
        _print_json(out, _report_json(report, seconds))
        return 0 if report.ok else 1
    _print_problems(report.problems, out)
    if output is Output.PERSON:
        names = ", ".join(str(f) for f in files)
        if report.ok:
            print(f"{names}: valid ({report.triples:,} triples, {seconds:.2f} s)", file=err)
        else:
            print(f"{names}: {len(report.problems)} problem(s)", file=err)
    return 0 if report.ok else 1


def cmd_load(
    settings: Settings,
    files: list[Path],
    model: str,
    sizes: tuple[int, int, int],
    output: Output,
    out: TextIO,
    err: TextIO,
    *,
    verify: bool = False,
) -> int:
    shown, display = _progress(output, err)
    ontology = _read_ontology(settings, shown)
    uri, user, password = settings.neo4j_connection()
    driver = open_driver(uri, user, password)

    def waiting(name: str) -> None:
        display.finish()
        if output is Output.PERSON:
            print(f"kgtwin: waiting for another load of model {name!r} to finish", file=err)

    try:
        ping(driver, settings.neo4j_database)
        result = load_model(
            driver,
            files,
            model,
            ontology,
            database=settings.neo4j_database,
            progress=shown,
            batch_size=sizes[0],
            transaction_rows=sizes[1],
            writers=sizes[2],
            waiting=waiting,
            verify=verify,
        )
    finally:
        driver.close()
        display.finish()
    report = result.report
    if result.unchanged is not None:
        return _print_unchanged(result.unchanged, output, out)
    if result.model is not None:
        _tell_loaded(settings, result.model, files, err)
    if output is Output.JSON:
        document = _report_json(report, result.validate_seconds)
        document["ontology"] = _summary_json(result.ontology)
        document["model"] = _summary_json(result.model)
        _print_json(out, document)
        return 0 if report.ok else 1
    _print_problems(report.problems, out)
    if not report.ok:
        print(f"{len(report.problems)} problem(s); nothing was loaded", file=err)
        return 1
    if output is Output.PERSON:
        print(f"validated {report.triples:,} triples in {result.validate_seconds:.2f} s", file=out)
        for summary in (result.ontology, result.model):
            if summary is not None:
                print(render_summary(summary), file=out)
    return 0


def _tell_loaded(settings: Settings, summary: SyncSummary, files: list[Path], err: TextIO) -> None:
    """Publish the ``modelLoaded`` event when a broker is configured; a broker that does not
    take it is said, and the load stands."""
    if settings.mqtt_url is None:
        return
    from kgtwin.ingest.outbound.changes import model_loaded, publish_once

    client_id = f"kgtwin-load-{socket.gethostname()}-{os.getpid()}"
    event = model_loaded(summary, [str(f) for f in files], source=f"/kgtwin/load/{client_id}")
    if not publish_once(settings.broker_address(), client_id, [event], EVENT_TIMEOUT):
        print(
            f"kgtwin: warning: the model was loaded, but the broker at "
            f"{settings.broker_address().safe_url} did not take its modelLoaded event "
            f"within {EVENT_TIMEOUT:g} s",
            file=err,
        )


def _print_unchanged(loaded: ModelInfo, output: Output, out: TextIO) -> int:
    if output is Output.JSON:
        _print_json(
            out,
            {
                "unchanged": {
                    "model": loaded.name,
                    "digest": loaded.digest,
                    "loadedAt": loaded.loaded_at,
                    "nodes": loaded.nodes,
                    "relationships": loaded.relationships,
                }
            },
        )
    elif output is Output.PERSON:
        print(
            f"model {loaded.name!r} already up to date: loaded from these files (digest "
            f"{loaded.digest[:12]}) with this ontology at {loaded.loaded_at}, {loaded.nodes:,} "
            f"nodes and {loaded.relationships:,} relationships; nothing validated or written "
            "(--verify validates and syncs them, repairing changes made by hand in the graph)",
            file=out,
        )
    return 0


def render_summary(s: SyncSummary) -> str:
    state = "loaded" if s.changed else "already up to date"
    repaired = f", {s.rels_repaired:,} repaired" if s.rels_repaired else ""
    return (
        f"model {s.model!r} {state} in {s.seconds:.2f} s: "
        f"nodes {s.nodes_created:,} created, {s.nodes_updated:,} updated, "
        f"{s.nodes_removed:,} removed, {s.nodes_unchanged:,} unchanged; "
        f"relationships {s.rels_created:,} created, {s.rels_removed:,} removed, "
        f"{s.rels_unchanged:,} unchanged{repaired}"
    )


class _Silent:
    def finish(self) -> None:
        return None


def _progress(output: Output, err: TextIO) -> tuple[Progress, ProgressDisplay | _Silent]:
    if output is not Output.PERSON:
        return silent, _Silent()
    display = ProgressDisplay(err)
    return display, display


def _read_ontology(settings: Settings, progress: Progress) -> Ontology:
    progress("reading the ontology", 0, 0)
    return Ontology.load(settings.ontology_files)


def _print_problems(problems: Sequence[Problem], out: TextIO) -> None:
    for problem in problems:
        print(problem.render(), file=out)
    out.flush()  # the problems before the summary when both go to one terminal


def _report_json(report: Report, seconds: float) -> dict[str, Any]:
    problems = [
        {
            "file": str(p.file) if p.file else None,
            "line": p.line,
            "subject": p.subject,
            "property": p.property,
            "message": p.message,
            "expected": p.expected,
            "found": p.found,
            "kind": p.kind,
            "severity": p.severity,
        }
        for p in report.problems
    ]
    return {
        "ok": report.ok,
        "triples": report.triples,
        "seconds": round(seconds, 3),
        "problems": problems,
    }


def _summary_json(summary: SyncSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {**asdict(summary), "seconds": round(summary.seconds, 3), "changed": summary.changed}


def _print_json(out: TextIO, document: dict[str, Any]) -> None:
    json.dump(document, out, indent=2)
    print(file=out)


def add_ontology_arguments(command: argparse.ArgumentParser) -> None:
    """--ontology and --vocabulary, for every command that reads the ontology's files
    (applied with :meth:`Settings.with_ontology`)."""
    command.add_argument(
        "--ontology",
        action="append",
        type=Path,
        metavar="TTL",
        help="ontology file (repeatable; default: every .ttl under ontology/ but sites/ and "
        "alignments/)",
    )
    command.add_argument(
        "--vocabulary",
        action="append",
        choices=sorted(STANDARDS),
        metavar="NAME",
        help="add a standard vocabulary and its alignment (repeatable): "
        + ", ".join(sorted(STANDARDS))
        + " (Brick 1.5, from the brickschema package)",
    )
