"""A Mosquitto broker of our own: started, stopped and restarted in its own folder.

:class:`LocalBroker` owns one ``mosquitto`` child process at a time. It writes the config
(see :mod:`devkit.broker.config`) at every start, spawns Mosquitto in its own session with
its output appended to ``mosquitto.log``, and returns once an MQTT CONNECT is answered
with CONNACK "accepted". ``stop`` sends SIGTERM, so Mosquitto writes its persistence
database, and SIGKILL only if it has not exited by the timeout; it always reaps the
child, so no process is left behind. Not thread-safe: one thread starts and stops it.

A process that dies without stopping its broker leaves it running; the pid file in the
folder lets :func:`stop_leftover` find and stop it later (tests do so for dead sessions).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from kgtwin.devkit.broker.config import (
    DEFAULT_MAX_INFLIGHT_MESSAGES,
    DEFAULT_MAX_QUEUED_MESSAGES,
    HOST,
    LocalBrokerConfig,
    render_config,
)
from kgtwin.devkit.broker.install import find_mosquitto_passwd, require_mosquitto
from kgtwin.devkit.broker.probe import CONNACK_CODES, ProbeFailed, connack_code
from kgtwin.devkit.errors import (
    BrokerExited,
    LocalBrokerError,
    MosquittoMissing,
    PortInUse,
    StartTimeout,
)
from kgtwin.devkit.launcher.process import port_taken, runs_with
from kgtwin.ingest.address import BrokerAddress

logger = logging.getLogger(__name__)

_POLL = 0.05
_KILL_WAIT = 10.0
_TAIL_LINES = 20


class LocalBroker:
    """A Mosquitto 2 broker on ``127.0.0.1:port`` with its files in ``directory``.

    ``mosquitto`` is the broker executable; by default the one :func:`find_mosquitto`
    finds. Use it as a context manager (start on enter, stop on exit), or call
    :meth:`start` and :meth:`stop`. Persistence lives in the folder, so a restart, or a
    new ``LocalBroker`` on the same folder, finds the sessions and queued messages again.
    """

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        max_queued_messages: int = DEFAULT_MAX_QUEUED_MESSAGES,
        max_inflight_messages: int = DEFAULT_MAX_INFLIGHT_MESSAGES,
        acl: str | None = None,
        mosquitto: Path | None = None,
    ) -> None:
        self._config = LocalBrokerConfig(
            directory=directory.resolve(),
            port=port,
            username=username,
            password=password,
            max_queued_messages=max_queued_messages,
            max_inflight_messages=max_inflight_messages,
            acl=acl,
        )
        self._mosquitto = mosquitto
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return (
            f"LocalBroker({self.address.safe_url!r}, directory={str(self._config.directory)!r}, "
            f"pid={self.pid})"
        )

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def config(self) -> LocalBrokerConfig:
        return self._config

    @property
    def address(self) -> BrokerAddress:
        """How clients reach the broker, credentials included."""
        cfg = self._config
        return BrokerAddress(HOST, cfg.port, False, cfg.username, cfg.password)

    @property
    def url(self) -> str:
        """``mqtt://[user:password@]127.0.0.1:PORT``: contains the password if one is set."""
        return self.address.url

    @property
    def pid(self) -> int | None:
        """The pid of the running broker, or ``None`` when it does not run."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def log_file(self) -> Path:
        return self._config.log_file

    def start(self, timeout: float = 10.0) -> None:
        """Start Mosquitto and return once it answers a CONNECT, within ``timeout`` seconds.

        Raises :class:`PortInUse` if the port is taken, :class:`BrokerExited` if Mosquitto
        exits during start-up and :class:`StartTimeout` if it does not answer in time (it
        is stopped then); both quote the end of its log.
        """
        cfg = self._config
        if self.running:
            raise LocalBrokerError(f"{self!r} is already running; stop it first")
        mosquitto = self._mosquitto or require_mosquitto()
        leftover = _leftover_pid(cfg)
        if leftover is not None:
            raise LocalBrokerError(
                f"A Mosquitto started earlier for {cfg.directory} still runs (pid {leftover}); "
                "stop it with devkit.broker.stop_leftover(directory) or 'kill "
                f"{leftover}' first."
            )
        if port_taken(cfg.port):
            raise PortInUse(
                f"Port {cfg.port} on {HOST} is already used by another process, so the local "
                f"broker in {cfg.directory} cannot listen on it. Free it (see 'ss -ltnp sport "
                f"= :{cfg.port}') or choose another port."
            )
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        _write_private(cfg.conf_file, render_config(cfg))
        if cfg.acl is not None:
            _write_private(cfg.acl_file, cfg.acl)
        if cfg.username is not None and cfg.password is not None:
            _write_passwd(cfg, mosquitto, cfg.username, cfg.password)
        log_offset = cfg.log_file.stat().st_size if cfg.log_file.exists() else 0
        argv = [str(mosquitto), "-c", str(cfg.conf_file)]
        started = time.monotonic()
        process = self._process = _spawn(argv, cfg)
        try:
            _write_private(cfg.pid_file, f"{process.pid}\n")
            self._wait_until_ready(process, started + timeout, log_offset)
        except BaseException:
            self.stop()
            raise
        logger.info(
            "Mosquitto pid %d serves %s after %.2f s",
            process.pid,
            self.address.safe_url,
            time.monotonic() - started,
        )

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the broker: SIGTERM (it saves its persistence), SIGKILL after ``timeout``.

        Returns ``False`` if it had not been started. The process is reaped either way.
        """
        process = self._process
        if process is None:
            return False
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "Mosquitto pid %d still runs %.0f s after SIGTERM; killing it",
                    process.pid,
                    timeout,
                )
                process.kill()
                try:
                    process.wait(_KILL_WAIT)
                except subprocess.TimeoutExpired as exc:
                    raise LocalBrokerError(
                        f"Mosquitto (pid {process.pid}) did not exit even after SIGKILL; "
                        f"check 'ps -p {process.pid}'."
                    ) from exc
        self._process = None
        self._config.pid_file.unlink(missing_ok=True)
        logger.info("Mosquitto pid %d stopped (exit code %s)", process.pid, process.returncode)
        return True

    def restart(self, timeout: float = 10.0) -> None:
        """Stop (saving persistence) and start again on the same port and folder."""
        self.stop(timeout)
        self.start(timeout)

    def change_acl(self, acl: str) -> None:
        """Replace the access control list of a broker started with one; Mosquitto reads
        it again on SIGHUP, without dropping a connection."""
        if self._config.acl is None:
            raise LocalBrokerError(f"{self!r} was started without an access control list")
        self._config = replace(self._config, acl=acl)
        _write_private(self._config.acl_file, acl)
        if self.pid is not None:
            os.kill(self.pid, signal.SIGHUP)

    def log_tail(self, offset: int = 0) -> str:
        """The last lines of ``mosquitto.log`` written after byte ``offset``."""
        try:
            with self._config.log_file.open("rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        lines = text.rstrip().splitlines()[-_TAIL_LINES:]
        if not lines:
            return f"({self._config.log_file} is empty)"
        return f"--- last lines of {self._config.log_file} ---\n" + "\n".join(lines)

    def _wait_until_ready(
        self, process: subprocess.Popen[bytes], deadline: float, log_offset: int
    ) -> None:
        cfg = self._config
        last_problem = "nothing answered yet"
        while True:
            code = process.poll()
            if code is not None:
                raise BrokerExited(
                    f"Mosquitto (pid {process.pid}, config {cfg.conf_file}) exited with code "
                    f"{code} during start-up.\n{self.log_tail(log_offset)}"
                )
            probe_timeout = max(0.05, min(1.0, deadline - time.monotonic()))
            try:
                answer = connack_code(HOST, cfg.port, cfg.username, cfg.password, probe_timeout)
            except ProbeFailed as exc:
                last_problem = str(exc)
            else:
                if answer == 0:
                    return
                raise LocalBrokerError(
                    f"The broker on {HOST}:{cfg.port} refused the start-up check's CONNECT "
                    f"({CONNACK_CODES.get(answer, f'code {answer}')}); is it ours?\n"
                    f"{self.log_tail(log_offset)}"
                )
            if time.monotonic() >= deadline:
                raise StartTimeout(
                    f"Mosquitto (pid {process.pid}) did not answer an MQTT CONNECT on "
                    f"{HOST}:{cfg.port} in time (last problem: {last_problem}); it is being "
                    f"stopped.\n{self.log_tail(log_offset)}"
                )
            time.sleep(_POLL)


def stop_leftover(directory: Path, timeout: float = 10.0) -> bool:
    """Stop a Mosquitto left running in ``directory`` by a process that died without
    stopping it (SIGTERM, SIGKILL after ``timeout``). ``False`` if none runs there."""
    cfg = LocalBrokerConfig(directory=directory.resolve(), port=1)  # only its paths matter
    pid = _leftover_pid(cfg)
    if pid is None:
        cfg.pid_file.unlink(missing_ok=True)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, _KILL_WAIT)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _is_our_mosquitto(pid, cfg.conf_file):
            time.sleep(_POLL)
        if not _is_our_mosquitto(pid, cfg.conf_file):
            break
    else:
        raise LocalBrokerError(f"Mosquitto (pid {pid}) did not exit even after SIGKILL.")
    cfg.pid_file.unlink(missing_ok=True)
    logger.warning("stopped the Mosquitto (pid %d) left running in %s", pid, cfg.directory)
    return True


