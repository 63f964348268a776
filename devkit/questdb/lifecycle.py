"""Starting, stopping and inspecting a local QuestDB: the package's public operations.

``start`` fetches the jar if needed, checks the ports, writes the instance's config,
spawns the JVM and waits until ``/exec`` answers; ``stop`` terminates it (QuestDB shuts
down cleanly on SIGTERM); ``status`` and ``credentials`` only read the instance folder (and
the process table). Starts and stops of one instance are serialised by a lock file in its
folder, across processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from kgtwin.devkit.errors import LauncherError, PortInUse
from kgtwin.devkit.launcher import instance
from kgtwin.devkit.launcher.config import HOST, Progress
from kgtwin.devkit.launcher.files import exclusive
from kgtwin.devkit.launcher.process import port_taken
from kgtwin.devkit.questdb.config import USER, LocalQuestDBConfig, QuestDBStatus
from kgtwin.devkit.questdb.home import (
    configured_ports,
    console_log,
    ensure_password,
    password_file,
    pid_file,
    prepare_home,
)
from kgtwin.devkit.questdb.install import install
from kgtwin.devkit.questdb.jvm import (
    java_command,
    questdb_java,
    questdb_process,
    server_environment,
)
from kgtwin.devkit.questdb.readiness import exec_answers


def start(cfg: LocalQuestDBConfig, progress: Progress, timeout: float = 60.0) -> QuestDBStatus:
    """Start the instance (fetching the jar first if needed) and return once ``/exec``
    answers. If this instance already runs on the configured ports, return its status."""
    java = questdb_java(cfg)
    jar = install(cfg, progress)
    home = cfg.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    # Two processes starting the same instance: the second waits, then finds it running.
    with exclusive(instance.lock_file(home)):
        return _start_locked(cfg, java, jar, home, progress, timeout)


def _start_locked(
    cfg: LocalQuestDBConfig, java: str, jar: Path, home: Path, progress: Progress, timeout: float
) -> QuestDBStatus:
    current = status(cfg)
    if current.running and current.pid is not None:
        wanted = (f"http://{HOST}:{cfg.http_port}", f"{HOST}:{cfg.pg_port}")
        if (current.http_url, current.pg_address) != wanted:
            raise LauncherError(
                f"QuestDB instance {home} already runs (pid {current.pid}) on "
                f"{current.http_url} and {current.pg_address}, not on the requested ports "
                f"{cfg.http_port} and {cfg.pg_port}; stop it first or use its ports."
            )
        if current.password is None:
            raise LauncherError(
                f"QuestDB instance {home} runs (pid {current.pid}) but its password file "
                f"{password_file(home)} is gone; stop it and start it again (a start writes "
                "a new password)."
            )
        instance.wait_until_ready(
            questdb_process(home),
            current.pid,
            exec_answers(cfg.http_port, current.password, home),
            time.monotonic() + timeout,
            spawned=False,
        )
        return current

    for port, what in ((cfg.http_port, "HTTP"), (cfg.pg_port, "PostgreSQL")):
        if port_taken(port):
            raise PortInUse(
                f"Port {port} on {HOST} (configured as the {what} port of QuestDB instance "
                f"{home}) is already used by another process. Free it (see "
                f"'ss -ltnp sport = :{port}') or choose another port."
            )

    password = ensure_password(home)
    prepare_home(cfg, home, password)
    progress(
        f"Starting QuestDB {cfg.version} in {home}: console http://{HOST}:{cfg.http_port}, "
        f"PostgreSQL {HOST}:{cfg.pg_port}"
    )
    started = time.monotonic()
    instance.launch(
        questdb_process(home),
        java_command(java, jar, home),
        console_log(home),
        pid_file(home),
        exec_answers(cfg.http_port, password, home),
        started + timeout,
        env=server_environment(os.environ),
    )
    progress(f"QuestDB is up after {time.monotonic() - started:.1f} s")
    return status(cfg)


def stop(cfg: LocalQuestDBConfig, timeout: float = 60.0) -> bool:
    """Stop the instance (SIGTERM, then SIGKILL after ``timeout``); False if it did not run."""
    home = cfg.home.resolve()
    return instance.stop(questdb_process(home), pid_file(home), timeout)


def status(cfg: LocalQuestDBConfig) -> QuestDBStatus:
    """Whether the instance runs (its pid file names a live JVM of ours), and how to reach it.

    A stale pid file is removed. For a running instance the ports are the ones it was
    started with (its ``server.conf``); otherwise those a start would use.
    """
    home = cfg.home.resolve()
    pid = instance.running_pid(questdb_process(home), pid_file(home))
    http_port, pg_port = cfg.http_port, cfg.pg_port
    if pid is not None:
        http_port, pg_port = configured_ports(home) or (http_port, pg_port)
    known = credentials(cfg)
    http_url = f"http://{HOST}:{http_port}"
    return QuestDBStatus(
        running=pid is not None,
        pid=pid,
        http_url=http_url,
        console_url=http_url,
        pg_address=f"{HOST}:{pg_port}",
        user=USER,
        password=known[1] if known else None,
        version=cfg.version,
        home=home,
    )


def credentials(cfg: LocalQuestDBConfig) -> tuple[str, str] | None:
    """``(user, password)`` of this instance, or ``None`` before its first start."""
    return instance.stored_credentials(USER, password_file(cfg.home.resolve()))
