"""A project-local Neo4j Community server for development and tests, without Docker.

Maven fetches the Neo4j server and Neo4j Browser jars once into ``root/lib/neo4j-VERSION``
(shared by every instance); each instance lives in ``root/NAME`` (conf, data, logs, pid file,
password) and runs as a detached JVM on ``org.neo4j.server.CommunityEntryPoint``. Bolt and
HTTP listen on 127.0.0.1 only. Auth is on: the first start replaces the default password
with a random one stored in ``root/NAME/password`` (mode 600).

Linux first (``/proc`` identifies our process); ``ps`` is the fallback elsewhere.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import LiteralString

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import (
    AuthError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graph.errors import DownloadFailed, JavaMissing, LauncherError, PortInUse, StartTimeout

__all__ = [
    "BROWSER_VERSION",
    "NEO4J_VERSION",
    "LocalNeo4jConfig",
    "Neo4jStatus",
    "credentials",
    "install",
    "start",
    "status",
    "stop",
]

logger = logging.getLogger(__name__)

NEO4J_VERSION = "5.26.30"
BROWSER_VERSION = "5.24.0"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"

Progress = Callable[[str], None]

_HOST = "127.0.0.1"
_USER = "neo4j"
_DEFAULT_PASSWORD = "neo4j"
_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
_MIN_JAVA = 17
_TAIL_LINES = 20
_MAVEN_TIMEOUT = 1800.0
_POLL = 0.25

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SIZE = re.compile(r"[1-9][0-9]*[kKmMgG]?")
_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.-]*")
_JAVA_VERSION = re.compile(r'version "([0-9]+)(?:\.([0-9]+))?')
_LISTEN = re.compile(r"^server\.(bolt|http)\.listen_address=.*:([0-9]+)$", re.MULTILINE)

# The password change must run on the system database, as the user whose password expired.
_PING: LiteralString = "RETURN 1"
_CHANGE_DEFAULT_PASSWORD: LiteralString = (
    "ALTER CURRENT USER SET PASSWORD FROM $current TO $password"
)

_POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kgtwin (graph/launcher.py): the jars of a local Neo4j server. -->
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


@dataclass(frozen=True, slots=True)
class LocalNeo4jConfig:
    """Where a local Neo4j instance lives and how it listens.

    ``java`` is the java executable; when ``None`` it is ``$JAVA_HOME/bin/java`` if
    ``JAVA_HOME`` is set, else ``java`` on ``PATH``.
    """

    root: Path
    name: str = "neo4j"
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = "1g"
    pagecache: str = "512m"
    version: str = NEO4J_VERSION
    java: Path | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or self.name == "lib":
            raise ValueError(
                f"instance name {self.name!r} must be a plain folder name (letters, digits, "
                "'.', '_', '-') other than 'lib'"
            )
        for label, port in (("bolt_port", self.bolt_port), ("http_port", self.http_port)):
            if not 1 <= port <= 65535:
                raise ValueError(f"{label} must be between 1 and 65535, got {port}")
        if self.bolt_port == self.http_port:
            raise ValueError(f"bolt_port and http_port must differ, both are {self.bolt_port}")
        for label, size in (("heap", self.heap), ("pagecache", self.pagecache)):
            if not _SIZE.fullmatch(size):
                raise ValueError(f"{label} must look like '512m' or '1g', got {size!r}")
        if not _VERSION.fullmatch(self.version):
            raise ValueError(f"version must look like '5.26.30', got {self.version!r}")

    @property
    def lib_dir(self) -> Path:
        """The jars of this Neo4j version, shared by every instance under ``root``."""
        return self.root / "lib" / f"neo4j-{self.version}"

    @property
    def home(self) -> Path:
        """This instance's folder: conf, data, logs, pid file and password."""
        return self.root / self.name


@dataclass(frozen=True, slots=True)
class Neo4jStatus:
    """What a caller needs to connect to a local instance, and whether it runs."""

    running: bool
    pid: int | None
    bolt_uri: str
    http_url: str
    user: str
    password: str | None = field(repr=False)
    version: str
    home: Path


