"""Fetching a local server's jars from Maven Central with Maven, once per folder.

``fetch`` writes a small pom into the folder and has Maven copy the runtime dependencies of
the given artifacts next to it (Maven keeps its own copy in ``~/.m2``). A marker file naming
every artifact's version records a completed fetch, so later calls return at once without
Maven; a lock file makes concurrent fetches into one folder wait for each other. The local
Neo4j (``install.py``) and the local QuestDB (``devkit.questdb``) fetch their jars this way.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kgtwin.devkit.errors import DownloadFailed
from kgtwin.devkit.launcher.config import Progress
from kgtwin.devkit.launcher.files import exclusive, read_text, tail_text, write_atomic

logger = logging.getLogger(__name__)

DEPENDENCY_PLUGIN_VERSION = "3.8.1"

_MAVEN_TIMEOUT = 1800.0

_POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kgtwin (devkit/launcher/maven.py): the jars of a local {label} server. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kgtwin.local</groupId>
  <artifactId>{name}-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}  </dependencies>
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

_DEPENDENCY = """\
    <dependency>
      <groupId>{group}</groupId>
      <artifactId>{name}</artifactId>
      <version>{version}</version>
    </dependency>
"""


@dataclass(frozen=True, slots=True)
class Artifact:
    """A Maven Central artifact, and what a person calls it ("Neo4j Browser")."""

    group: str
    name: str
    version: str
    label: str

    @property
    def jar(self) -> str:
        """Its file name once copied (with its group prepended, as ``fetch`` has Maven do)."""
        return f"{self.group}.{self.name}-{self.version}.jar"


def fetch(lib: Path, artifacts: tuple[Artifact, ...], size: str, progress: Progress) -> Path:
    """Have Maven copy ``artifacts`` and their runtime dependencies into ``lib``, once;
    return ``lib``, resolved. The first artifact names the server in messages; ``size``
    says how much a first fetch downloads ("about 125 MB")."""
    lib = lib.resolve()
    lib.mkdir(parents=True, exist_ok=True)
    marker = lib / ".installed"
    expected = "".join(f"{artifact.name}={artifact.version}\n" for artifact in artifacts)
    if read_text(marker) == expected:
        return lib
    server = artifacts[0]
    with exclusive(lib / ".install.lock"):
        if read_text(marker) == expected:  # another process finished it meanwhile
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise DownloadFailed(
                f"Maven ('mvn') is not on PATH; it is needed once to fetch the {server.label} "
                "jars. Install Maven 3.6 or newer (e.g. 'apt install maven' or 'brew install "
                "maven') and run again."
            )
        marker.unlink(missing_ok=True)
        for old in lib.glob("*.jar"):
            old.unlink()
        pom = lib / "pom.xml"
        pom.write_text(_pom(artifacts), encoding="utf-8")
        described = " and ".join(f"{artifact.label} {artifact.version}" for artifact in artifacts)
        progress(f"Fetching {described} with Maven into {lib} ({size}, first time only)")
        started = time.monotonic()
        _run_maven(mvn, pom, lib, server.label)
        for artifact in artifacts:
            if not (lib / artifact.jar).is_file():
                raise DownloadFailed(
                    f"Maven finished but {lib} holds no {artifact.name}-{artifact.version} jar; "
                    f"delete {lib} and run again."
                )
        write_atomic(marker, expected)
        jars = len(list(lib.glob("*.jar")))
        progress(f"Fetched {jars} jars in {time.monotonic() - started:.0f} s")
    return lib


def _pom(artifacts: tuple[Artifact, ...]) -> str:
    server = artifacts[0]
    return _POM.format(
        label=server.label,
        name=server.name,
        version=server.version,
        dependencies="".join(
            _DEPENDENCY.format(group=a.group, name=a.name, version=a.version) for a in artifacts
        ),
        plugin=DEPENDENCY_PLUGIN_VERSION,
    )


def _run_maven(mvn: str, pom: Path, lib: Path, label: str) -> None:
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
            f"Maven did not finish fetching the {label} jars within {_MAVEN_TIMEOUT:.0f} s; "
            "check network access to Maven Central (or the mirror in ~/.m2/settings.xml) "
            "and run again."
        ) from exc
    except OSError as exc:
        raise DownloadFailed(f"Could not run Maven at {mvn}: {exc}") from exc
    if done.returncode != 0:
        raise DownloadFailed(
            f"Maven could not fetch the {label} jars (exit code {done.returncode}); "
            f"its last lines:\n{tail_text(done.stdout + done.stderr)}\n"
            "Check network access to Maven Central (or the mirror in ~/.m2/settings.xml) "
            f"and that the versions exist, then run again (the pom is {pom})."
        )