def _spawn(argv: list[str], cfg: LocalBrokerConfig) -> subprocess.Popen[bytes]:
    # Its own session: a Ctrl-C in the terminal reaches the tests, whose clean-up then stops
    # the broker with SIGTERM (saving persistence) instead of it dying half-way.
    try:
        with cfg.log_file.open("ab") as log:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cfg.directory,
                start_new_session=True,
            )
    except OSError as exc:
        raise MosquittoMissing(f"Could not run {argv[0]}: {exc}") from exc


def _write_passwd(cfg: LocalBrokerConfig, mosquitto: Path, username: str, password: str) -> None:
    tool = find_mosquitto_passwd(mosquitto)
    if tool is None:
        raise MosquittoMissing(
            "'mosquitto_passwd' (part of the mosquitto package) was not found; it is needed "
            "to write the password file of a broker with a username and password."
        )
    argv = [str(tool), "-b", "-c", str(cfg.passwd_file), username, password]
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalBrokerError(f"Could not run {tool}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace").strip()
        raise LocalBrokerError(
            f"{tool} could not write {cfg.passwd_file} (exit code {done.returncode}): {output}"
        )
    cfg.passwd_file.chmod(0o600)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _leftover_pid(cfg: LocalBrokerConfig) -> int | None:
    """The pid in the folder's pid file, if it names a live Mosquitto of this folder."""
    try:
        pid = int(cfg.pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _is_our_mosquitto(pid, cfg.conf_file) else None


def _is_our_mosquitto(pid: int, conf_file: Path) -> bool:
    """Whether ``pid`` is alive and runs Mosquitto with ``conf_file`` (pids are reused)."""
    return runs_with(pid, str(conf_file))
