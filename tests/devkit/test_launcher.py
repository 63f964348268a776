"""The local Neo4j launcher, against the real server (jars shared in the repo's .kgtwin/lib)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import stat
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase

from kgtwin.devkit.errors import DownloadFailed, JavaMissing, LauncherError, PortInUse, StartTimeout
from kgtwin.devkit.launcher import (
    NEO4J_VERSION,
    LocalNeo4jConfig,
    Memory,
    credentials,
    free_ports,
    install,
    start,
    status,
    stop,
)
from kgtwin.devkit.launcher.home import configured_memory, prepare_home
from tests.neo4j_service import clean_database

ROOT = Path(__file__).resolve().parent.parent / ".kgtwin"
# Listening addresses as /proc/net/tcp{,6} spells them: 127.0.0.1 and ::ffff:127.0.0.1.
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}


def _quiet(message: str) -> None:
    pass


@pytest.fixture
def cfg() -> Iterator[LocalNeo4jConfig]:
    """A fresh instance on free ports; the jars are shared with every other instance."""
    bolt_port, http_port = free_ports(2)
    config = LocalNeo4jConfig(
        root=ROOT,
        name=f"launcher-test-{uuid.uuid4().hex[:8]}",
        bolt_port=bolt_port,
        http_port=http_port,
    )
    yield config
    stop(config)
    shutil.rmtree(config.home, ignore_errors=True)


def _processes_of(home: Path) -> list[int]:
    """Live processes started for the instance in ``home`` (whatever their state)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"--home-dir={home.resolve()}".encode() in cmdline.read_bytes().split(b"\0"):
                found.append(int(cmdline.parent.name))
        except OSError:  # gone meanwhile
            pass
    return found


def _listen_addresses(port: int) -> set[str]:
    found = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def _fill_then_clean(driver: Driver) -> None:
    driver.execute_query("UNWIND range(1, 12000) AS i CREATE (:Pump {iri: i})-[:FEEDS]->()")
    driver.execute_query("CREATE CONSTRAINT pump_iri FOR (p:Pump) REQUIRE p.iri IS UNIQUE")
    driver.execute_query("CREATE INDEX twin_id FOR (t:Twin) ON (t.id)")
    driver.execute_query("CREATE FULLTEXT INDEX names FOR (t:Twin) ON EACH [t.name]")

    clean_database(driver)  # 24000 nodes: three batches

    assert driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 0
    assert driver.execute_query("SHOW CONSTRAINTS").records == []
    types = [r["type"] for r in driver.execute_query("SHOW INDEXES YIELD type").records]
    assert types
    assert set(types) == {"LOOKUP"}


