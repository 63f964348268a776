"""``kgtwin history export``: points' history as a wide table (one column per point, one
row per time), in CSV or Parquet, built with pandas.

The points come from the graph (those of the assets of a class and its subclasses, or
given by id), their samples from QuestDB (:mod:`ingest.history.reads`, one statement per
:data:`CHUNK` points). Raw samples are outer-joined on their times; with ``--every``, one
aggregate per calendar step. The file is replaced only once it is complete.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import pandas as pd

from kgtwin.graph.connection import open_driver, ping
from kgtwin.graph.live import PointRow, read_points
from kgtwin.graph.ontology_read import read_terms
from kgtwin.graph.reader import Reader
from kgtwin.graph.sync import Progress
from kgtwin.ingest.history.reads import Aggregate, HistoryReader, Step, Window, utc
from kgtwin.server.commands import Subcommands
from kgtwin.server.progress import ProgressDisplay, silent
from kgtwin.server.settings import Settings, SettingsError

CHUNK = 100  # points per statement
DEFAULT_MAX_ROWS = 1_000_000
FORMATS = ("csv", "parquet")

EXAMPLES = (
    "  kgtwin history export --class UPS --from 2026-03-01T10:00Z --to 2026-03-01T11:00Z \\\n"
    "      --every 1m -o ups.parquet            every UPS's points, one row a minute",
)

DESCRIPTION = """\
Write the history of points as one table: a column per point (named by its id), a row per
time (UTC). Without --every, the raw samples, joined on their times (a point without a
sample at a time is empty there); with --every, one aggregate (--aggregate, default average)
per calendar step. Give the points as --class CLASS (the points of every asset of that class
or a subclass) or --points ID ... . Needs the history store (QuestDB: QUESTDB_URL, or the
local one of `kgtwin questdb start`).
Exit status: 0 written, 1 an error (nothing is written), 2 a bad argument.
"""


def add_history_parser(commands: Subcommands) -> argparse.ArgumentParser:
    history = commands.add_parser(
        "history",
        help="export telemetry history as a table (CSV or Parquet)",
        description="Telemetry history kept in QuestDB (docs/history.md).",
    )
    actions = history.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="points' history as a wide table: a column per point, a row per time",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--class", dest="class_name", metavar="CLASS", help="e.g. UPS")
    which.add_argument("--points", nargs="+", metavar="ID", help="point ids")
    export.add_argument(
        "--from",
        dest="start",
        type=_moment,
        required=True,
        metavar="TIME",
        help="ISO 8601, e.g. 2026-03-01T10:00Z (UTC when no offset is given)",
    )
    export.add_argument(
        "--to", dest="end", type=_moment, required=True, metavar="TIME", help="left out"
    )
    export.add_argument("--every", type=_step, metavar="STEP", help="e.g. 30s, 1m, 15m, 1h, 1d")
    export.add_argument(
        "--aggregate",
        type=Aggregate,
        choices=list(Aggregate),
        default=Aggregate.AVERAGE,
        metavar="HOW",
        help="with --every: " + ", ".join(a.value for a in Aggregate) + " (default average)",
    )
    export.add_argument("--format", choices=FORMATS, help="default: the output's extension")
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="replaced only once the table is complete",
    )
    export.add_argument(
        "--max-rows",
        type=int,
        default=DEFAULT_MAX_ROWS,
        metavar="N",
        help=f"refuse a table of more rows, or a point with more samples (default "
        f"{DEFAULT_MAX_ROWS:,})",
    )
    export.add_argument(
        "--questdb",
        metavar="URL",
        help="the history store's http(s)://host:port (or QUESTDB_URL; default: the local "
        "QuestDB of `kgtwin questdb start`)",
    )
    export.add_argument("-q", "--quiet", action="store_true", help="no progress")
    return history


def cmd_history(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.end <= args.start:
        raise SettingsError("--to must be after --from")
    if args.max_rows < 1:
        raise SettingsError("--max-rows must be 1 or more")
    fmt = args.format or args.output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise SettingsError(f"--format: give {' or '.join(FORMATS)} (or an output ending so)")
    db = settings.override(questdb_url=args.questdb).questdb_connection()
    if db is None:
        raise SettingsError(settings.history_status())
    display = None if args.quiet else ProgressDisplay(err)
    driver = open_driver(*settings.neo4j_connection())
    try:
        ping(driver, settings.neo4j_database)
        reader = Reader(driver, settings.neo4j_database)
        points = _points(reader, args.class_name, args.points)
    finally:
        driver.close()
    window = Window(args.start, args.end, args.every, args.aggregate)
    history = HistoryReader(db)
    try:
        table = wide_table(history, points, window, args.max_rows, display or silent)
    finally:
        history.close()
        if display is not None:
            display.finish()
    _write(table, args.output, fmt)
    print(
        f"kgtwin: wrote {args.output}: {len(table):,} rows x {len(table.columns):,} points",
        file=err,
    )
    return 0


def wide_table(
    history: HistoryReader,
    points: Sequence[PointRow],
    window: Window,
    max_rows: int,
    progress: Progress = silent,
) -> pd.DataFrame:
    """One column per point (its id; its IRI where two points share an id), indexed by
    time; ``max_rows`` bounds each point's samples and the table's rows."""
    if window.every is not None and window.steps() > max_rows:
        raise SettingsError(
            f"--every {window.every} from {window.start.isoformat()} to "
            f"{window.end.isoformat()} is {window.steps():,} rows, more than --max-rows "
            f"({max_rows:,})"
        )
    ids = [p.id for p in points]
    names = {p.iri: (p.id if ids.count(p.id) == 1 else p.iri) for p in points}
    columns: dict[str, pd.Series] = {}
    for start in range(0, len(points), CHUNK):
        chunk = [p.iri for p in points[start : start + CHUNK]]
        found = history.samples(chunk, window, max_rows)
        for iri in chunk:
            samples = found.get(iri, [])
            if len(samples) > max_rows:
                raise SettingsError(
                    f"point {names[iri]} has more than --max-rows ({max_rows:,}) samples: "
                    "give --every, a shorter window or a larger --max-rows"
                )
            values = [s.text if s.text is not None else s.value for s in samples]
            columns[names[iri]] = pd.Series(
                values, index=pd.DatetimeIndex([s.time for s in samples], tz=UTC, name="time")
            )
        progress("reading history", min(start + CHUNK, len(points)), len(points))
    empty = pd.DatetimeIndex([], tz=UTC, name="time")
    table = (pd.DataFrame(columns) if columns else pd.DataFrame(index=empty)).sort_index()
    if len(table) > max_rows:
        raise SettingsError(
            f"the table would have {len(table):,} rows, more than --max-rows ({max_rows:,}): "
            "give --every or a shorter window"
        )
    return table


def _points(reader: Reader, class_name: str | None, ids: list[str] | None) -> list[PointRow]:
    rows = read_points(reader)
    if class_name is not None:
        name = read_terms(reader).check_class(class_name).name
        chosen = [r for r in rows if name in r.asset_labels]
        if not chosen:
            raise SettingsError(f"no asset of class {name} has a telemetry point")
        return sorted(chosen, key=lambda r: (r.id, r.iri))
    assert ids is not None
    by_id: dict[str, list[PointRow]] = {}
    for row in rows:
        by_id.setdefault(row.id, []).append(row)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise SettingsError(f"no telemetry point has the id {', '.join(map(repr, missing))}")
    return [row for i in dict.fromkeys(ids) for row in by_id[i]]


def _write(table: pd.DataFrame, path: Path, fmt: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    os.close(fd)
    try:
        if fmt == "csv":
            table.to_csv(temporary, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            table.to_parquet(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: write ISO 8601, like 2026-03-01T10:00Z"
        ) from None
    return utc(moment)


def _step(text: str) -> Step:
    try:
        return Step.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
