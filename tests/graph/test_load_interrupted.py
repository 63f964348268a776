"""Issue 20, against the real Neo4j: a load too large for one transaction commits in
batches, and a load killed (SIGKILL) or cut off (Neo4j stopped) at any point never leaves a
half-loaded model visible: readers see the previous version of the model or none of it,
the server's dependency snapshot keeps the previous version, and the next load completes
the model exactly as a load into an empty graph makes it.

The loads that die run ``kgtwin load`` in a child process, with transactions of 300 rows,
so that a 3,000-asset site takes dozens of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j import Driver

from bench.synthetic import write_site
from kgtwin.devkit.launcher import LocalNeo4jConfig, Neo4jStatus, start, stop
from kgtwin.devkit.launcher.home import read_pid
from kgtwin.graph.connection import open_driver
from kgtwin.graph.nodes import nodes_by_iri
from kgtwin.graph.reader import Reader
from kgtwin.ontology.validate import Ontology
from kgtwin.server.graph_cache import GraphCache
from kgtwin.server.loading import load_model
from tests.graph.test_sync import count, twins
from tests.neo4j_service import Neo4jService, clean_database

MODEL = "site"
SMALL = ("--transaction-rows", "300", "--batch-size", "100")
CLI = "import sys; from kgtwin.server.cli import main; sys.exit(main())"
HIDDEN = "MATCH (m:Model {name: $name}) RETURN m.loading IS NOT NULL AS hidden"


@dataclass(frozen=True)
class Versions:
    """Two versions of one site, and what a load of each into an empty graph makes."""

    old: Path
    new: Path
    iris: list[str]  # every subject of either
    old_state: tuple[list[object], list[object]]
    new_state: tuple[list[object], list[object]]
    old_nodes: dict[str, dict[str, object]]  # what readers find of each, by IRI
    new_nodes: dict[str, dict[str, object]]


def _subjects(path: Path) -> list[str]:
    prefix = "https://w3id.org/kgtwin/site/synthetic#"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [prefix + line[2:].split()[0] for line in lines if line.startswith("s:")]


@pytest.fixture(scope="module")
def versions(
    tmp_path_factory: pytest.TempPathFactory, _session_driver: Driver, ontology: Ontology
) -> Versions:
    folder = tmp_path_factory.mktemp("versions")
    old, new = folder / "old.ttl", folder / "new.ttl"
    write_site(old, assets=1_000, relationships=3_000, seed=7)
    write_site(new, assets=3_000, relationships=9_000, seed=8)
    iris = sorted({*_subjects(old), *_subjects(new)})
    reader = Reader(_session_driver)
    states, nodes = [], []
    for path in (new, old):
        clean_database(_session_driver)
        assert load_model(_session_driver, [path], MODEL, ontology).report.ok
        states.append(twins(_session_driver))
        nodes.append(visible(reader, iris))
    return Versions(old, new, iris, states[1], states[0], nodes[1], nodes[0])


def kgtwin_load(path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "load", str(path), "--model", MODEL, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_until(process: subprocess.Popen[str], phase: str, nth: int) -> list[str]:
    """The lines ``process`` printed until the ``nth`` progress line of ``phase`` (it is
    then still running); fails if it ends before."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.strip().startswith(phase):
            nth -= 1
            if nth == 0:
                return lines
    pytest.fail(f"the load ended before {phase!r}:\n{''.join(lines)}")


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=300)
    return process.returncode, out


def visible(reader: Reader, iris: list[str]) -> dict[str, dict[str, object]]:
    """The model's nodes a reader finds by IRI, with their properties."""
    return {iri: dict(node.props) for iri, node in nodes_by_iri(reader, iris).items()}


@pytest.fixture
def env(neo4j_server: Neo4jService) -> dict[str, str]:
    return {
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.user,
        "NEO4J_PASSWORD": neo4j_server.password,
    }


# (phase, which of its progress lines): as it starts, or at about a quarter or a half of it
KILL_POINTS = [
    ("removing relationships", 1),
    ("creating nodes", 2),
    ("creating relationships", 3),
    ("committing", 1),
]