# --- install -------------------------------------------------------------------------------------


def install(cfg: LocalNeo4jConfig, progress: Progress) -> Path:
    """Fetch the Neo4j and Neo4j Browser jars with Maven, once; return the folder holding them.

    A marker file records a completed install, so later calls return at once without Maven.
    """
    lib = cfg.lib_dir.resolve()
    lib.mkdir(parents=True, exist_ok=True)
    marker = lib / ".installed"
    expected = f"neo4j={cfg.version}\nneo4j-browser={BROWSER_VERSION}\n"
    if _read_text(marker) == expected:
        return lib
    with _exclusive(lib / ".install.lock"):
        if _read_text(marker) == expected:  # another process finished it meanwhile
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
        _write_atomic(marker, expected)
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
        tail = _tail_text(done.stdout + done.stderr, _TAIL_LINES)
        raise DownloadFailed(
            f"Maven could not fetch the Neo4j jars (exit code {done.returncode}); "
            f"its last lines:\n{tail}\n"
            "Check network access to Maven Central (or the mirror in ~/.m2/settings.xml) "
            f"and that the versions exist, then run again (the pom is {pom})."
        )


# --- start / stop / status -----------------------------------------------------------------------


def start(cfg: LocalNeo4jConfig, progress: Progress, timeout: float = 120.0) -> Neo4jStatus:
    """Start the instance (installing first if needed) and return once Bolt answers a session.

    If this instance already runs and answers on the configured ports, return its status.
    """
    java = _find_java(cfg)
    lib = install(cfg, progress)
    home = cfg.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    # Two processes starting the same instance: the second waits, then finds it running.
    with _exclusive(home / ".launcher.lock"):
        return _start_locked(cfg, java, lib, home, progress, timeout)


def _start_locked(
    cfg: LocalNeo4jConfig, java: str, lib: Path, home: Path, progress: Progress, timeout: float
) -> Neo4jStatus:
    bolt_uri = f"bolt://{_HOST}:{cfg.bolt_port}"
    current = status(cfg)
    if current.running and current.pid is not None:
        if current.bolt_uri != bolt_uri or current.http_url != f"http://{_HOST}:{cfg.http_port}":
            raise LauncherError(
                f"Neo4j instance {home} already runs (pid {current.pid}) on {current.bolt_uri} "
                f"and {current.http_url}, not on the requested ports {cfg.bolt_port} and "
                f"{cfg.http_port}; stop it first or use its ports."
            )
        deadline = time.monotonic() + timeout
        _wait_until_ready(cfg, home, current.pid, deadline, spawned=False, log_offset=0)
        return status(cfg)

    for port, what in ((cfg.bolt_port, "Bolt"), (cfg.http_port, "HTTP")):
        if _port_taken(port):
            raise PortInUse(
                f"Port {port} on {_HOST} (configured as the {what} port of Neo4j instance "
                f"{home}) is already used by another process. Free it (see "
                f"'ss -ltnp sport = :{port}') or choose another port."
            )

    _prepare_home(cfg, home)
    argv = _java_command(java, lib, cfg, home)
    progress(
        f"Starting Neo4j {cfg.version} in {home}: Bolt {bolt_uri}, "
        f"Browser http://{_HOST}:{cfg.http_port}/browser/"
    )
    started = time.monotonic()
    neo4j_log = home / "logs" / "neo4j.log"
    log_offset = neo4j_log.stat().st_size if neo4j_log.exists() else 0  # quote this start only
    pid = _spawn(argv, home / "logs" / "console.log")
    _write_atomic(_pid_file(home), f"{pid}\n")
    logger.info("started Neo4j pid %d: %s", pid, " ".join(argv))
    try:
        _wait_until_ready(cfg, home, pid, started + timeout, spawned=True, log_offset=log_offset)
    except BaseException:
        _terminate(pid, home, 30.0)
        _pid_file(home).unlink(missing_ok=True)
        raise
    progress(f"Neo4j is up after {time.monotonic() - started:.1f} s")
    return status(cfg)


