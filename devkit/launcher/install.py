"""Fetching the jars of Neo4j and Neo4j Browser from Maven Central, once per version.

``install`` writes a small pom into ``root/lib/neo4j-VERSION`` and has Maven copy the
runtime dependencies of ``org.neo4j:neo4j`` and ``org.neo4j.client:neo4j-browser`` next to
it (about 125 MB; Maven keeps its own copy in ``~/.m2``). A marker file naming both
versions records a completed install, so later calls return at once without Maven; a lock
file makes concurrent installs of the same version wait for each other.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

from kgtwin.devkit.errors import DownloadFailed
from kgtwin.devkit.launcher.config import LocalNeo4jConfig, Progress
from kgtwin.devkit.launcher.files import exclusive, read_text, tail_text, write_atomic

logger = logging.getLogger(__name__)

BROWSER_VERSION = "5.24.0"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"

_MAVEN_TIMEOUT = 1800.0

_POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kgtwin (devkit/launcher/install.py): the jars of a local Neo4j server. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kgtwin.local</groupId>
  <artifactId>neo4j-runtime</artifactId>
  <version>{neo4j}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j</artifactId>
      <version>{neo4j}</version>
    </dependency>
    <dependency>
      <groupId>org.neo4j.client</groupId>
      <artifactId>neo4j-browser</artifactId>
      <version>{browser}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def install(cfg: LocalNeo4jConfig, progress: Progress) -> Path:
    """Fetch the Neo4j and Neo4j Browser jars with Maven, once; return the folder holding them.

    A marker file records a completed install, so later calls return at once without Maven.
    """
    lib = cfg.lib_dir.resolve()
    lib.mkdir(parents=True, exist_ok=True)
    marker = lib / ".installed"
    expected = f"neo4j={cfg.version}\nneo4j-browser={BROWSER_VERSION}\n"
    if read_text(marker) == expected:
        return lib
    with exclusive(lib / ".install.lock"):
        if read_text(marker) == expected:  # another process finished it meanwhile
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise DownloadFailed(
                "Maven ('mvn') is not on PATH; it is needed once to fetch the Neo4j jars. "
                "Install Maven 3.6 or newer (e.g. 'apt install maven' or 'brew install maven') "
                "and run again."
            )
        marker.unlink(missing_ok=True)
        for old in lib.glob("*.jar"):
            old.unlink()
        pom = lib / "pom.xml"
        pom.write_text(
            _POM.format(
                neo4j=cfg.version, browser=BROWSER_VERSION, plugin=DEPENDENCY_PLUGIN_VERSION
            ),
            encoding="utf-8",
        )
        progress(
            f"Fetching Neo4j {cfg.version} and Neo4j Browser {BROWSER_VERSION} with Maven "
            f"into {lib} (about 125 MB, first time only)"
        )
        started = time.monotonic()
        _run_maven(mvn, pom, lib)
        jars = sorted(lib.glob("*.jar"))
        if not any(jar.name.startswith(f"org.neo4j.neo4j-{cfg.version}") for jar in jars):
            raise DownloadFailed(
                f"Maven finished but {lib} holds no neo4j-{cfg.version} jar; delete {lib} "
                "and run again."
            )
        write_atomic(marker, expected)
        progress(f"Fetched {len(jars)} jars in {time.monotonic() - started:.0f} s")
    return lib


def _run_maven(mvn: str, pom: Path, lib: Path) -> None:
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={lib}",
        "-DincludeScope=runtime",
        # Two artifacts may share an artifactId across groups; keep both.
        "-Dmdep.prependGroupId=true",
    ]
    logger.info("running %s", " ".join(command))
    try:
        done = subprocess.run(
            command,
            cwd=lib,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_MAVEN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DownloadFailed(
            f"Maven did not finish fetching the Neo4j jars within {_MAVEN_TIMEOUT:.0f} s; "
            "check network access to Maven Central (or the mirror in ~/.m2/settings.xml) "
            "and run again."
        ) from exc
    except OSError as exc:
        raise DownloadFailed(f"Could not run Maven at {mvn}: {exc}") from exc
    if done.returncode != 0:
        raise DownloadFailed(
            f"Maven could not fetch the Neo4j jars (exit code {done.returncode}); "
            f"its last lines:\n{tail_text(done.stdout + done.stderr)}\n"
            "Check network access to Maven Central (or the mirror in ~/.m2/settings.xml) "
            f"and that the versions exist, then run again (the pom is {pom})."
        )