# One server start for everything that needs a running server: on a small machine a start
# costs 10-20 s of CPU.
@pytest.mark.neo4j
def test_start_serve_clean_stop(cfg: LocalNeo4jConfig) -> None:
    running = start(cfg, _quiet)

    assert running.running
    assert running.pid is not None
    assert running.bolt_uri == f"bolt://127.0.0.1:{cfg.bolt_port}"
    assert status(cfg) == running
    assert credentials(cfg) == (running.user, running.password)
    assert running.password is not None
    assert running.password not in repr(running)
    assert stat.S_IMODE((cfg.home / "password").stat().st_mode) == 0o600
    with GraphDatabase.driver(running.bolt_uri, auth=(running.user, running.password)) as driver:
        assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
        _fill_then_clean(driver)
    with GraphDatabase.driver(running.bolt_uri, auth=("neo4j", "neo4j")) as driver:
        assert not driver.verify_authentication()  # the default password is gone
    with urllib.request.urlopen(f"{running.http_url}/browser/", timeout=10) as response:
        assert response.status == 200
    for port in (cfg.bolt_port, cfg.http_port):
        assert _listen_addresses(port), f"nothing listens on port {port}"
        assert _listen_addresses(port) <= LOOPBACK

    conf = (cfg.home / "conf" / "neo4j.conf").read_text()
    for line in (
        "server.memory.heap.initial_size=1g",
        "server.memory.heap.max_size=1g",
        "server.memory.pagecache.size=512m",
        "dbms.memory.transaction.total.max=716m",
    ):
        assert line in conf.splitlines()
    assert running.memory == Memory("1g", "512m", "716m", "setting", "setting")

    assert start(cfg, _quiet).pid == running.pid  # already running: the same server
    said: list[str] = []
    bigger = dataclasses.replace(cfg, heap="2g", heap_origin="machine")
    assert start(bigger, said.append).memory == running.memory  # kept until a restart
    assert said == [
        "Neo4j already runs with heap 1g and page cache 512m; stop it and start it again to "
        "use heap 2g and page cache 512m."
    ]
    moved = LocalNeo4jConfig(root=cfg.root, name=cfg.name, bolt_port=cfg.bolt_port + 1)
    with pytest.raises(LauncherError, match="already runs"):
        start(moved, _quiet)

    assert stop(cfg)
    assert not status(cfg).running
    assert status(cfg).pid is None
    assert not (cfg.home / "run" / "neo4j.pid").exists()
    assert _processes_of(cfg.home) == []
    assert not stop(cfg)


@pytest.mark.neo4j
def test_start_gives_up_after_the_timeout_and_stops_the_server(cfg: LocalNeo4jConfig) -> None:
    with pytest.raises(StartTimeout, match="did not accept a Bolt session"):
        start(cfg, _quiet, timeout=1.0)
    assert not status(cfg).running
    assert _processes_of(cfg.home) == []


def _dying_java(folder: Path) -> Path:
    """A java 17 to ``-version`` that fails at once, with a message, when asked to run Neo4j."""
    java = folder / "bin" / "java"
    java.parent.mkdir()
    java.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -version ]; then echo \'openjdk version "17.0.1"\' >&2; exit 0; fi\n'
        "echo 'Error: the fake java refuses to start Neo4j' >&2\n"
        "exit 3\n"
    )
    java.chmod(0o755)
    return java


@pytest.mark.neo4j
def test_start_reports_a_server_that_dies_with_its_output(
    cfg: LocalNeo4jConfig, tmp_path: Path
) -> None:
    with pytest.raises(LauncherError, match=r"(?s)exited with code 3.*fake java refuses"):
        start(dataclasses.replace(cfg, java=_dying_java(tmp_path)), _quiet)
    assert not status(cfg).running


