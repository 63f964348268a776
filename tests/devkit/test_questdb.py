"""The local QuestDB launcher: its config and files without a server, then one real
instance for the module (started once, restarted by the test that checks its data stays),
and ``kgtwin questdb start|status|stop`` end to end."""

from __future__ import annotations

import dataclasses
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from kgtwin.devkit.errors import LauncherError, PortInUse, StartTimeout
from kgtwin.devkit.launcher import free_ports
from kgtwin.devkit.launcher.process import port_open
from kgtwin.devkit.questdb import (
    QUESTDB_VERSION,
    LocalQuestDBConfig,
    QuestDBStatus,
    credentials,
    install,
    start,
    status,
    stop,
)
from kgtwin.devkit.questdb.home import (
    configured_ports,
    ensure_password,
    prepare_home,
    server_settings,
)
from kgtwin.devkit.questdb.jvm import MAIN, server_environment
from kgtwin.devkit.settings import local_questdb
from kgtwin.server.cli import main
from kgtwin.server.settings import Settings

# Listening addresses as /proc/net/tcp{,6} spells them: 127.0.0.1 and ::ffff:127.0.0.1.
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}
LISTEN = "0A"


def _quiet(message: str) -> None:
    pass


# --- without a server ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "lib"}, "plain folder name"),
        ({"name": "../elsewhere"}, "plain folder name"),
        ({"http_port": 0}, "http_port must be between 1 and 65535, got 0"),
        ({"pg_port": 65536}, "pg_port must be between 1 and 65535, got 65536"),
        ({"http_port": 8812}, "http_port and pg_port must differ, both are 8812"),
        ({"version": "latest"}, "version must look like '9.2.2', got 'latest'"),
    ],
)
def test_a_config_that_cannot_work_is_refused(
    fields: dict[str, object], error: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=error):
        LocalQuestDBConfig(root=tmp_path, **fields)


def _conf(home: Path) -> list[str]:
    return (home / "conf" / "server.conf").read_text().splitlines()


def test_server_conf_is_written_afresh_at_every_start(tmp_path: Path) -> None:
    cfg = LocalQuestDBConfig(root=tmp_path, http_port=9100, pg_port=9112)
    prepare_home(cfg, cfg.home, "s3cret")

    conf = _conf(cfg.home)
    for line in (
        "http.bind.to=127.0.0.1:9100",
        "pg.net.bind.to=127.0.0.1:9112",
        "http.user=admin",
        "http.password=s3cret",
        "pg.user=admin",
        "pg.password=s3cret",
        "line.tcp.enabled=false",
        "line.udp.enabled=false",
        "http.min.enabled=false",
        "telemetry.enabled=false",
    ):
        assert line in conf
    assert stat.S_IMODE((cfg.home / "conf" / "server.conf").stat().st_mode) == 0o600
    assert configured_ports(cfg.home) == (9100, 9112)
    log_conf = (cfg.home / "conf" / "log.conf").read_text()
    assert f"w.file.location={cfg.home / 'logs'}/questdb.log." in log_conf

    moved = dataclasses.replace(cfg, http_port=9200)
    prepare_home(moved, cfg.home, "s3cret")
    assert "http.bind.to=127.0.0.1:9200" in _conf(cfg.home)
    assert "http.bind.to=127.0.0.1:9100" not in _conf(cfg.home)


def test_the_password_is_made_once_and_kept(tmp_path: Path) -> None:
    password = ensure_password(tmp_path)
    assert len(password) >= 32
    assert (tmp_path / "password").read_text() == password + "\n"
    assert stat.S_IMODE((tmp_path / "password").stat().st_mode) == 0o600
    assert ensure_password(tmp_path) == password


@pytest.mark.parametrize("password", ["two words", "back\\slash", "naïve"])
def test_a_password_server_conf_cannot_hold_is_refused(password: str, tmp_path: Path) -> None:
    (tmp_path / "password").write_text(password + "\n")
    with pytest.raises(LauncherError, match=r"cannot \(a space, a backslash"):
        ensure_password(tmp_path)


def test_a_shell_set_up_for_another_questdb_does_not_reach_the_server() -> None:
    # QuestDB lets QDB_* variables override server.conf.
    environ = {"PATH": "/usr/bin", "QDB_HTTP_PASSWORD": "other", "QDB_PG_NET_BIND_TO": "x"}
    assert server_environment(environ) == {"PATH": "/usr/bin"}


