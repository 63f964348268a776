"""The Neo4j server the test suite runs against, and a way to empty it between tests.

Where the server comes from, first match wins:

1. ``NEO4J_URI`` is set: that server, with ``NEO4J_USER`` (default ``neo4j``) and
   ``NEO4J_PASSWORD``.
2. A Docker engine answers: a throwaway ``neo4j:5.26-community`` container (testcontainers).
3. Otherwise the project-local launcher (``devkit.launcher``): a fresh instance
   ``neo4j-test-PID`` on two free ports, stopped and deleted at the end.

A server that cannot be had is an error, never a skip.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import LiteralString

from neo4j import Driver

from kgtwin.devkit.launcher import LocalNeo4jConfig, Neo4jStatus, free_ports, start, stop

logger = logging.getLogger(__name__)

TESTCONTAINERS_IMAGE = "neo4j:5.26-community"
LOCAL_INSTANCE = "neo4j-test"

_DELETE_EVERYTHING: LiteralString = (
    "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
)
_CONSTRAINTS: LiteralString = "SHOW CONSTRAINTS YIELD name RETURN name"
_DROP_CONSTRAINT: LiteralString = "DROP CONSTRAINT $name IF EXISTS"
# Constraint-backed indexes go with their constraint; LOOKUP indexes are Neo4j's own.
_INDEXES: LiteralString = (
    "SHOW INDEXES YIELD name, type, owningConstraint "
    "WHERE type <> 'LOOKUP' AND owningConstraint IS NULL RETURN name"
)
_DROP_INDEX: LiteralString = "DROP INDEX $name IF EXISTS"


@dataclass(frozen=True, slots=True)
class Neo4jService:
    """How to reach the test server; ``kind`` is ``env``, ``testcontainers`` or ``local``."""

    uri: str
    user: str
    password: str = field(repr=False)
    kind: str


@contextmanager
def neo4j_service(root: Path) -> Iterator[Neo4jService]:
    """Yield a running Neo4j for the session; ``root`` holds the local launcher's files."""
    uri = os.environ.get("NEO4J_URI")
    if uri:
        password = os.environ.get("NEO4J_PASSWORD")
        if password is None:
            raise RuntimeError(
                f"NEO4J_URI is set ({uri}) but NEO4J_PASSWORD is not; set it too, or unset "
                "NEO4J_URI to let the tests start their own Neo4j."
            )
        yield Neo4jService(uri, os.environ.get("NEO4J_USER", "neo4j"), password, "env")
    elif _docker_answers():
        with _container() as service:
            yield service
    else:
        with _local(root) as service:
            yield service


@contextmanager
def _container() -> Iterator[Neo4jService]:
    # Imported here: only this branch needs testcontainers (and a Docker engine).
    from testcontainers.community.neo4j import Neo4jContainer

    with Neo4jContainer(TESTCONTAINERS_IMAGE) as container:
        yield Neo4jService(
            container.get_connection_url(),
            container.username,
            container.password,
            "testcontainers",
        )


@contextmanager
def _local(root: Path) -> Iterator[Neo4jService]:
    # One instance per test session (several sessions may share a checkout), deleted at the
    # end; instances of sessions that died without cleaning up are removed first.
    _remove_orphans(root)
    bolt_port, http_port = free_ports(2)
    cfg = LocalNeo4jConfig(
        root=root,
        name=f"{LOCAL_INSTANCE}-{os.getpid()}",
        bolt_port=bolt_port,
        http_port=http_port,
    )
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, cfg.home, ignore_errors=True)
        cleanup.callback(stop, cfg)
        running = start(cfg, progress=logger.info)
        if running.password is None:  # start() always leaves a password behind
            raise RuntimeError(f"the local Neo4j in {running.home} has no stored password")
        yield Neo4jService(running.bolt_uri, running.user, running.password, "local")


def _remove_orphans(root: Path) -> None:
    for home in root.glob(f"{LOCAL_INSTANCE}-*"):
        owner = home.name.removeprefix(f"{LOCAL_INSTANCE}-")
        if not owner.isdigit() or alive(int(owner)):
            continue
        logger.warning("removing the Neo4j test instance %s of a session that died", home)
        stop(LocalNeo4jConfig(root=root, name=home.name))
        shutil.rmtree(home, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a session that died leaves its folder behind)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    return True


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        done = subprocess.run(
            [docker, "info"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def clean_database(driver: Driver, database: str | None = None) -> None:
    """Empty the database: every node and relationship, constraint and index (but LOOKUP)."""
    with driver.session(database=database) as session:
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
        session.run(_DELETE_EVERYTHING).consume()
        for name in session.run(_CONSTRAINTS).value("name"):
            session.run(_DROP_CONSTRAINT, name=name).consume()
        for name in session.run(_INDEXES).value("name"):
            session.run(_DROP_INDEX, name=name).consume()


@contextmanager
def private_neo4j(
    root: Path, name: str, browser_content: str | None = None
) -> Iterator[tuple[LocalNeo4jConfig, Neo4jStatus]]:
    """A small local Neo4j of the test's own, to stop and start at will: its config and
    status; stopped and deleted afterwards. ``browser_content``: as the launcher's."""
    bolt, http = free_ports(2)
    cfg = LocalNeo4jConfig(
        root=root,
        name=f"{name}-{os.getpid()}",
        bolt_port=bolt,
        http_port=http,
        heap="512m",
        pagecache="64m",
        browser_content=browser_content,
    )
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, cfg.home, ignore_errors=True)
        cleanup.callback(stop, cfg)
        yield cfg, start(cfg, progress=lambda _line: None)
