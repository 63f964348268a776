"""The local Neo4j from kgtwin's settings: its memory from a flag, the environment, the
config file, else from the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgtwin.devkit.launcher.memory import GIB
from kgtwin.devkit.settings import local_neo4j
from kgtwin.server.settings import Settings, SettingsError


def _no_machine() -> int:
    raise AssertionError("the machine was asked although both sizes are set")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kgtwin.toml"
    path.write_text('[local]\nheap = "3g"\npagecache = "1G"\n')
    return path


def test_unset_sizes_come_from_the_machine() -> None:
    cfg = local_neo4j(Settings.from_env({}), lambda: 8 * GIB)
    assert (cfg.heap, cfg.pagecache) == ("2g", "2g")
    assert (cfg.memory.heap_origin, cfg.memory.pagecache_origin) == ("machine", "machine")


def test_flag_over_environment_over_config_file_over_machine(config: Path) -> None:
    from_file = Settings.from_env({}, config=config)
    cfg = local_neo4j(from_file, _no_machine)
    assert (cfg.heap, cfg.pagecache) == ("3g", "1g")
    assert (cfg.heap_origin, cfg.pagecache_origin) == ("setting", "setting")

    from_env = Settings.from_env({"KGTWIN_CONFIG": str(config), "KGTWIN_NEO4J_HEAP": "5g"})
    assert (local_neo4j(from_env, _no_machine).heap, from_env.local_pagecache) == ("5g", "1g")

    flagged = from_env.override(local_heap="6g", local_pagecache=None)
    assert (local_neo4j(flagged, _no_machine).heap, flagged.local_pagecache) == ("6g", "1g")


def test_one_size_set_the_other_from_the_machine() -> None:
    settings = Settings.from_env({"KGTWIN_NEO4J_PAGECACHE": "768m", "KGTWIN_NEO4J_HEAP": ""})
    cfg = local_neo4j(settings, lambda: 256 * GIB)
    assert (cfg.heap, cfg.heap_origin) == ("8g", "machine")
    assert (cfg.pagecache, cfg.pagecache_origin) == ("768m", "setting")


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("lots", "is not a memory size: write a whole number and a unit, like 512m or 4g"),
        ("1.5g", "is not a memory size"),
        ("0g", "is not a memory size"),
        ("4gb", "is not a memory size"),
        ("4096", r"is not from 512m to 31g \(a number without k, m or g counts bytes\)"),
        ("256m", "is not from 512m to 31g"),
        ("64g", "is not from 512m to 31g; .*Neo4j advises at most 31g"),
    ],
)
def test_a_heap_that_is_no_size_is_refused_naming_the_setting(
    value: str, complaint: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError, match=f"^KGTWIN_NEO4J_HEAP='{value}' {complaint}"):
        Settings.from_env({"KGTWIN_NEO4J_HEAP": value})
    with pytest.raises(SettingsError, match=f"^--heap='{value}' {complaint}"):
        Settings().override(local_heap=value)
    path = tmp_path / "kgtwin.toml"
    path.write_text(f'[local]\nheap = "{value}"\n')
    with pytest.raises(SettingsError, match=rf"^config file .*: \[local\] heap='{value}'"):
        Settings.from_env({}, config=path)


def test_a_page_cache_size_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^KGTWIN_NEO4J_PAGECACHE='9' is not from 64m"):
        Settings.from_env({"KGTWIN_NEO4J_PAGECACHE": "9"})
    path = tmp_path / "kgtwin.toml"
    path.write_text("[local]\npagecache = 2\n")  # a TOML number, not a size
    with pytest.raises(SettingsError, match=r"\[local\] pagecache=2 is not a memory size"):
        Settings.from_env({}, config=path)
