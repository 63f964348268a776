"""The Neo4j a benchmark runs against, and a way to empty it.

NEO4J_URI (+ NEO4J_USER / NEO4J_PASSWORD) if set, else a local server (``devkit.launcher``)
started for the run on free ports and stopped after. Not named ``neo4j.py``: a script run
as ``python bench/X.py`` has ``bench/`` on ``sys.path``, where that name would shadow the
Neo4j driver.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import LiteralString

from neo4j import Driver

from kgtwin.devkit import launcher
from kgtwin.server.settings import Settings

REPO = Path(__file__).resolve().parent.parent

DELETE_EVERYTHING: LiteralString = (
    "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
)


@contextmanager
def neo4j_server(
    name: str, *, heap: str = "3g", pagecache: str = "1g"
) -> Iterator[tuple[str, str, str | None]]:
    """URI, user and password of a running Neo4j: NEO4J_URI's, else a local instance
    ``.kgtwin/NAME`` started now on free ports and stopped on exit."""
    settings = Settings.from_env()
    if settings.neo4j_uri:
        yield settings.neo4j_connection()
        return
    bolt, http = launcher.free_ports(2)
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


def empty_database(driver: Driver) -> None:
    """Delete every node and relationship (constraints and indexes stay)."""
    with driver.session() as session:
        session.run(DELETE_EVERYTHING).consume()
