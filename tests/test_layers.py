"""The core packages never import the devkit: no ``import kgtwin.devkit...`` or
``from kgtwin.devkit...`` anywhere in graph/, ingest/, ontology/, simulation/ or server/
(in a function too), and no module name of it in a string
(``importlib.import_module("kgtwin.devkit.demo")``). The devkit's commands reach the CLI
through entry points (server/commands.py). ruff's banned-api rule (pyproject.toml) says
the same at lint time. And every import of kgtwin's own modules goes through ``kgtwin.``."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

CORE = ("graph", "ingest", "ontology", "simulation", "server")
DEVKIT_NAME = re.compile(r"(kgtwin\.)?devkit(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.]*)?")


def devkit_uses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, name) for every import of devkit, and every string naming one of its modules."""
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        for name in names:
            if DEVKIT_NAME.fullmatch(name):
                yield node.lineno, name


def core_files() -> list[Path]:
    return sorted(path for package in CORE for path in (REPO / package).rglob("*.py"))


def test_the_check_finds_each_way_of_importing_the_devkit() -> None:
    source = (
        "import kgtwin.devkit\n"
        "import kgtwin.devkit.launcher as launcher\n"
        "from kgtwin.devkit.broker import LocalBroker\n"
        "def later():\n"
        "    from kgtwin.devkit import demo\n"
        "    return importlib.import_module('kgtwin.devkit.demo')\n"
        "from kgtwin.graph import devkit_like\n"
        "text = 'the devkit is apart'\n"
    )
    assert sorted(line for line, _ in devkit_uses(ast.parse(source))) == [1, 2, 3, 5, 6]


def test_no_core_module_imports_the_devkit() -> None:
    files = core_files()
    assert len(files) > 100  # the packages are where this test thinks they are
    found = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in files
        for line, name in devkit_uses(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], "the core imports the devkit:\n" + "\n".join(found)


def test_the_core_packages_hold_no_development_tooling() -> None:
    moved = [
        "graph/launcher",
        "ingest/broker",
        "simulation/plant.py",
        "simulation/telemetry.py",
        "server/simulator.py",
        "server/demo.py",
    ]
    left = [p for p in moved if (REPO / p).is_file() or any((REPO / p).glob("**/*.py"))]
    assert left == []


PACKAGES = (*CORE, "devkit")


def test_every_import_of_kgtwin_goes_through_the_kgtwin_namespace() -> None:
    """``kgtwin.graph``, never ``graph``: the bare folder names resolve only from the
    repository's root, and a module imported under both names would be two modules (two
    ``GraphError`` classes, say, that do not catch each other)."""
    files = [p for d in (*PACKAGES, "tests", "bench") for p in (REPO / d).rglob("*.py")]
    assert len(files) > 200
    bare = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bare += [
                f"{path.relative_to(REPO)}:{node.lineno}: {name}"
                for name in names
                if name.split(".")[0] in PACKAGES
            ]
    assert bare == [], "imports outside the kgtwin namespace:\n" + "\n".join(bare)
