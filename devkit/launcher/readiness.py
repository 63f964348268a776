"""Waiting for a started instance to serve Bolt sessions, and setting its password.

Neo4j starts with the password ``neo4j``, expired. On the first start a random password
is written to ``root/NAME/password`` (mode 600) and then set on the server, so a crash
between the two is recovered on the next start; later starts log in with the stored
password. An instance counts as ready once a session with that password runs a query.

This module is the launcher's one boundary to the Neo4j driver: its exceptions become
``_NotReady`` (try again shortly), ``AuthError`` (handled here) or ``LauncherError``.
"""

from __future__ import annotations

import logging
import secrets
import time
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

from kgtwin.devkit.errors import LauncherError, StartTimeout
from kgtwin.devkit.launcher.config import HOST, USER
from kgtwin.devkit.launcher.files import read_text, write_atomic
from kgtwin.devkit.launcher.home import log_tail, password_file
from kgtwin.devkit.launcher.process import is_our_java, port_open, reap

logger = logging.getLogger(__name__)

_DEFAULT_PASSWORD = "neo4j"
_POLL = 0.25

# The password change must run on the system database, as the user whose password expired.
_PING: LiteralString = "RETURN 1"
_CHANGE_DEFAULT_PASSWORD: LiteralString = (
    "ALTER CURRENT USER SET PASSWORD FROM $current TO $password"
)


class _NotReady(Exception):
    """Bolt is up but the server cannot serve a session yet."""


def wait_until_ready(
    bolt_port: int,
    home: Path,
    pid: int,
    deadline: float,
    *,
    spawned: bool,
    log_offset: int,
) -> None:
    """Return once the JVM ``pid`` of ``home`` serves a session on ``bolt_port``.

    ``spawned`` says whether ``pid`` is a child of this process (so its exit code can be
    read); ``log_offset`` is where this start's part of ``neo4j.log`` begins. Raises
    ``StartTimeout`` at ``deadline`` (a ``time.monotonic()`` value) and ``LauncherError``
    if the JVM exits first; the caller decides whether to stop it.
    """
    uri = f"bolt://{HOST}:{bolt_port}"
    last_problem = "Bolt port not open yet"
    while True:
        if spawned:
            code = reap(pid)
            if code is not None:
                raise LauncherError(
                    f"Neo4j (pid {pid}) exited with code {code} during start-up.\n"
                    f"{log_tail(home, log_offset)}\nFull logs are in {home / 'logs'}."
                )
        elif not is_our_java(pid, home):
            raise LauncherError(
                f"Neo4j (pid {pid}) stopped while waiting for it.\n{log_tail(home, log_offset)}"
            )
        if port_open(bolt_port):
            try:
                _ensure_password(uri, home)
                return
            except _NotReady as exc:
                last_problem = str(exc)
                logger.debug("Neo4j not ready yet: %s", last_problem)
        if time.monotonic() >= deadline:
            fate = "it is being stopped" if spawned else "it was left running"
            raise StartTimeout(
                f"Neo4j (pid {pid}) did not accept a Bolt session on {uri} in time "
                f"(last problem: {last_problem}); {fate}.\n{log_tail(home, log_offset)}\n"
                f"Full logs are in {home / 'logs'}; a slow machine may need a longer timeout."
            )
        time.sleep(_POLL)


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
    """Turn the driver's errors into ``_NotReady`` (retry) or ``LauncherError``; keep AuthError."""
    try:
        yield
    except AuthError:
        raise
    except (ServiceUnavailable, SessionExpired, TransientError) as exc:
        raise _NotReady(f"{type(exc).__name__}: {exc}") from exc
    except (Neo4jError, DriverError) as exc:
        raise LauncherError(f"Neo4j answered the start-up check with an error: {exc}") from exc
