"""The JVM that runs a local QuestDB: finding java, its command line and environment, and
how it shows among the machine's processes.

The server runs straight from its jar as a Java module (``-m io.questdb/...ServerMain``)
with the instance folder as its root (``-d``); the two arguments also identify its process.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kgtwin.devkit.launcher.java import find_java
from kgtwin.devkit.launcher.process import ServerProcess
from kgtwin.devkit.questdb.config import LocalQuestDBConfig

MAIN = "io.questdb/io.questdb.ServerMain"


def questdb_java(cfg: LocalQuestDBConfig) -> str:
    """The java executable for ``cfg`` (see :class:`LocalQuestDBConfig`)."""
    return find_java(
        cfg.java, "LocalQuestDBConfig.java", f"QuestDB {cfg.version} needs Java 17 or newer"
    )


def questdb_process(home: Path) -> ServerProcess:
    """How the QuestDB JVM of the instance in ``home`` shows among the machine's processes."""
    return ServerProcess("QuestDB", home, (MAIN, str(home)))


def java_command(java: str, jar: Path, home: Path) -> list[str]:
    """The argv that runs the instance in ``home`` on ``jar``."""
    # The collector QuestDB's own Docker image runs it with (its data lives off the heap,
    # so the heap stays small and the JVM's default size is plenty); a crash report goes to
    # the instance's logs rather than to whatever folder kgtwin was started from.
    return [
        java,
        "-XX:+UseParallelGC",
        f"-XX:ErrorFile={home / 'logs' / 'hs_err_pid%p.log'}",
        "-p",
        str(jar),
        "-m",
        MAIN,
        "-d",
        str(home),
    ]


def server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without ``QDB_*`` variables: QuestDB lets them override ``server.conf``,
    and the instance's config is its ``server.conf`` alone (a shell set up for another
    QuestDB must not move its ports or change its password)."""
    return {key: value for key, value in environ.items() if not key.startswith("QDB_")}
