"""An instance's server JVM as its pid file records it: started and waited for until it
serves, found running, stopped. Shared by the local Neo4j and the local QuestDB.

``launch`` spawns the JVM, writes its pid file and polls the server's :class:`Readiness`
probe; if the JVM exits first, or the deadline passes, it is stopped and its pid file
removed, and the error quotes the end of its logs. A pid file is trusted only while its pid
still runs as the instance's JVM (:class:`~devkit.launcher.process.ServerProcess`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kgtwin.devkit.errors import LauncherError, StartTimeout
from kgtwin.devkit.launcher.files import exclusive, read_text, write_atomic
from kgtwin.devkit.launcher.process import ServerProcess, reap, spawn, terminate

logger = logging.getLogger(__name__)

_POLL = 0.25
_STOP_AFTER_FAILED_START = 30.0  # seconds a JVM that failed to start gets for SIGTERM


class NotReady(Exception):
    """The server runs but cannot serve yet (its port is closed, it is still starting):
    raised by a probe to be asked again shortly."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """What a start waits for: ``probe`` returns once the server serves and raises
    :class:`NotReady` until then; ``waiting_for`` says what in messages ("accept a Bolt
    session on bolt://127.0.0.1:7687"); ``log_tail`` quotes the end of this start's logs,
    and ``logs`` is the folder holding them all."""

    probe: Callable[[], None]
    waiting_for: str
    log_tail: Callable[[], str]
    logs: Path


def launch(
    server: ServerProcess,
    argv: list[str],
    console: Path,
    pid_file: Path,
    readiness: Readiness,
    deadline: float,
    env: Mapping[str, str] | None = None,
) -> int:
    """Spawn ``argv`` (stdout and stderr to ``console``, environment ``env``), record its pid
    in ``pid_file`` and return it once ``readiness`` passes. On any failure the JVM is
    stopped and the pid file removed before the error propagates."""
    pid = spawn(argv, console, env)
    logger.info("started %s pid %d: %s", server.name, pid, " ".join(argv))
    try:
        write_atomic(pid_file, f"{pid}\n")
        wait_until_ready(server, pid, readiness, deadline, spawned=True)
    except BaseException:
        terminate(pid, server, _STOP_AFTER_FAILED_START)
        pid_file.unlink(missing_ok=True)
        raise
    return pid


def wait_until_ready(
    server: ServerProcess, pid: int, readiness: Readiness, deadline: float, *, spawned: bool
) -> None:
    """Return once the JVM ``pid`` of ``server`` passes ``readiness``'s probe.

    ``spawned`` says whether ``pid`` is a child of this process (so its exit code can be
    read). Raises ``StartTimeout`` at ``deadline`` (a ``time.monotonic()`` value) and
    ``LauncherError`` if the JVM exits first; the caller decides whether to stop it.
    """
    last_problem = "no answer yet"
    while True:
        if spawned:
            code = reap(pid)
            if code is not None:
                raise LauncherError(
                    f"{server.name} (pid {pid}) exited with code {code} during start-up.\n"
                    f"{readiness.log_tail()}\nFull logs are in {readiness.logs}."
                )
        elif not server.runs_as(pid):
            raise LauncherError(
                f"{server.name} (pid {pid}) stopped while waiting for it.\n{readiness.log_tail()}"
            )
        try:
            readiness.probe()
            return
        except NotReady as exc:
            last_problem = str(exc)
            logger.debug("%s not ready yet: %s", server.name, last_problem)
        if time.monotonic() >= deadline:
            fate = "it is being stopped" if spawned else "it was left running"
            raise StartTimeout(
                f"{server.name} (pid {pid}) did not {readiness.waiting_for} in time (last "
                f"problem: {last_problem}); {fate}.\n{readiness.log_tail()}\nFull logs are in "
                f"{readiness.logs}; a slow machine may need a longer timeout."
            )
        time.sleep(_POLL)


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file``; an unreadable pid file is removed."""
    text = read_text(pid_file)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        logger.warning("ignoring unreadable pid file %s", pid_file)
        pid_file.unlink(missing_ok=True)
        return None


def running_pid(server: ServerProcess, pid_file: Path) -> int | None:
    """The pid of ``server``'s running JVM, or ``None``; a stale pid file is removed."""
    pid = read_pid(pid_file)
    if pid is None or server.runs_as(pid):
        return pid
    logger.info("removing stale pid file %s (pid %d is not our %s)", pid_file, pid, server.name)
    pid_file.unlink(missing_ok=True)
    return None


def stop(server: ServerProcess, pid_file: Path, timeout: float) -> bool:
    """Stop ``server``'s JVM (SIGTERM, then SIGKILL after ``timeout``) under the lock of
    its instance folder, and remove its pid file; ``False`` if it did not run (or the
    folder does not exist)."""
    if not server.home.is_dir():
        return False
    with exclusive(lock_file(server.home)):
        pid = running_pid(server, pid_file)
        if pid is None:
            return False
        terminate(pid, server, timeout)
        pid_file.unlink(missing_ok=True)
        return True


def stored_credentials(user: str, password_file: Path) -> tuple[str, str] | None:
    """``(user, password)`` with the password kept in ``password_file``, or ``None`` before
    the instance's first start wrote one."""
    password = (read_text(password_file) or "").strip()
    return (user, password) if password else None


def lock_file(home: Path) -> Path:
    """The lock a start or stop of the instance in ``home`` holds."""
    return home / ".launcher.lock"