def stop(cfg: LocalNeo4jConfig, timeout: float = 60.0) -> bool:
    """Stop the instance (SIGTERM, then SIGKILL after ``timeout``); False if it did not run."""
    home = cfg.home.resolve()
    if not home.is_dir():
        return False
    with _exclusive(home / ".launcher.lock"):
        pid = _read_pid(home)
        if pid is None:
            return False
        if not _is_our_java(pid, home):
            _pid_file(home).unlink(missing_ok=True)
            return False
        _terminate(pid, home, timeout)
        _pid_file(home).unlink(missing_ok=True)
        return True


def status(cfg: LocalNeo4jConfig) -> Neo4jStatus:
    """Whether the instance runs (its pid file names a live JVM of ours), and how to reach it.

    A stale pid file is removed. For a running instance the ports are the ones it was
    started with.
    """
    home = cfg.home.resolve()
    pid = _read_pid(home)
    running = pid is not None and _is_our_java(pid, home)
    if pid is not None and not running:
        logger.info("removing stale pid file %s (pid %d is not our Neo4j)", _pid_file(home), pid)
        _pid_file(home).unlink(missing_ok=True)
    bolt_port, http_port = cfg.bolt_port, cfg.http_port
    if running:
        bolt_port, http_port = _configured_ports(home) or (bolt_port, http_port)
    known = credentials(cfg)
    return Neo4jStatus(
        running=running,
        pid=pid if running else None,
        bolt_uri=f"bolt://{_HOST}:{bolt_port}",
        http_url=f"http://{_HOST}:{http_port}",
        user=_USER,
        password=known[1] if known else None,
        version=cfg.version,
        home=home,
    )


def credentials(cfg: LocalNeo4jConfig) -> tuple[str, str] | None:
    """``(user, password)`` of this instance, or ``None`` before its first start."""
    password = _read_text(_password_file(cfg.home.resolve()))
    if not password or not password.strip():
        return None
    return _USER, password.strip()


# --- java ----------------------------------------------------------------------------------------


def _find_java(cfg: LocalNeo4jConfig) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if cfg.java is not None:
        candidate, origin = str(cfg.java), "LocalNeo4jConfig.java"
    elif java_home:
        candidate, origin = str(Path(java_home) / "bin" / "java"), f"JAVA_HOME={java_home}"
    else:
        found = shutil.which("java")
        if found is None:
            raise JavaMissing(
                f"No 'java' on PATH. Neo4j {cfg.version} needs Java {_MIN_JAVA} or 21: install "
                "one (e.g. 'apt install openjdk-17-jre-headless') or set JAVA_HOME."
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
            f"{_tail_text(output, 5)}\nPoint JAVA_HOME at a Java {_MIN_JAVA}+ installation."
        )
    major = int(match[1])
    if major == 1 and match[2]:  # "1.8.0_292" style
        major = int(match[2])
    if major < _MIN_JAVA:
        raise JavaMissing(
            f"{candidate} (from {origin}) is Java {major}; Neo4j {cfg.version} needs Java "
            f"{_MIN_JAVA} or 21. Install one and point JAVA_HOME at it."
        )
    return candidate


def _java_command(java: str, lib: Path, cfg: LocalNeo4jConfig, home: Path) -> list[str]:
    # Started without Neo4j's shell script, so the heap is set on the JVM here; the options
    # are the ones that script passes by default.
    return [
        java,
        f"-Xms{cfg.heap}",
        f"-Xmx{cfg.heap}",
        "-XX:+UseG1GC",
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
        _ENTRY_POINT,
        f"--home-dir={home}",
        f"--config-dir={home / 'conf'}",
    ]


# --- instance folder -----------------------------------------------------------------------------


