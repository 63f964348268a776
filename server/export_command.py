"""``kgtwin export``: what the graph holds for a model, written back as RDF (Turtle or
JSON-LD) in the ontology's own vocabulary, with the live values when asked.

Wires ``graph.export`` (the pages read from Neo4j) to ``ontology.rdf_out`` (pure RDF
writing); the output is written whole or not at all (a file is replaced only once the
export is complete).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rdflib import Graph

from kgtwin.graph.connection import open_driver, ping
from kgtwin.graph.export import PAGE_SIZE, PAGE_TIMEOUT, model_size, read_model
from kgtwin.graph.reader import Reader
from kgtwin.graph.sync import Progress
from kgtwin.ontology.rdf_out import (
    FORMATS,
    RdfWriter,
    expected_datatypes,
    ontology_prefixes,
    serialize,
)
from kgtwin.ontology.validate import Ontology
from kgtwin.server.commands import Subcommands
from kgtwin.server.model_commands import add_ontology_arguments
from kgtwin.server.progress import ProgressDisplay, silent
from kgtwin.server.settings import Settings, check_model_name

READING = "reading the graph"
WRITING = "writing"

EXAMPLES = (
    "  kgtwin export --model dc1 -o dc1.ttl       the model dc1 as Turtle, as the graph holds it",
)

DESCRIPTION = """\
Write what the graph holds for model NAME as RDF, in the ontology's own vocabulary: each
twin with its most specific classes, its properties (typed as the ontology expects) and its
relationships to the other twins of the model. The export validates, and loads back into
the same nodes and relationships: `kgtwin validate FILE`, `kgtwin load FILE`.
With --live, the live state of each node (value, observedAt, receivedAt, quality, stale, and
any other key the model did not set) is added in the namespace
https://w3id.org/kgtwin/live# (prefix kgtlive:), which a load ignores.
Exit status: 0 written, 1 an error (nothing is written), 2 a bad argument or unknown model.
"""


@dataclass(frozen=True, slots=True)
class Export:
    """An exported model: its RDF, and what the ontology could not name (left out)."""

    graph: Graph
    nodes: int
    relationships: int
    skipped: dict[str, dict[str, int]] = field(hash=False)


def export_model(
    reader: Reader,
    model: str,
    ontology: Ontology,
    *,
    live: bool = False,
    page_size: int = PAGE_SIZE,
    progress: Progress = silent,
) -> Export:
    """Model ``model`` as RDF; raises ``UnknownModel`` if the graph holds no such model."""
    total = model_size(reader, model)
    writer = RdfWriter(
        ontology.vocabulary,
        expected_datatypes(ontology.graph, ontology.vocabulary),
        prefixes=ontology_prefixes(ontology.files),
        model_prefix=model,
        live=live,
    )
    nodes = relationships = 0
    progress(READING, 0, total)
    for page in read_model(reader, model, page_size=page_size):
        writer.add(page.nodes, page.rels)
        nodes += len(page.nodes)
        relationships += len(page.rels)
        progress(READING, nodes, max(total, nodes))
    skipped = {kind: dict(names) for kind, names in writer.skipped.items()}
    return Export(writer.finish(), nodes, relationships, skipped)


def add_export_parser(commands: Subcommands) -> argparse.ArgumentParser:
    export = commands.add_parser(
        "export",
        help="write a model as the graph holds it back to RDF (Turtle or JSON-LD)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "--model", required=True, metavar="NAME", help="the model to export (see `kgtwin info`)"
    )
    export.add_argument(
        "--format",
        dest="form",
        choices=list(FORMATS),
        default="turtle",
        help="turtle (default) or jsonld (JSON-LD, compacted with the ontology's prefixes)",
    )
    export.add_argument(
        "--live",
        action="store_true",
        help="add each node's live state (kgtlive:value, kgtlive:observedAt, ...)",
    )
    export.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="FILE",
        help="write to FILE (replaced only once the export is complete; default: stdout)",
    )
    add_ontology_arguments(export)
    export.add_argument(
        "--page-size",
        type=_positive,
        default=PAGE_SIZE,
        metavar="N",
        help=f"nodes read from Neo4j per statement (default {PAGE_SIZE:,})",
    )
    export.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress and no summary: only warnings, errors and the exit status",
    )
    return export


def cmd_export(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = check_model_name(args.model)
    display = None if args.quiet else ProgressDisplay(err)
    progress: Progress = display or silent
    started = time.perf_counter()
    progress("reading the ontology", 0, 0)
    ontology = Ontology.load(settings.with_ontology(args.ontology, args.vocabulary).ontology_files)
    uri, user, password = settings.neo4j_connection()
    driver = open_driver(uri, user, password)
    try:
        ping(driver, settings.neo4j_database)
        reader = Reader(driver, settings.neo4j_database, timeout=PAGE_TIMEOUT)
        result = export_model(
            reader,
            model,
            ontology,
            live=args.live,
            page_size=args.page_size,
            progress=progress,
        )
    finally:
        driver.close()
    progress(f"{WRITING} {args.form}", 0, 0)
    text = serialize(result.graph, args.form)
    if args.output is None:
        out.write(text)
        out.flush()
    else:
        try:
            _write_whole(args.output, text)
        except OSError as exc:
            print(f"kgtwin: error: cannot write {args.output}: {exc.strerror or exc}", file=err)
            return 1
    if display is not None:
        display.finish()
    for kind, names in sorted(result.skipped.items()):
        listed = ", ".join(f"{name} ({count})" for name, count in sorted(names.items())[:10])
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        print(
            f"kgtwin: warning: left out, the ontology has no {kind} for: {listed}{more}",
            file=err,
        )
    if not args.quiet:
        where = "stdout" if args.output is None else str(args.output)
        print(
            f"model {model!r}: {result.nodes:,} nodes, {result.relationships:,} relationships, "
            f"{len(result.graph):,} triples written to {where} "
            f"({time.perf_counter() - started:.2f} s)",
            file=err,
        )
    return 0


def _write_whole(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file beside it, so a reader never sees
    half an export and a failed one leaves the old file as it was."""
    folder = path.resolve().parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o666 & ~_umask())  # as a plain open() would make it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {value!r}")
    return number
