"""The devkit's ``kgtwin`` commands as the core's CLI finds them (the ``kgtwin.commands``
entry points of pyproject.toml), their errors printed in one line, and the one thing the
core and the launcher share: the local Neo4j's password file."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from kgtwin.devkit.commands import DEMO, NEO4J, QUESTDB, SIMULATE_TELEMETRY, DevkitCommand
from kgtwin.devkit.launcher import credentials
from kgtwin.devkit.launcher.files import write_atomic
from kgtwin.devkit.launcher.home import password_file
from kgtwin.devkit.settings import local_neo4j
from kgtwin.server.cli import main
from kgtwin.server.commands import GROUP, discover
from kgtwin.server.settings import Settings
from tests.conftest import REPO

EXPECTED = {
    "demo": DEMO,
    "neo4j": NEO4J,
    "questdb": QUESTDB,
    "simulate-telemetry": SIMULATE_TELEMETRY,
}


def test_pyproject_declares_the_devkit_commands_and_the_installed_kgtwin_has_them() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    declared = pyproject["project"]["entry-points"][GROUP]
    loaded = {name: EntryPoint(name, value, GROUP).load() for name, value in declared.items()}
    assert loaded == EXPECTED
    assert all(isinstance(command, DevkitCommand) for command in loaded.values())
    # what `pip install -e .` recorded (`make install` again after editing pyproject.toml)
    assert discover() == EXPECTED


def test_a_devkit_error_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KGTWIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    assert main(["neo4j", "start"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kgtwin: error: Cannot run java at ")
    assert "Traceback" not in err
    assert not (tmp_path / "home").exists()  # refused before installing anything


def test_status_of_a_local_neo4j_never_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KGTWIN_HOME", str(tmp_path))
    monkeypatch.setenv("KGTWIN_NEO4J_HEAP", "2G")
    assert main(["neo4j", "status"]) == 3
    out = capsys.readouterr().out
    assert ": not running" in out
    assert "password (set on first start)" in out
    assert "  memory:  heap 2g (from a setting), page cache " in out
    assert "m (from the machine)\n           transactions at most 1433m together\n" in out


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--heap", "lots"], "--heap='lots' is not a memory size"),
        (["--pagecache", "2t"], "--pagecache='2t' is not a memory size"),
        (["--heap", "64g"], "--heap='64g' is not from 512m to 31g"),
    ],
)
def test_neo4j_start_refuses_a_size_that_is_none_before_anything_else(
    flags: list[str],
    error: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KGTWIN_HOME", str(tmp_path / "home"))
    assert main(["neo4j", "start", *flags]) == 2
    assert capsys.readouterr().err.startswith(f"kgtwin: error: {error}")
    assert not (tmp_path / "home").exists()


def test_the_core_connects_with_the_password_the_launcher_keeps(tmp_path: Path) -> None:
    """`kgtwin neo4j start`, then `kgtwin load` without NEO4J_URI: the core reads the
    password file the launcher wrote, without importing the devkit."""
    settings = Settings(home=tmp_path, local_bolt_port=7690, local_http_port=7490)
    config = local_neo4j(settings)
    assert settings.neo4j_connection() == ("bolt://127.0.0.1:7690", "neo4j", None)
    config.home.mkdir(parents=True)
    write_atomic(password_file(config.home), "s3cret\n", mode=0o600)
    assert password_file(config.home) == settings.local_password_file
    assert credentials(config) == ("neo4j", "s3cret")
    assert settings.neo4j_connection() == ("bolt://127.0.0.1:7690", "neo4j", "s3cret")


@pytest.mark.parametrize("after", ["-1", "soon", "inf"])
def test_demo_refuses_a_fault_delay_that_is_no_number_of_seconds(
    after: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--fault", "ups-a1", "--fault-after", after])
    assert exit_.value.code == 2
    assert "--fault-after" in capsys.readouterr().err
