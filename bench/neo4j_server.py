"""The Neo4j a benchmark runs against, and a way to empty it.

NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server (``devkit.launcher``)
started for the run on free ports and stopped after. Not named ``neo4j.py``: a script run
as ``python bench/X.py`` has ``bench/`` on ``sys.path``, where that name would shadow the
Neo4j driver.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import LiteralString

from neo4j import Driver

from kgtwin.devkit import launcher
from kgtwin.devkit.launcher.memory import format_size
from kgtwin.server.settings import Settings

REPO = Path(__file__).resolve().parent.parent

# Relationships first: a node's DETACH DELETE takes all its relationships into one
# transaction, which for a hub of a million-asset site exceeds Neo4j's transaction memory.
DELETE_RELATIONSHIPS: LiteralString = (
    "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS"
)
DELETE_NODES: LiteralString = "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS"


@contextmanager
def neo4j_server(
    name: str, *, heap: str | None = "3g", pagecache: str | None = "1g", fresh: bool = False
) -> Iterator[tuple[str, str, str | None]]:
    """URI, user and password of a running Neo4j: NEO4J_URI's, else a local instance
    ``.kgtwin/NAME`` started now on free ports and stopped on exit. ``heap`` or
    ``pagecache`` None: sized from the machine, as ``kgtwin neo4j start`` does. ``fresh``: the
    local instance starts with an empty database, as a new user's does (a store emptied by
    Cypher keeps the deleted records' space, and a million-asset load into it was slower)."""
    settings = Settings.from_env()
    if settings.neo4j_uri:
        yield settings.neo4j_connection()
        return
    if fresh:
        for folder in ("databases", "transactions"):
            shutil.rmtree(REPO / ".kgtwin" / name / "data" / folder / "neo4j", ignore_errors=True)
    bolt, http = launcher.free_ports(2)
    if heap is None or pagecache is None:
        sized = launcher.machine_sizes(launcher.machine_memory())
        heap = heap or format_size(sized[0])
        pagecache = pagecache or format_size(sized[1])
    config = launcher.LocalNeo4jConfig(
        root=REPO / ".kgtwin",
        name=name,
        bolt_port=bolt,
        http_port=http,
        heap=heap,
        pagecache=pagecache,
    )
    status = launcher.start(config, progress=lambda line: print(line, file=sys.stderr))
    try:
        yield status.bolt_uri, status.user, status.password
    finally:
        launcher.stop(config)


def neo4j_pid(name: str) -> int | None:
    """The pid of the local benchmark Neo4j ``name`` if it runs, else None (NEO4J_URI's)."""
    try:
        pid = int((REPO / ".kgtwin" / name / "run" / "neo4j.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def empty_database(driver: Driver) -> None:
    """Delete every node and relationship (constraints and indexes stay)."""
    with driver.session() as session:
        session.run(DELETE_RELATIONSHIPS).consume()
        session.run(DELETE_NODES).consume()
