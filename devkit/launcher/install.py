"""Fetching the jars of Neo4j and Neo4j Browser from Maven Central, once per version.

``install`` has Maven copy the runtime dependencies of ``org.neo4j:neo4j`` and
``org.neo4j.client:neo4j-browser`` into ``root/lib/neo4j-VERSION`` (about 125 MB), the way
:mod:`devkit.launcher.maven` fetches any local server's jars: once, behind a marker file
and a lock.
"""

from __future__ import annotations

from pathlib import Path

from kgtwin.devkit.launcher.config import LocalNeo4jConfig, Progress
from kgtwin.devkit.launcher.maven import Artifact, fetch

BROWSER_VERSION = "5.24.0"


def install(cfg: LocalNeo4jConfig, progress: Progress) -> Path:
    """Fetch the Neo4j and Neo4j Browser jars with Maven, once; return the folder holding them.

    A marker file records a completed install, so later calls return at once without Maven.
    """
    artifacts = (
        Artifact("org.neo4j", "neo4j", cfg.version, "Neo4j"),
        Artifact("org.neo4j.client", "neo4j-browser", BROWSER_VERSION, "Neo4j Browser"),
    )
    return fetch(cfg.lib_dir, artifacts, "about 125 MB", progress)
