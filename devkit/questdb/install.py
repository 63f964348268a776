"""Fetching QuestDB's jar from Maven Central, once per version.

``org.questdb:questdb`` is one jar with no runtime dependencies (about 30 MB): the server,
its web console and its native libraries. Maven copies it into ``root/lib/questdb-VERSION``
the way :mod:`devkit.launcher.maven` fetches any local server's jars: once, behind a marker
file and a lock.
"""

from __future__ import annotations

from pathlib import Path

from kgtwin.devkit.launcher.config import Progress
from kgtwin.devkit.launcher.maven import Artifact, fetch
from kgtwin.devkit.questdb.config import LocalQuestDBConfig


def install(cfg: LocalQuestDBConfig, progress: Progress) -> Path:
    """Fetch the QuestDB jar with Maven, once; return the jar."""
    artifact = Artifact("org.questdb", "questdb", cfg.version, "QuestDB")
    return fetch(cfg.lib_dir, (artifact,), "about 30 MB", progress) / artifact.jar
