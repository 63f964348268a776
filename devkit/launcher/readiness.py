"""What a start of the local Neo4j waits for: a Bolt session, with its password set.

Neo4j starts with the password ``neo4j``, expired. On the first start a random password
is written to ``root/NAME/password`` (mode 600) and then set on the server, so a crash
between the two is recovered on the next start; later starts log in with the stored
password. An instance counts as ready once a session with that password runs a query
(:func:`bolt_session`, polled by :mod:`devkit.launcher.instance`).

This module is the launcher's one boundary to the Neo4j driver: its exceptions become
``NotReady`` (try again shortly), ``AuthError`` (handled here) or ``LauncherError``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
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

from kgtwin.devkit.errors import LauncherError
from kgtwin.devkit.launcher.config import HOST, USER
from kgtwin.devkit.launcher.files import read_text, write_atomic
from kgtwin.devkit.launcher.home import log_tail, password_file
from kgtwin.devkit.launcher.instance import NotReady, Readiness
from kgtwin.devkit.launcher.process import port_open

logger = logging.getLogger(__name__)

_DEFAULT_PASSWORD = "neo4j"

# The password change must run on the system database, as the user whose password expired.
_PING: LiteralString = "RETURN 1"
_CHANGE_DEFAULT_PASSWORD: LiteralString = (
    "ALTER CURRENT USER SET PASSWORD FROM $current TO $password"
)


def bolt_session(bolt_port: int, home: Path, log_offset: int) -> Readiness:
    """Ready once a session on ``bolt_port`` runs a query with the stored password (set on
    the first start). ``log_offset`` is where this start's part of ``neo4j.log`` begins."""
    uri = f"bolt://{HOST}:{bolt_port}"

    def probe() -> None:
        if not port_open(bolt_port):
            raise NotReady("Bolt port not open yet")
        _ensure_password(uri, home)

    return Readiness(
        probe=probe,
        waiting_for=f"accept a Bolt session on {uri}",
        log_tail=lambda: log_tail(home, log_offset),
        logs=home / "logs",
    )


def _ensure_password(uri: str, home: Path) -> None:
    """Open a session with the stored password; on first start, set it from the default."""
    stored_in = password_file(home)
    stored = (read_text(stored_in) or "").strip()
    if not stored:  # first start
        # Written before the change, so a crash in between can be recovered on the next start.
        stored = secrets.token_urlsafe(24)
        write_atomic(stored_in, stored + "\n", mode=0o600)
    else:
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
            f"Neo4j at {uri} accepts neither the password in {stored_in} nor the default "
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
        auth=(USER, password),
        connection_timeout=2.0,
        connection_acquisition_timeout=5.0,
        max_connection_pool_size=1,
    )


@contextmanager
def _session_errors() -> Iterator[None]:
    """Turn the driver's errors into ``NotReady`` (retry) or ``LauncherError``; keep AuthError."""
    try:
        yield
    except AuthError:
        raise
    except (ServiceUnavailable, SessionExpired, TransientError) as exc:
        raise NotReady(f"{type(exc).__name__}: {exc}") from exc
    except (Neo4jError, DriverError) as exc:
        raise LauncherError(f"Neo4j answered the start-up check with an error: {exc}") from exc