def test_status_of_an_instance_never_started(tmp_path: Path) -> None:
    cfg = LocalQuestDBConfig(root=tmp_path)
    assert status(cfg) == QuestDBStatus(
        running=False,
        pid=None,
        http_url="http://127.0.0.1:9000",
        console_url="http://127.0.0.1:9000",
        pg_address="127.0.0.1:8812",
        user="admin",
        password=None,
        version=QUESTDB_VERSION,
        home=cfg.home.resolve(),
    )
    assert credentials(cfg) is None
    assert not stop(cfg)


def test_the_core_finds_the_password_the_launcher_keeps(tmp_path: Path) -> None:
    """`kgtwin questdb start`, then history without QUESTDB_URL: the core reads the password
    file the launcher wrote, without importing the devkit."""
    settings = Settings(home=tmp_path, local_questdb_http_port=9100, local_questdb_pg_port=9112)
    config = local_questdb(settings)
    assert (config.http_port, config.pg_port) == (9100, 9112)
    assert settings.questdb_connection() is None
    config.home.mkdir(parents=True)
    password = ensure_password(config.home)  # what a first start does
    assert config.home / "password" == settings.local_questdb_password_file
    assert credentials(config) == ("admin", password)
    db = settings.questdb_connection()
    assert db is not None
    assert (db.url, db.user, db.password, db.pg_port) == (
        "http://127.0.0.1:9100",
        "admin",
        password,
        9112,
    )


def test_status_of_the_local_questdb_never_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KGTWIN_HOME", str(tmp_path))
    assert main(["questdb", "status"]) == 3
    out = capsys.readouterr().out
    assert out.startswith(f"QuestDB {QUESTDB_VERSION}: not running\n")
    assert f"password set on first start, in {tmp_path / 'questdb' / 'password'}" in out


def test_questdb_start_without_java_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KGTWIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    assert main(["questdb", "start"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kgtwin: error: Cannot run java at ")
    assert "Traceback" not in err
    assert not (tmp_path / "home").exists()  # refused before fetching anything


# --- one real instance for the module ------------------------------------------------------


@pytest.fixture(scope="module")
def _instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalQuestDBConfig]:
    http_port, pg_port = free_ports(2)
    cfg = LocalQuestDBConfig(
        root=tmp_path_factory.mktemp("kgtwin"), http_port=http_port, pg_port=pg_port
    )
    yield cfg
    stop(cfg)


@pytest.fixture
def cfg(_instance: LocalQuestDBConfig) -> LocalQuestDBConfig:
    """The module's instance, running: started by the first test that asks (the jar fetched
    into the module's root then), and again after a test that stopped it."""
    start(_instance, _quiet)
    return _instance


def _client(running: QuestDBStatus, auth: tuple[str, str] | None) -> httpx.Client:
    return httpx.Client(base_url=running.http_url, auth=auth, timeout=10.0)


def _sql(running: QuestDBStatus, query: str) -> list[list[object]]:
    assert running.password is not None
    with _client(running, (running.user, running.password)) as client:
        response = client.get("/exec", params={"query": query})
    assert response.status_code == httpx.codes.OK, response.text
    rows: list[list[object]] = response.json().get("dataset", [])
    return rows


def _processes_of(home: Path) -> list[int]:
    """Live processes started for the instance in ``home`` (whatever their state)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if MAIN.encode() in args and str(home.resolve()).encode() in args:
            found.append(int(cmdline.parent.name))
    return found


def _listening(pid: int) -> dict[int, set[str]]:
    """Port -> addresses of the TCP sockets process ``pid`` listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target.removeprefix("socket:[").rstrip("]"))
    found: dict[int, set[str]] = {}
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == LISTEN and fields[9] in inodes:
                found.setdefault(int(hex_port, 16), set()).add(address)
    return found


