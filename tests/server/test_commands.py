"""Commands from other packages (server/commands.py): found through the ``kgtwin.commands``
entry points, left out when their package cannot be imported, never taking a core
command's name. Then the core's CLI without the devkit, as a subprocess in which the
``devkit`` package cannot be imported: it lists only its own commands and still works."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import TextIO

import pytest

from kgtwin.server.cli import CORE_COMMANDS, build_parser
from kgtwin.server.commands import GROUP, Subcommands, discover
from kgtwin.server.settings import Settings
from tests.conftest import DC1, REPO

DEVKIT_COMMANDS = ("demo", "neo4j", "simulate-telemetry")


@dataclass(frozen=True, slots=True)
class Hello:
    examples: tuple[str, ...] = ("  kgtwin hello --name NAME                   says hello",)

    def add_parser(self, commands: Subcommands, name: str) -> argparse.ArgumentParser:
        hello = commands.add_parser(name, help="say hello")
        hello.add_argument("--name", required=True)
        return hello

    def run(self, settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        print(f"hello {args.name}", file=out)
        return 0


HELLO = Hello()
NOT_A_COMMAND = "hello"


def point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


def test_a_declared_command_is_found_listed_and_parsed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = discover([point("hello", f"{__name__}:HELLO")])
    assert found == {"hello": HELLO}
    parser = build_parser(found)
    args = parser.parse_args(["hello", "--name", "kgtwin"])
    assert (args.command, args.name) == ("hello", "kgtwin")
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "say hello" in out
    assert HELLO.examples[0] in out


def test_a_command_whose_package_is_not_installed_is_left_out() -> None:
    assert discover([point("ghost", "kgtwin_no_such_package.commands:GHOST")]) == {}


def test_a_command_that_fails_to_import_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert discover([point("broken", "kgtwin.server.commands:NO_SUCH_NAME")]) == {}
    assert "ignoring the kgtwin command 'broken'" in caplog.text


def test_a_command_cannot_take_a_core_command_name_or_a_found_one() -> None:
    points = [point("load", f"{__name__}:HELLO"), point("hello", f"{__name__}:HELLO")]
    assert discover([*points, points[1]], taken=CORE_COMMANDS) == {"hello": HELLO}


def test_an_entry_point_naming_something_else_is_ignored() -> None:
    assert discover([point("hello", f"{__name__}:NOT_A_COMMAND")]) == {}


def test_without_other_commands_help_lists_only_the_core_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser({}).parse_args(["--help"])
    out = capsys.readouterr().out
    for command in CORE_COMMANDS:
        assert f"    {command} " in out
    for command in DEVKIT_COMMANDS:
        assert f"kgtwin {command}" not in out
        assert f"    {command} " not in out


def run_without_devkit(*args: str) -> subprocess.CompletedProcess[str]:
    """``kgtwin ARGS`` in a Python where ``import devkit`` fails, as where it is missing."""
    code = (
        "import sys; sys.modules['kgtwin.devkit'] = None; "
        "from kgtwin.server.cli import main; sys.exit(main())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "KGTWIN_"))}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_the_devkit_kgtwin_lists_only_its_own_commands_and_works() -> None:
    shown = run_without_devkit("--help")
    assert shown.returncode == 0, shown.stderr
    for command in CORE_COMMANDS:
        assert f"    {command} " in shown.stdout
    for command in DEVKIT_COMMANDS:
        assert f"    {command} " not in shown.stdout
        assert f"kgtwin {command}" not in shown.stdout
    refused = run_without_devkit("demo")
    assert refused.returncode == 2
    assert "invalid choice: 'demo'" in refused.stderr
    validated = run_without_devkit("validate", "--quiet", str(DC1))
    assert validated.returncode == 0, validated.stderr