@pytest.mark.neo4j
def test_start_does_not_signal_the_pid_of_a_server_that_already_exited(
    cfg: LocalNeo4jConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once reaped, its pid is free and may already name an unrelated process.
    signalled: list[int] = []
    real_kill = os.kill

    def recording_kill(pid: int, sig: int) -> None:
        signalled.append(pid)
        real_kill(pid, sig)

    monkeypatch.setattr(os, "kill", recording_kill)
    with pytest.raises(LauncherError, match="exited with code 3"):
        start(dataclasses.replace(cfg, java=_dying_java(tmp_path)), _quiet)
    assert signalled == []


@pytest.mark.neo4j
def test_start_refuses_a_taken_port(cfg: LocalNeo4jConfig) -> None:
    for port in (cfg.bolt_port, cfg.http_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            with pytest.raises(PortInUse, match=str(port)):
                start(cfg, _quiet)
    assert not status(cfg).running


def _fake_java(folder: Path, banner: str) -> Path:
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    java.chmod(0o755)
    return java


@pytest.mark.parametrize("where", ["config", "JAVA_HOME", "PATH", "too old"])
def test_start_needs_java_17(where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java: Path | None = None
    monkeypatch.delenv("JAVA_HOME", raising=False)
    if where == "config":
        java = tmp_path / "no-such-jdk" / "bin" / "java"
    elif where == "JAVA_HOME":
        monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    elif where == "PATH":
        monkeypatch.setenv("PATH", str(tmp_path))
    else:
        java = _fake_java(tmp_path, 'java version "1.8.0_292"')
    cfg = LocalNeo4jConfig(root=tmp_path / "kgtwin", name="java-test", java=java)

    with pytest.raises(JavaMissing, match=r"Java 17|JAVA_HOME") as caught:
        start(cfg, _quiet)

    if where == "too old":
        assert "Java 8" in str(caught.value)
    assert not cfg.root.exists()  # refused before installing anything


@pytest.mark.neo4j
def test_install_runs_maven_only_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = LocalNeo4jConfig(root=ROOT, name="unused")
    lib = install(cfg, _quiet)  # fetches on a fresh checkout, else already done
    assert (lib / f"org.neo4j.neo4j-{NEO4J_VERSION}.jar").is_file()

    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn to be found from here on
    messages: list[str] = []
    assert install(cfg, messages.append) == lib
    assert messages == []


def test_install_without_maven_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DownloadFailed, match="Install Maven"):
        install(LocalNeo4jConfig(root=tmp_path), _quiet)


@pytest.mark.neo4j
def test_install_of_an_unknown_version_shows_maven_output(tmp_path: Path) -> None:
    cfg = LocalNeo4jConfig(root=tmp_path, version="5.0.999")
    with pytest.raises(DownloadFailed, match=r"(?s)exit code \d+.*5\.0\.999"):
        install(cfg, _quiet)
    assert not (cfg.lib_dir / ".installed").exists()


OLDER_CONF = """\
# Written by kgtwin (devkit/launcher/home.py) at every start; edits are overwritten.
server.bolt.listen_address=127.0.0.1:7687
server.http.listen_address=127.0.0.1:7474
server.memory.heap.initial_size=1g
server.memory.heap.max_size=1g
server.memory.pagecache.size=512m
"""


def test_a_neo4j_conf_of_an_older_kgtwin_is_replaced_with_the_new_sizes(tmp_path: Path) -> None:
    cfg = LocalNeo4jConfig(root=tmp_path, heap="5888m", pagecache="2g", heap_origin="machine")
    (cfg.home / "conf").mkdir(parents=True)
    (cfg.home / "conf" / "neo4j.conf").write_text(OLDER_CONF)
    # what `status` says of a server an older kgtwin started: the sizes, not their origin
    assert configured_memory(cfg.home) == Memory("1g", "512m", "716m", None, None)

    prepare_home(cfg, cfg.home)  # what every start does before it spawns the JVM

    conf = (cfg.home / "conf" / "neo4j.conf").read_text().splitlines()
    assert "server.memory.heap.max_size=5888m" in conf
    assert "server.memory.heap.initial_size=5888m" in conf
    assert "server.memory.pagecache.size=2g" in conf
    assert "dbms.memory.transaction.total.max=4121m" in conf
    assert "server.memory.heap.max_size=1g" not in conf
    assert configured_memory(cfg.home) == Memory("5888m", "2g", "4121m", "machine", "setting")
    assert configured_memory(cfg.home) == cfg.memory


def test_status_of_a_stopped_server_gives_the_memory_a_start_would(tmp_path: Path) -> None:
    cfg = LocalNeo4jConfig(root=tmp_path, heap="3g", pagecache="1g", pagecache_origin="machine")
    (cfg.home / "conf").mkdir(parents=True)
    (cfg.home / "conf" / "neo4j.conf").write_text(OLDER_CONF)  # of its last run
    assert status(cfg).memory == Memory("3g", "1g", "2150m", "setting", "machine")


def test_status_removes_a_stale_pid_file(cfg: LocalNeo4jConfig) -> None:
    pid_file = cfg.home / "run" / "neo4j.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a Neo4j of ours

    assert not status(cfg).running
    assert not pid_file.exists()
    assert not stop(cfg)