@pytest.mark.parametrize(("phase", "nth"), KILL_POINTS)
def test_a_load_killed_midway_shows_the_previous_version_until_a_load_completes_it(
    driver: Driver,
    ontology: Ontology,
    versions: Versions,
    env: dict[str, str],
    phase: str,
    nth: int,
) -> None:
    reader = Reader(driver)
    load_model(driver, [versions.old], MODEL, ontology)
    assert twins(driver) == versions.old_state
    old_nodes, new_nodes = versions.old_nodes, versions.new_nodes
    cache = GraphCache()
    cache.refresh(reader)
    assert cache.current is not None
    before = cache.current.snapshot

    load = kgtwin_load(versions.new, env, *SMALL)
    shown = run_until(load, phase, nth)
    load.send_signal(signal.SIGKILL)
    load.communicate(timeout=30)

    # never a mix: the old version, or (hidden) nothing, or (its last commit made) the new
    seen = visible(reader, versions.iris)
    assert seen in (old_nodes, {}, new_nodes), "".join(shown)
    hidden = count(
        driver, f"MATCH (m:Model {{name: '{MODEL}'}}) WHERE m.loading IS NOT NULL RETURN count(m)"
    )
    assert (seen == {}) == bool(hidden)
    if seen != new_nodes:
        # walks and what-if run on the snapshot, which keeps the version it was built at
        assert not cache.refresh(reader)
        assert cache.current.snapshot is before
        assert len(before) > 0

    again = kgtwin_load(versions.new, env, *SMALL)
    status, out = finished(again)
    assert status == 0, out
    assert twins(driver) == versions.new_state
    assert visible(reader, versions.iris) == new_nodes
    assert cache.refresh(reader)
    assert len(cache.current.snapshot) > len(before)  # three times the assets


def test_a_load_cut_off_by_neo4j_dying_is_completed_by_the_next(
    spare_neo4j: tuple[LocalNeo4jConfig, Neo4jStatus],
    ontology: Ontology,
    versions: Versions,
) -> None:
    cfg, running = spare_neo4j
    env = {
        "NEO4J_URI": running.bolt_uri,
        "NEO4J_USER": running.user,
        "NEO4J_PASSWORD": running.password,
    }
    with open_driver(running.bolt_uri, running.user, running.password) as spare:
        load_model(spare, [versions.old], MODEL, ontology)
    load = kgtwin_load(versions.new, env, *SMALL)
    run_until(load, "creating nodes", 2)
    pid = read_pid(cfg.home)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # Neo4j stops at once, mid-transaction
    stop(cfg)  # (forgets the pid of the process gone)
    status, out = finished(load)
    assert status != 0
    assert "Neo4j" in out

    running = start(cfg, progress=lambda _line: None)
    with open_driver(running.bolt_uri, running.user, running.password) as spare:
        reader = Reader(spare)
        assert visible(reader, versions.iris) == {}  # hidden, half-written
        (row,) = reader.rows(HIDDEN, "reading", name=MODEL)
        assert row["hidden"]
        again = kgtwin_load(versions.new, env, *SMALL)
        status, out = finished(again)
        assert status == 0, out
        # another database: Neo4j lists a node's labels in the order it first met them
        nodes, rels = twins(spare)
        assert sorted_labels(nodes) == sorted_labels(versions.new_state[0])
        assert rels == versions.new_state[1]


def sorted_labels(nodes: list[object]) -> list[object]:
    return [(iri, sorted(labels), props) for iri, labels, props in nodes]  # type: ignore[misc]


def test_a_model_too_large_for_one_transaction_loads_in_bounded_ones(
    spare_neo4j: tuple[LocalNeo4jConfig, Neo4jStatus],
    tmp_path: Path,
) -> None:
    """The issue's failure, small: on a Neo4j with a 512m heap (transactions at most 358
    MiB together), a 30k-asset site written in one transaction runs out of transaction
    memory, as the 100k-asset site did on the default 1g heap; in transactions of the
    default size it loads, and a reload changes nothing."""
    _, running = spare_neo4j
    env = {
        "NEO4J_URI": running.bolt_uri,
        "NEO4J_USER": running.user,
        "NEO4J_PASSWORD": running.password,
    }
    site = tmp_path / "site.ttl"
    size = write_site(site, assets=30_000, relationships=90_000)
    status, out = finished(kgtwin_load(site, env, "--transaction-rows", "1000000"))
    assert status == 1
    assert "MemoryPoolOutOfMemoryError" in out
    status, out = finished(kgtwin_load(site, env))
    assert status == 0, out
    assert f"relationships {size.relationships:,} created" in out
    status, out = finished(kgtwin_load(site, env))
    assert status == 0, out
    assert "already up to date" in out