@pytest.mark.questdb
def test_start_status_and_credentials(cfg: LocalQuestDBConfig) -> None:
    running = start(cfg, _quiet)  # already running: at once, the same server

    assert running.running
    assert running.pid is not None
    assert running.http_url == running.console_url == f"http://127.0.0.1:{cfg.http_port}"
    assert running.pg_address == f"127.0.0.1:{cfg.pg_port}"
    assert status(cfg) == running
    assert credentials(cfg) == (running.user, running.password) == ("admin", running.password)
    assert running.password is not None
    assert running.password not in repr(running)
    for secret in (cfg.home / "password", cfg.home / "conf" / "server.conf"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert _processes_of(cfg.home) == [running.pid]

    moved = dataclasses.replace(cfg, http_port=cfg.http_port + 1)
    with pytest.raises(LauncherError, match="already runs"):
        start(moved, _quiet)


@pytest.mark.questdb
def test_http_answers_only_with_the_password(cfg: LocalQuestDBConfig) -> None:
    running = status(cfg)
    assert running.password is not None
    line = b"readings,point=p1 value=1.5\n"
    for auth in (None, ("admin", running.password + "x")):
        with _client(running, auth) as client:
            assert client.get("/exec", params={"query": "SELECT 1"}).status_code == 401
            assert client.post("/write", content=line).status_code == 401
    with _client(running, ("admin", running.password)) as client:
        assert client.post("/write", content=line).status_code == httpx.codes.NO_CONTENT
        assert client.get("/index.html").status_code == httpx.codes.OK  # the web console
    assert _sql(running, "SELECT 1") == [[1]]
    assert _sql(running, "SELECT count() FROM readings") == [[1]]
    assert _sql(running, "SELECT enabled FROM telemetry_config") == [[False]]


@pytest.mark.questdb
def test_questdb_took_every_setting_of_its_server_conf(cfg: LocalQuestDBConfig) -> None:
    running = status(cfg)
    assert running.password is not None
    parameters = {row[0]: row for row in _sql(running, "SHOW PARAMETERS")}
    for key, value in server_settings(cfg, running.password).items():
        _, _, taken, source, sensitive, _ = parameters[key]  # a setting QuestDB knows
        assert source == "conf", key
        assert taken == ("****" if sensitive else value), key


@pytest.mark.questdb
def test_it_listens_on_the_loopback_address_on_its_two_ports_only(
    cfg: LocalQuestDBConfig,
) -> None:
    running = status(cfg)
    assert running.pid is not None
    listening = _listening(running.pid)
    assert set(listening) == {cfg.http_port, cfg.pg_port}  # no 9009 (line protocol), no 9003
    for addresses in listening.values():
        assert addresses <= LOOPBACK


@pytest.mark.questdb
def test_the_postgres_wire_protocol_takes_the_same_user(cfg: LocalQuestDBConfig) -> None:
    running = status(cfg)
    assert running.password is not None
    address = {"host": "127.0.0.1", "port": cfg.pg_port, "user": "admin", "dbname": "qdb"}
    with psycopg.connect(**address, password=running.password, connect_timeout=10) as db:
        assert db.execute("SELECT 1").fetchall() == [(1,)]
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**address, password="quest", connect_timeout=10)  # QuestDB's default


