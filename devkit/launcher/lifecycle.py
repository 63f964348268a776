"""Starting, stopping and inspecting an instance: the launcher's public operations.

``start`` installs the jars if needed, checks the ports, writes the instance's config,
spawns the JVM and waits until Bolt serves a session; ``stop`` terminates it; ``status``
and ``credentials`` only read the instance folder (and the process table). Starts and
stops of one instance are serialised by a lock file in its folder, across processes.
"""

from __future__ import annotations

import time
from pathlib import Path

from kgtwin.devkit.errors import LauncherError, PortInUse
from kgtwin.devkit.launcher import instance
from kgtwin.devkit.launcher.config import HOST, USER, LocalNeo4jConfig, Neo4jStatus, Progress
from kgtwin.devkit.launcher.files import exclusive
from kgtwin.devkit.launcher.home import (
    configured_memory,
    configured_ports,
    console_log,
    neo4j_log_size,
    password_file,
    pid_file,
    prepare_home,
)
from kgtwin.devkit.launcher.install import install
from kgtwin.devkit.launcher.java import java_command, neo4j_java, neo4j_process
from kgtwin.devkit.launcher.memory import Memory
from kgtwin.devkit.launcher.process import port_taken
from kgtwin.devkit.launcher.readiness import bolt_session


def start(cfg: LocalNeo4jConfig, progress: Progress, timeout: float = 120.0) -> Neo4jStatus:
    """Start the instance (installing first if needed) and return once Bolt answers a session.

    If this instance already runs and answers on the configured ports, return its status.
    """
    java = neo4j_java(cfg)
    lib = install(cfg, progress)
    home = cfg.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    # Two processes starting the same instance: the second waits, then finds it running.
    with exclusive(instance.lock_file(home)):
        return _start_locked(cfg, java, lib, home, progress, timeout)


def _start_locked(
    cfg: LocalNeo4jConfig, java: str, lib: Path, home: Path, progress: Progress, timeout: float
) -> Neo4jStatus:
    bolt_uri = f"bolt://{HOST}:{cfg.bolt_port}"
    current = status(cfg)
    if current.running and current.pid is not None:
        if current.bolt_uri != bolt_uri or current.http_url != f"http://{HOST}:{cfg.http_port}":
            raise LauncherError(
                f"Neo4j instance {home} already runs (pid {current.pid}) on {current.bolt_uri} "
                f"and {current.http_url}, not on the requested ports {cfg.bolt_port} and "
                f"{cfg.http_port}; stop it first or use its ports."
            )
        instance.wait_until_ready(
            neo4j_process(home),
            current.pid,
            bolt_session(cfg.bolt_port, home, log_offset=0),
            time.monotonic() + timeout,
            spawned=False,
        )
        _say_if_resized(cfg, current.memory, progress)
        return status(cfg)

    for port, what in ((cfg.bolt_port, "Bolt"), (cfg.http_port, "HTTP")):
        if port_taken(port):
            raise PortInUse(
                f"Port {port} on {HOST} (configured as the {what} port of Neo4j instance "
                f"{home}) is already used by another process. Free it (see "
                f"'ss -ltnp sport = :{port}') or choose another port."
            )

    prepare_home(cfg, home)
    argv = java_command(java, lib, cfg, home)
    progress(
        f"Starting Neo4j {cfg.version} in {home}: Bolt {bolt_uri}, "
        f"Browser http://{HOST}:{cfg.http_port}/browser/"
    )
    started = time.monotonic()
    log_offset = neo4j_log_size(home)  # quote this start only
    instance.launch(
        neo4j_process(home),
        argv,
        console_log(home),
        pid_file(home),
        bolt_session(cfg.bolt_port, home, log_offset),
        started + timeout,
    )
    progress(f"Neo4j is up after {time.monotonic() - started:.1f} s")
    return status(cfg)


def _say_if_resized(cfg: LocalNeo4jConfig, running: Memory, progress: Progress) -> None:
    """A running instance keeps the memory it started with: say so if other sizes are asked."""
    wanted = cfg.memory
    if (running.heap, running.pagecache) != (wanted.heap, wanted.pagecache):
        progress(
            f"Neo4j already runs with heap {running.heap} and page cache {running.pagecache}; "
            f"stop it and start it again to use heap {wanted.heap} and page cache "
            f"{wanted.pagecache}."
        )


def stop(cfg: LocalNeo4jConfig, timeout: float = 60.0) -> bool:
    """Stop the instance (SIGTERM, then SIGKILL after ``timeout``); False if it did not run."""
    home = cfg.home.resolve()
    return instance.stop(neo4j_process(home), pid_file(home), timeout)


def status(cfg: LocalNeo4jConfig) -> Neo4jStatus:
    """Whether the instance runs (its pid file names a live JVM of ours), and how to reach it.

    A stale pid file is removed. For a running instance the ports and the memory are the
    ones it was started with (its ``neo4j.conf``); otherwise those a start would use.
    """
    home = cfg.home.resolve()
    pid = instance.running_pid(neo4j_process(home), pid_file(home))
    running = pid is not None
    bolt_port, http_port = cfg.bolt_port, cfg.http_port
    memory = cfg.memory
    if running:
        bolt_port, http_port = configured_ports(home) or (bolt_port, http_port)
        memory = configured_memory(home) or memory
    known = credentials(cfg)
    return Neo4jStatus(
        running=running,
        pid=pid,
        bolt_uri=f"bolt://{HOST}:{bolt_port}",
        http_url=f"http://{HOST}:{http_port}",
        user=USER,
        password=known[1] if known else None,
        version=cfg.version,
        home=home,
        memory=memory,
    )


def credentials(cfg: LocalNeo4jConfig) -> tuple[str, str] | None:
    """``(user, password)`` of this instance, or ``None`` before its first start."""
    return instance.stored_credentials(USER, password_file(cfg.home.resolve()))
