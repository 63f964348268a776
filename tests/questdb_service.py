"""The QuestDB the test suite runs against, QuestDBs of a test's own, and a way to empty one
between tests.

Where the session's server comes from, first match wins:

1. ``QUESTDB_URL`` is set: that server, as ``QUESTDB_USER`` (default ``admin``) with
   ``QUESTDB_PASSWORD``; its PostgreSQL wire protocol on the URL's host, at
   ``QUESTDB_PG_PORT`` (default 8812), as kgtwin's settings read them.
2. Otherwise the project-local launcher (``devkit.questdb``): a fresh instance
   ``questdb-test-PID`` on two free ports, stopped and deleted at the end.

A server that cannot be had is an error, never a skip. Emptying one drops every table and
materialized view but QuestDB's own, on a ``QUESTDB_URL`` server too: point it only at a
QuestDB the tests may wipe.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from kgtwin.devkit.launcher import free_ports
from kgtwin.devkit.questdb import LocalQuestDBConfig, QuestDBStatus, start, stop
from kgtwin.server.settings import LOCAL_QUESTDB_USER
from tests.neo4j_service import alive

logger = logging.getLogger(__name__)

SESSION_INSTANCE = "questdb-test"
OWN_INSTANCE = "questdb-own"
PG_PORT = "8812"  # of a QUESTDB_URL server without QUESTDB_PG_PORT: QuestDB's default

# User tables and materialized views, with the views built on them, in QuestDB 9.2.2; it
# keeps its own (sys.*, _query_trace, telemetry_config), which tables() does not list.
_DROP_ALL = "DROP ALL TABLES"
_TABLES = "SELECT table_name FROM tables()"

_own_instances = itertools.count(1)


@dataclass(frozen=True, slots=True)
class QuestDBService:
    """How to reach a test QuestDB: ``url`` (HTTP: REST ``/exec``, ``/write``, the web
    console) and the PostgreSQL wire protocol at ``pg_host``:``pg_port``, both as ``user``
    with ``password``; ``kind`` is ``env`` or ``local``."""

    url: str
    user: str
    password: str = field(repr=False)
    pg_host: str
    pg_port: int
    kind: str


@contextmanager
def questdb_service(root: Path) -> Iterator[QuestDBService]:
    """Yield a running QuestDB for the session; ``root`` holds the local launcher's files."""
    url = os.environ.get("QUESTDB_URL")
    if url:
        password = os.environ.get("QUESTDB_PASSWORD")
        if password is None:
            raise RuntimeError(
                f"QUESTDB_URL is set ({url}) but QUESTDB_PASSWORD is not; set it too, or unset "
                "QUESTDB_URL to let the tests start their own QuestDB."
            )
        user = os.environ.get("QUESTDB_USER", LOCAL_QUESTDB_USER)
        host = urlsplit(url).hostname or "127.0.0.1"
        pg_port = int(os.environ.get("QUESTDB_PG_PORT", PG_PORT))
        yield QuestDBService(url.rstrip("/"), user, password, host, pg_port, "env")
        return
    _remove_orphans(root)
    http_port, pg_port = free_ports(2)
    cfg = LocalQuestDBConfig(
        root=root, name=f"{SESSION_INSTANCE}-{os.getpid()}", http_port=http_port, pg_port=pg_port
    )
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, cfg.home, ignore_errors=True)
        cleanup.callback(stop, cfg)
        yield _service_of(start(cfg, progress=logger.info))


def clean_questdb(service: QuestDBService) -> None:
    """Drop every table and materialized view of ``service`` but QuestDB's own."""
    with httpx.Client(base_url=service.url, auth=(service.user, service.password)) as client:
        execute(client, _DROP_ALL)
        left = execute(client, _TABLES)["dataset"]
    if left:
        raise RuntimeError(
            f"QuestDB at {service.url} kept {left} after {_DROP_ALL}; it is not the QuestDB "
            "9.2 the tests expect."
        )


def execute(client: httpx.Client, sql: str) -> dict[str, Any]:
    """Run ``sql`` through ``/exec``; its JSON answer, or an error with QuestDB's message."""
    response = client.get("/exec", params={"query": sql}, timeout=30.0)
    if response.status_code != httpx.codes.OK:
        raise RuntimeError(
            f"QuestDB refused {sql!r} (HTTP {response.status_code}): {response.text[:500]}"
        )
    answer: dict[str, Any] = response.json()
    return answer


class OwnQuestDB:
    """A local QuestDB of a test's own, ``questdb-own-PID-N`` on two free ports, started at
    once; ``service`` says how to reach it. ``stop()`` and ``start()`` it at will (its data
    and ports are kept); ``close()`` stops and deletes it."""

    def __init__(self, root: Path) -> None:
        http_port, pg_port = free_ports(2)
        self.config = LocalQuestDBConfig(
            root=root,
            name=f"{OWN_INSTANCE}-{os.getpid()}-{next(_own_instances)}",
            http_port=http_port,
            pg_port=pg_port,
        )
        self.service = self.start()

    def start(self) -> QuestDBService:
        """Start it (returns at once if it runs)."""
        return _service_of(start(self.config, progress=logger.info))

    def stop(self) -> None:
        stop(self.config)

    def close(self) -> None:
        stop(self.config)
        shutil.rmtree(self.config.home, ignore_errors=True)


def _service_of(running: QuestDBStatus) -> QuestDBService:
    if running.password is None:  # start() always leaves a password behind
        raise RuntimeError(f"the local QuestDB in {running.home} has no stored password")
    host, _, port = running.pg_address.rpartition(":")
    return QuestDBService(
        running.http_url, running.user, running.password, host, int(port), "local"
    )


def _remove_orphans(root: Path) -> None:
    """Remove the instances of sessions that died without cleaning up (their pid is gone)."""
    for prefix in (SESSION_INSTANCE, OWN_INSTANCE):
        for home in root.glob(f"{prefix}-*"):
            owner = home.name.removeprefix(f"{prefix}-").split("-")[0]
            if not owner.isdigit() or alive(int(owner)):
                continue
            logger.warning("removing the QuestDB test instance %s of a session that died", home)
            stop(LocalQuestDBConfig(root=root, name=home.name))
            shutil.rmtree(home, ignore_errors=True)
