"""The folder of one instance, ``root/NAME``: QuestDB's root (``conf/``, ``db/``,
``public/``), its logs, pid file and password.

``conf/server.conf`` and ``conf/log.conf`` are written afresh at every start; while the
instance runs, ``server.conf`` is also the record of the ports it was started with. It holds
the password, so it is mode 600 like ``password``, which the first start fills with a random
one (the file the core reads: ``Settings.local_questdb_password_file``). ``run/questdb.pid``
names the JVM of a running instance. QuestDB's own log rolls daily in ``logs/`` (at most
256 MB, a week); ``logs/console.log`` holds the JVM's stdout and stderr (QuestDB's errors
and start-up summary), truncated at every start.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from kgtwin.devkit.errors import LauncherError
from kgtwin.devkit.launcher.config import HOST
from kgtwin.devkit.launcher.files import read_text, tail_text, write_atomic
from kgtwin.devkit.questdb.config import USER, LocalQuestDBConfig

_LISTEN = re.compile(r"^(http\.bind\.to|pg\.net\.bind\.to)=.*:([0-9]+)$", re.MULTILINE)
# Written into server.conf, a Java properties file: no backslash (an escape there), no
# spaces (trimmed), nothing unprintable.
_PASSWORD = re.compile(r"[!-\[\]-~]+")


def prepare_home(cfg: LocalQuestDBConfig, home: Path, password: str) -> None:
    """Create the folders of the instance in ``home`` and write its ``server.conf`` and
    ``log.conf``."""
    for sub in ("conf", "logs", "run"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={value}\n" for key, value in server_settings(cfg, password).items())
    write_atomic(
        home / "conf" / "server.conf",
        "# Written by kgtwin (devkit/questdb/home.py) at every start; edits are overwritten.\n"
        + body,
        mode=0o600,
    )
    logs = home / "logs"
    write_atomic(home / "conf" / "log.conf", _LOG_CONF.format(logs=logs))


def server_settings(cfg: LocalQuestDBConfig, password: str) -> dict[str, str]:
    """The ``server.conf`` of an instance: every listener on the loopback address, one user
    for HTTP and PostgreSQL, nothing that would contact the internet."""
    return {
        # HTTP: web console, REST (/exec), InfluxDB line protocol writes (/write)
        "http.bind.to": f"{HOST}:{cfg.http_port}",
        "http.user": USER,
        "http.password": password,
        "pg.net.bind.to": f"{HOST}:{cfg.pg_port}",
        "pg.user": USER,
        "pg.password": password,
        # kgtwin writes over HTTP, so no line protocol port of its own (9009) and no UDP
        "line.tcp.enabled": "false",
        "line.udp.enabled": "false",
        # a start checks readiness over HTTP: no health server on a third port (9003)
        "http.min.enabled": "false",
        # no usage reports from the server or the web console (plant networks have no
        # internet); the console's product analytics are off too (its default)
        "telemetry.enabled": "false",
        "posthog.enabled": "false",
        # 9.2.2 crashes (SIGSEGV) on a filtered ORDER BY ... LIMIT when the filter holds a
        # bound parameter or a symbol the table does not have (questdb/questdb#6526, fixed
        # after 9.2.2): an analyst's query in the console would take history down. This
        # turns that plan off, as the fix's notes advise until an upgrade.
        "cairo.sql.parallel.topk.enabled": "false",
    }


# QuestDB logs every HTTP connection and write at INFO (about 1.5 kB a write): to a daily
# file that rolls at 64 MB, in a folder kept under 256 MB and a week; errors and the
# start-up summary also to stdout (console.log), which start-up errors quote.
_LOG_CONF = """\
# Written by kgtwin (devkit/questdb/home.py) at every start; edits are overwritten.
writers=file,stdout
w.file.class=io.questdb.log.LogRollingFileWriter
w.file.location={logs}/questdb.log.${{date:yyyyMMdd}}
w.file.level=INFO,ERROR,CRITICAL,ADVISORY
w.file.rollEvery=day
w.file.rollSize=64m
w.file.sizeLimit=256m
w.file.lifeDuration=7d
w.file.bufferSize=1m
w.file.spinBeforeFlush=100
w.stdout.class=io.questdb.log.LogConsoleWriter
w.stdout.level=ERROR,CRITICAL,ADVISORY
"""


def ensure_password(home: Path) -> str:
    """The instance's password: the one in its password file, else a new random one
    written there (mode 600) for this and every later start."""
    stored_in = password_file(home)
    stored = (read_text(stored_in) or "").strip()
    if not stored:
        stored = secrets.token_urlsafe(24)
        write_atomic(stored_in, stored + "\n", mode=0o600)
    elif not _PASSWORD.fullmatch(stored):
        raise LauncherError(
            f"The password in {stored_in} holds a character QuestDB's server.conf cannot "
            "(a space, a backslash, or one outside printable ASCII). Put another one there, "
            "or delete the file for a new random one."
        )
    return stored


def configured_ports(home: Path) -> tuple[int, int] | None:
    """``(http, pg)`` ports in the instance's ``server.conf``, or ``None`` if not there."""
    text = read_text(home / "conf" / "server.conf") or ""
    ports = {key: int(port) for key, port in _LISTEN.findall(text)}
    if "http.bind.to" in ports and "pg.net.bind.to" in ports:
        return ports["http.bind.to"], ports["pg.net.bind.to"]
    return None


def pid_file(home: Path) -> Path:
    return home / "run" / "questdb.pid"


def password_file(home: Path) -> Path:
    return home / "password"


def console_log(home: Path) -> Path:
    """Where the JVM's stdout and stderr go; truncated at every start."""
    return home / "logs" / "console.log"


def log_tail(home: Path) -> str:
    """The last lines of ``console.log``: QuestDB's errors, and the JVM's own."""
    tail = tail_text(read_text(console_log(home)) or "")
    if not tail:
        return f"(no output in {console_log(home)})"
    return f"--- last lines of {console_log(home)} ---\n{tail}"
