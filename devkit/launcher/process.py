"""A local server's JVM as an operating-system process, and the ports it listens on.

The JVM is spawned detached (its own session, output to ``console.log``) so that it
outlives the Python process that started it. Whether a pid still names the JVM of a given
instance (a :class:`ServerProcess`) is read from ``/proc/PID/cmdline`` on Linux, from ``ps``
elsewhere; a pid file alone proves nothing, since pids are reused. The local Neo4j, the
local QuestDB (``devkit.questdb``) and the local Mosquitto (``devkit.broker``) all use it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from kgtwin.devkit.errors import LauncherError
from kgtwin.devkit.launcher.config import HOST

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """How the JVM of one instance shows among the machine's processes: ``arguments`` are
    on its command line and on no other's (its entry point and its folder); ``name`` and
    ``home`` are for messages."""

    name: str
    home: Path
    arguments: tuple[str, ...]

    def runs_as(self, pid: int) -> bool:
        """Whether ``pid`` is alive and is this JVM (an exited child of ours is collected
        first, so that its zombie does not count)."""
        reap(pid)
        return runs_with(pid, *self.arguments)


def spawn(argv: list[str], console: Path, env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` detached, stdout and stderr to ``console``, with environment ``env``
    (default: this process's); return its pid."""
    # posix_spawn rather than subprocess.Popen: the JVM outlives this call (and often this
    # Python process), and a Popen object dropped while its child runs warns on finalisation.
    # The child gets its own session, stdin from /dev/null, stdout and stderr to console.
    truncate = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ if env is None else env),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(console), truncate, 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
    except OSError as exc:
        raise LauncherError(f"Could not start {argv[0]}: {exc}") from exc


def reap(pid: int) -> int | None:
    """Collect ``pid`` if it is an exited child of ours; its exit code, else ``None``."""
    try:
        waited, wait_status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(wait_status) if waited == pid else None


def runs_with(pid: int, *arguments: str) -> bool:
    """Whether ``pid`` is alive and runs with each of ``arguments`` on its command line
    (pids are reused: a pid file alone does not say the process is still ours)."""
    proc = Path("/proc")
    if proc.is_dir():
        try:
            args = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return all(a.encode() in args for a in arguments)  # a zombie's cmdline is empty
    try:
        done = subprocess.run(
            ["ps", "-ww", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(done.stdout) and all(a in done.stdout for a in arguments)


def terminate(pid: int, server: ServerProcess, timeout: float) -> None:
    """Stop the JVM ``pid`` of ``server``: SIGTERM, then SIGKILL if it still runs after
    ``timeout``.

    Does nothing if ``pid`` is no longer that JVM: once an exited child is reaped its pid
    is free, and may already name an unrelated process.
    """
    if not server.runs_as(pid):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not server.runs_as(pid):
                _collect(pid)
                return
            time.sleep(0.1)
        logger.warning("%s pid %d still runs %.0f s after %s", server.name, pid, wait, sig.name)
    raise LauncherError(
        f"{server.name} (pid {pid}, {server.home}) did not exit even after SIGKILL; "
        f"check 'ps -p {pid}'."
    )


def _collect(pid: int, timeout: float = 5.0) -> None:
    """Wait for ``pid``, if it is a child of ours, to finish exiting and collect it: its
    command line empties before it exits, and a child left uncollected stays a zombie
    until this process exits (and then until init gets round to it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not our child (or already collected)
        if waited == pid:
            return
        time.sleep(0.05)


def port_taken(port: int) -> bool:
    """Whether another process listens on (or holds) ``port`` on the loopback address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so that sockets in TIME_WAIT do not count; a listener still does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on the loopback address right now (all held open
    together, so they differ): for instances and servers started by tests and benchmarks."""
    with ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def port_open(port: int) -> bool:
    """Whether something accepts connections on ``port`` on the loopback address."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False
