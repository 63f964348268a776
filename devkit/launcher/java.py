"""Finding a usable ``java`` (17 or newer), and the command line that runs Neo4j on it.

``find_java`` serves every local server (``devkit.questdb`` too). Neo4j is started
without its shell scripts: a plain JVM on the shared jars, with the entry point and the JVM
options those scripts would pass. The entry point and the ``--home-dir`` argument are also
how its process is recognised among the machine's (:func:`neo4j_process`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from kgtwin.devkit.errors import JavaMissing
from kgtwin.devkit.launcher.config import LocalNeo4jConfig
from kgtwin.devkit.launcher.files import tail_text
from kgtwin.devkit.launcher.process import ServerProcess

ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"

_MIN_JAVA = 17
_JAVA_VERSION = re.compile(r'version "([0-9]+)(?:\.([0-9]+))?')


def find_java(configured: Path | None, setting: str, needs: str) -> str:
    """The java executable to run a server on, checked to be 17 or newer: ``configured``
    (the config field named ``setting``) if given, else ``$JAVA_HOME/bin/java`` if
    ``JAVA_HOME`` is set, else ``java`` on ``PATH``. ``needs`` says which Java the server
    needs, for messages ("Neo4j 5.26.30 needs Java 17 or 21")."""
    java_home = os.environ.get("JAVA_HOME")
    if configured is not None:
        candidate, origin = str(configured), setting
    elif java_home:
        candidate, origin = str(Path(java_home) / "bin" / "java"), f"JAVA_HOME={java_home}"
    else:
        found = shutil.which("java")
        if found is None:
            raise JavaMissing(
                f"No 'java' on PATH. {needs}: install one (e.g. 'apt install "
                "openjdk-17-jre-headless') or set JAVA_HOME."
            )
        candidate, origin = found, "PATH"
    try:
        done = subprocess.run(
            [candidate, "-version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaMissing(
            f"Cannot run java at {candidate} (from {origin}): {exc}. Point JAVA_HOME at a Java "
            f"{_MIN_JAVA}+ installation or put one on PATH."
        ) from exc
    output = done.stderr + done.stdout
    match = _JAVA_VERSION.search(output)
    if done.returncode != 0 or match is None:
        raise JavaMissing(
            f"'{candidate} -version' (from {origin}) failed or printed no version:\n"
            f"{tail_text(output, 5)}\nPoint JAVA_HOME at a Java {_MIN_JAVA}+ installation."
        )
    major = int(match[1])
    if major == 1 and match[2]:  # "1.8.0_292" style
        major = int(match[2])
    if major < _MIN_JAVA:
        raise JavaMissing(
            f"{candidate} (from {origin}) is Java {major}; {needs}. Install one and point "
            "JAVA_HOME at it."
        )
    return candidate


def neo4j_java(cfg: LocalNeo4jConfig) -> str:
    """The java executable for ``cfg`` (see :class:`LocalNeo4jConfig`)."""
    return find_java(cfg.java, "LocalNeo4jConfig.java", f"Neo4j {cfg.version} needs Java 17 or 21")


def neo4j_process(home: Path) -> ServerProcess:
    """How the Neo4j JVM of the instance in ``home`` shows among the machine's processes."""
    return ServerProcess("Neo4j", home, (ENTRY_POINT, home_argument(home)))


def home_argument(home: Path) -> str:
    """The argument naming the instance folder; with ``ENTRY_POINT`` it identifies the JVM."""
    return f"--home-dir={home}"


def java_command(java: str, lib: Path, cfg: LocalNeo4jConfig, home: Path) -> list[str]:
    """The argv that runs the instance in ``home`` on the jars in ``lib``."""
    # Started without Neo4j's shell script, so the heap is set on the JVM here; the options
    # are the ones that script passes by default, and a G1 pause goal of 50 ms instead of
    # 200: live values are written in transactions of thousands of rows, and on a 2-core
    # machine shared with the broker and the ingestion worker the longest young-generation
    # pause measured 482 ms with the default and 161 ms with this (bench/ingest.py, the
    # synthetic site, one run each), each pause holding every write back.
    return [
        java,
        f"-Xms{cfg.heap}",
        f"-Xmx{cfg.heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=50",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:+DisableExplicitGC",
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "-Dio.netty.tryReflectionSetAccessible=true",
        "-Djdk.nio.maxCachedBufferSize=1024",
        "-Dlog4j2.disable.jmx=true",
        "-Dfile.encoding=UTF-8",
        "-cp",
        f"{lib}/*",
        ENTRY_POINT,
        home_argument(home),
        f"--config-dir={home / 'conf'}",
    ]