def _prepare_home(cfg: LocalNeo4jConfig, home: Path) -> None:
    for sub in ("conf", "data", "logs", "run", "import", "plugins"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    settings = {
        "server.default_listen_address": _HOST,
        "server.default_advertised_address": _HOST,
        "server.bolt.enabled": "true",
        "server.bolt.listen_address": f"{_HOST}:{cfg.bolt_port}",
        "server.bolt.advertised_address": f"{_HOST}:{cfg.bolt_port}",
        "server.http.enabled": "true",
        "server.http.listen_address": f"{_HOST}:{cfg.http_port}",
        "server.http.advertised_address": f"{_HOST}:{cfg.http_port}",
        "server.https.enabled": "false",
        "server.directories.data": str(home / "data"),
        "server.directories.logs": str(home / "logs"),
        "server.directories.run": str(home / "run"),
        "server.directories.import": str(home / "import"),
        "server.directories.plugins": str(home / "plugins"),
        "server.memory.heap.initial_size": cfg.heap,
        "server.memory.heap.max_size": cfg.heap,
        "server.memory.pagecache.size": cfg.pagecache,
        "dbms.security.auth_enabled": "true",
        "dbms.usage_report.enabled": "false",
        # Bolt's Netty otherwise idles 5 s at shutdown after the databases have stopped.
        "internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
    }
    body = "".join(f"{key}={value}\n" for key, value in settings.items())
    _write_atomic(
        home / "conf" / "neo4j.conf",
        "# Written by kgtwin (graph/launcher.py) at every start; edits are overwritten.\n" + body,
    )


def _configured_ports(home: Path) -> tuple[int, int] | None:
    text = _read_text(home / "conf" / "neo4j.conf") or ""
    ports = {kind: int(port) for kind, port in _LISTEN.findall(text)}
    if "bolt" in ports and "http" in ports:
        return ports["bolt"], ports["http"]
    return None


def _pid_file(home: Path) -> Path:
    return home / "run" / "neo4j.pid"


def _password_file(home: Path) -> Path:
    return home / "password"


def _read_pid(home: Path) -> int | None:
    text = _read_text(_pid_file(home))
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        logger.warning("ignoring unreadable pid file %s", _pid_file(home))
        _pid_file(home).unlink(missing_ok=True)
        return None


# --- process -------------------------------------------------------------------------------------


def _spawn(argv: list[str], console: Path) -> int:
    # posix_spawn rather than subprocess.Popen: the JVM outlives this call (and often this
    # Python process), and a Popen object dropped while its child runs warns on finalisation.
    # The child gets its own session, stdin from /dev/null, stdout and stderr to console.
    truncate = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(console), truncate, 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
    except OSError as exc:
        raise LauncherError(f"Could not start {argv[0]}: {exc}") from exc


def _reap(pid: int) -> int | None:
    """Collect ``pid`` if it is an exited child of ours; its exit code, else ``None``."""
    try:
        waited, wait_status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(wait_status) if waited == pid else None


def _is_our_java(pid: int, home: Path) -> bool:
    """Whether ``pid`` is alive and is the Neo4j JVM of the instance in ``home``."""
    _reap(pid)
    proc = Path("/proc")
    if proc.is_dir():
        try:
            args = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return _ENTRY_POINT.encode() in args and f"--home-dir={home}".encode() in args
    try:
        done = subprocess.run(
            ["ps", "-ww", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return _ENTRY_POINT in done.stdout and f"--home-dir={home}" in done.stdout


def _terminate(pid: int, home: Path, timeout: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _is_our_java(pid, home):
                return
            time.sleep(0.1)
        logger.warning("Neo4j pid %d still runs %.0f s after %s", pid, wait, sig.name)
    raise LauncherError(
        f"Neo4j (pid {pid}, {home}) did not exit even after SIGKILL; check 'ps -p {pid}'."
    )


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so that sockets in TIME_WAIT do not count; a listener still does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return True
    return False


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


# --- readiness and password ----------------------------------------------------------------------


class _NotReady(Exception):
    """Bolt is up but the server cannot serve a session yet."""


def _wait_until_ready(
    cfg: LocalNeo4jConfig,
    home: Path,
    pid: int,
    deadline: float,
    *,
    spawned: bool,
    log_offset: int,
) -> None:
    uri = f"bolt://{_HOST}:{cfg.bolt_port}"
    last_problem = "Bolt port not open yet"
    while True:
        if spawned:
            code = _reap(pid)
            if code is not None:
                raise LauncherError(
                    f"Neo4j (pid {pid}) exited with code {code} during start-up.\n"
                    f"{_log_tail(home, log_offset)}\nFull logs are in {home / 'logs'}."
                )
        elif not _is_our_java(pid, home):
            raise LauncherError(
                f"Neo4j (pid {pid}) stopped while waiting for it.\n{_log_tail(home, log_offset)}"
            )
        if _port_open(cfg.bolt_port):
            try:
                _ensure_password(uri, home)
                return
            except _NotReady as exc:
                last_problem = str(exc)
                logger.debug("Neo4j not ready yet: %s", last_problem)
        if time.monotonic() >= deadline:
            fate = "it is being stopped" if spawned else "it was left running"
            raise StartTimeout(
                f"Neo4j (pid {pid}) did not accept a Bolt session on {uri} in time "
                f"(last problem: {last_problem}); {fate}.\n{_log_tail(home, log_offset)}\n"
                f"Full logs are in {home / 'logs'}; a slow machine may need a longer timeout."
            )
        time.sleep(_POLL)


def _ensure_password(uri: str, home: Path) -> None:
    """Open a session with the stored password; on first start, set it from the default."""
    password_file = _password_file(home)
    stored = (_read_text(password_file) or "").strip()
    first_start = not stored
    if first_start:
        # Written before the change, so a crash in between can be recovered on the next start.
        stored = secrets.token_urlsafe(24)
        _write_atomic(password_file, stored + "\n", mode=0o600)
    if not first_start:
        try:
            _ping(uri, stored)
            return
        except AuthError:
            logger.info("stored password refused; trying the default password once")
    try:
        _change_default_password(uri, stored)
        _ping(uri, stored)
    except AuthError as exc:
        raise LauncherError(
            f"Neo4j at {uri} accepts neither the password in {password_file} nor the default "
            f"one. Put the right password in that file, or delete {home} to start "
            "over with an empty database."
        ) from exc


def _ping(uri: str, password: str) -> None:
    with _session_errors(), _driver(uri, password) as driver, driver.session() as session:
        session.run(_PING).consume()


def _change_default_password(uri: str, password: str) -> None:
    with (
        _session_errors(),
        _driver(uri, _DEFAULT_PASSWORD) as driver,
        driver.session(database="system") as session,
    ):
        session.run(
            _CHANGE_DEFAULT_PASSWORD, current=_DEFAULT_PASSWORD, password=password
        ).consume()
    logger.info("replaced the default Neo4j password")


def _driver(uri: str, password: str) -> Driver:
    return GraphDatabase.driver(
        uri,
        auth=(_USER, password),
        connection_timeout=2.0,
        connection_acquisition_timeout=5.0,
        max_connection_pool_size=1,
    )


@contextmanager
def _session_errors() -> Iterator[None]:
    """Turn the driver's errors into ``_NotReady`` (retry) or ``LauncherError``; keep AuthError."""
    try:
        yield
    except AuthError:
        raise
    except (ServiceUnavailable, SessionExpired, TransientError) as exc:
        raise _NotReady(f"{type(exc).__name__}: {exc}") from exc
    except (Neo4jError, DriverError) as exc:
        raise LauncherError(f"Neo4j answered the start-up check with an error: {exc}") from exc


# --- files ---------------------------------------------------------------------------------------


def _log_tail(home: Path, neo4j_log_offset: int) -> str:
    """The last lines of neo4j.log (from ``neo4j_log_offset`` on) and of console.log."""
    parts = []
    for name, skip in (("neo4j.log", neo4j_log_offset), ("console.log", 0)):
        path = home / "logs" / name
        tail = _tail_text(_read_from(path, skip), _TAIL_LINES)
        if tail:
            parts.append(f"--- last lines of {path} ---\n{tail}")
    return "\n".join(parts) or f"(no output in {home / 'logs'})"


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)
    os.replace(tmp, path)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