@pytest.mark.questdb
def test_stop_then_start_again_keeps_the_data(
    cfg: LocalQuestDBConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = status(cfg)
    _sql(before, "CREATE TABLE kept (ts TIMESTAMP, value DOUBLE) TIMESTAMP(ts)")
    _sql(before, "INSERT INTO kept VALUES ('2026-01-01T00:00:00Z', 42.0)")

    assert stop(cfg)
    assert not status(cfg).running
    assert _processes_of(cfg.home) == []
    assert not port_open(cfg.http_port)
    assert not stop(cfg)

    # A shell set up for another QuestDB, behind a proxy: none of it reaches this one.
    other_http, other_pg = free_ports(2)
    with monkeypatch.context() as shell:
        shell.setenv("QDB_HTTP_BIND_TO", f"127.0.0.1:{other_http}")
        shell.setenv("QDB_PG_NET_BIND_TO", f"127.0.0.1:{other_pg}")
        shell.setenv("QDB_HTTP_PASSWORD", "quest")
        shell.setenv("http_proxy", f"http://127.0.0.1:{other_http}")
        again = start(cfg, _quiet)

    assert again.pid != before.pid
    assert (again.http_url, again.pg_address, again.password) == (
        before.http_url,
        before.pg_address,
        before.password,
    )
    assert _sql(again, "SELECT value FROM kept") == [[42.0]]


@pytest.mark.questdb
def test_install_runs_maven_only_once(
    cfg: LocalQuestDBConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jar = install(cfg, _quiet)  # fetched when the module's instance first started
    assert jar == cfg.lib_dir.resolve() / f"org.questdb.questdb-{cfg.version}.jar"
    assert jar.is_file()

    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn to be found from here on
    messages: list[str] = []
    assert install(cfg, messages.append) == jar
    assert messages == []


@pytest.mark.questdb
def test_start_refuses_a_taken_port(cfg: LocalQuestDBConfig) -> None:
    other = dataclasses.replace(cfg, name="squatted", http_port=free_ports(1)[0])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", other.http_port))
        squatter.listen()
        with pytest.raises(PortInUse, match=f"Port {other.http_port} .* HTTP port"):
            start(other, _quiet)
    # the module's instance holds the PostgreSQL port
    with pytest.raises(PortInUse, match=f"Port {cfg.pg_port} .* PostgreSQL port"):
        start(other, _quiet)
    assert not status(other).running


def _dying_java(folder: Path) -> Path:
    """A java 17 to ``-version`` that fails at once, with a message, when asked to run."""
    java = folder / "bin" / "java"
    java.parent.mkdir()
    java.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -version ]; then echo \'openjdk version "17.0.1"\' >&2; exit 0; fi\n'
        "echo 'Error: the fake java refuses to start QuestDB' >&2\n"
        "exit 3\n"
    )
    java.chmod(0o755)
    return java


@pytest.mark.questdb
def test_a_server_that_dies_is_reported_with_its_output(
    cfg: LocalQuestDBConfig, tmp_path: Path
) -> None:
    http_port, pg_port = free_ports(2)
    dying = dataclasses.replace(
        cfg, name="dying", java=_dying_java(tmp_path), http_port=http_port, pg_port=pg_port
    )
    with pytest.raises(LauncherError, match=r"(?s)exited with code 3.*fake java refuses"):
        start(dying, _quiet)
    assert not status(dying).running


@pytest.mark.questdb
def test_start_gives_up_after_the_timeout_and_stops_the_server(
    cfg: LocalQuestDBConfig,
) -> None:
    http_port, pg_port = free_ports(2)
    slow = dataclasses.replace(cfg, name="slow", http_port=http_port, pg_port=pg_port)
    with pytest.raises(StartTimeout, match=f"did not answer SELECT 1 on {status(slow).http_url}"):
        start(slow, _quiet, timeout=0.2)
    assert not status(slow).running
    assert _processes_of(slow.home) == []


# --- kgtwin questdb, end to end ------------------------------------------------------------


@pytest.mark.questdb
def test_kgtwin_questdb_start_status_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    http_port, pg_port = free_ports(2)
    env = {
        "KGTWIN_HOME": str(tmp_path),
        "KGTWIN_QUESTDB_HTTP_PORT": str(http_port),
        "KGTWIN_QUESTDB_PG_PORT": str(pg_port),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env(env)
    password_file = tmp_path / "questdb" / "password"
    try:
        assert main(["questdb", "start"]) == 0
        started = capsys.readouterr()
        assert f"Starting QuestDB {QUESTDB_VERSION} in {tmp_path / 'questdb'}" in started.err
        assert f"console:    http://127.0.0.1:{http_port}" in started.out
        assert f"PostgreSQL: 127.0.0.1:{pg_port}" in started.out
        assert f"user admin, password in {password_file}\n" in started.out
        assert password_file.read_text().strip() not in started.out + started.err

        assert main(["questdb", "status"]) == 0
        assert ": running (pid " in capsys.readouterr().out
        db = settings.questdb_connection()  # history, without QUESTDB_URL
        assert db is not None
        assert db.execute("SELECT 1")["dataset"] == [[1]]
    finally:
        assert main(["questdb", "stop"]) == 0
    assert capsys.readouterr().out == "QuestDB stopped\n"
    assert main(["questdb", "status"]) == 3
    assert main(["questdb", "stop"]) == 0
    assert capsys.readouterr().out.endswith("QuestDB was not running\n")
