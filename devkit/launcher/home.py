"""The folder of one instance, ``root/NAME``: its ``neo4j.conf``, pid file, password, logs.

``neo4j.conf`` is written afresh at every start from :class:`LocalNeo4jConfig` (so new
sizes apply at the next start); while the instance runs it is also the record of the ports
and the memory it was started with, and of where the memory sizes came from. ``run/neo4j.pid``
names the JVM of a running instance, ``password`` (mode 600) holds the password that
replaced the default one on the first start, and ``logs/`` holds Neo4j's own logs and
``console.log``, the JVM's stdout and stderr.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from kgtwin.devkit.launcher.config import HOST, LocalNeo4jConfig
from kgtwin.devkit.launcher.files import TAIL_LINES, read_from, read_text, tail_text, write_atomic
from kgtwin.devkit.launcher.instance import read_pid as read_pid_file
from kgtwin.devkit.launcher.memory import (
    ORIGINS,
    Memory,
    Origin,
    format_size,
    parse_size,
    transaction_limit,
)

_LISTEN = re.compile(r"^server\.(bolt|http)\.listen_address=.*:([0-9]+)$", re.MULTILINE)
_HEAP = "server.memory.heap.max_size"
_PAGECACHE = "server.memory.pagecache.size"
_TRANSACTIONS = "dbms.memory.transaction.total.max"
_SETTING = re.compile(r"^([a-z_.]+)=(.*)$", re.MULTILINE)
_ORIGINS = re.compile(r"^# memory sized by: heap=([a-z]+) pagecache=([a-z]+)$", re.MULTILINE)


def prepare_home(cfg: LocalNeo4jConfig, home: Path) -> None:
    """Create the folders of the instance in ``home`` and write its ``neo4j.conf``."""
    for sub in ("conf", "data", "logs", "run", "import", "plugins"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    memory = cfg.memory
    settings = {
        "server.default_listen_address": HOST,
        "server.default_advertised_address": HOST,
        "server.bolt.enabled": "true",
        "server.bolt.listen_address": f"{HOST}:{cfg.bolt_port}",
        "server.bolt.advertised_address": f"{HOST}:{cfg.bolt_port}",
        "server.http.enabled": "true",
        "server.http.listen_address": f"{HOST}:{cfg.http_port}",
        "server.http.advertised_address": f"{HOST}:{cfg.http_port}",
        "server.https.enabled": "false",
        "server.directories.data": str(home / "data"),
        "server.directories.logs": str(home / "logs"),
        "server.directories.run": str(home / "run"),
        "server.directories.import": str(home / "import"),
        "server.directories.plugins": str(home / "plugins"),
        # The JVM gets -Xms and -Xmx too (java.py); Neo4j advises equal initial and max heap.
        "server.memory.heap.initial_size": memory.heap,
        _HEAP: memory.heap,
        _PAGECACHE: memory.pagecache,
        _TRANSACTIONS: memory.transactions,
        "dbms.security.auth_enabled": "true",
        "dbms.usage_report.enabled": "false",
        # Bolt's Netty otherwise idles 5 s at shutdown after the databases have stopped.
        "internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
        # Browser: no usage reports sent to the internet (plant networks have none)
        "client.allow_telemetry": "false",
        **browser_settings(cfg.browser_content),
    }
    body = "".join(f"{key}={value}\n" for key, value in settings.items())
    write_atomic(
        home / "conf" / "neo4j.conf",
        "# Written by kgtwin (devkit/launcher/home.py) at every start; edits are overwritten.\n"
        f"# memory sized by: heap={memory.heap_origin} pagecache={memory.pagecache_origin}\n"
        + body,
    )


def browser_settings(content: str | None) -> dict[str, str]:
    """What makes Neo4j Browser load kgtwin's style and guide from ``content`` (a base URL)
    when it connects: the commands it runs then, and the host it may fetch them from."""
    if content is None:
        return {}
    base = content.rstrip("/")
    host = urlsplit(base).hostname or ""
    return {
        "browser.post_connect_cmd": f"style {base}/kgtwin.grass; guide {base}/kgtwin.html",
        "browser.remote_content_hostname_whitelist": host,  # Neo4j 5.26 knows this name
    }


def configured_ports(home: Path) -> tuple[int, int] | None:
    """``(bolt, http)`` ports in the instance's ``neo4j.conf``, or ``None`` if not there."""
    text = read_text(home / "conf" / "neo4j.conf") or ""
    ports = {kind: int(port) for kind, port in _LISTEN.findall(text)}
    if "bolt" in ports and "http" in ports:
        return ports["bolt"], ports["http"]
    return None


def configured_memory(home: Path) -> Memory | None:
    """The memory in the instance's ``neo4j.conf``, or ``None`` if it names no heap and
    page cache. A ``neo4j.conf`` of an older kgtwin records no origins, and may leave the
    transaction limit to Neo4j's default (70% of the heap, the value computed here)."""
    text = read_text(home / "conf" / "neo4j.conf") or ""
    settings = dict(_SETTING.findall(text))
    heap, pagecache = settings.get(_HEAP), settings.get(_PAGECACHE)
    if heap is None or pagecache is None:
        return None
    try:
        transactions = settings.get(_TRANSACTIONS) or format_size(
            transaction_limit(parse_size(heap))
        )
    except ValueError:  # a hand-edited heap; report it as it stands
        transactions = "?"
    origins = _ORIGINS.search(text)
    return Memory(
        heap=heap,
        pagecache=pagecache,
        transactions=transactions,
        heap_origin=_origin(origins[1]) if origins else None,
        pagecache_origin=_origin(origins[2]) if origins else None,
    )


def _origin(text: str) -> Origin | None:
    for origin in ORIGINS:
        if text == origin:
            return origin
    return None


def pid_file(home: Path) -> Path:
    return home / "run" / "neo4j.pid"


def password_file(home: Path) -> Path:
    return home / "password"


def console_log(home: Path) -> Path:
    """Where the JVM's stdout and stderr go; truncated at every start."""
    return home / "logs" / "console.log"


def read_pid(home: Path) -> int | None:
    """The pid in the pid file; an unreadable pid file is removed."""
    return read_pid_file(pid_file(home))


def neo4j_log_size(home: Path) -> int:
    """The size of ``neo4j.log`` now: a start quotes only what it adds after this offset."""
    neo4j_log = _neo4j_log(home)
    return neo4j_log.stat().st_size if neo4j_log.exists() else 0


def log_tail(home: Path, neo4j_log_offset: int) -> str:
    """The last lines of neo4j.log (from ``neo4j_log_offset`` on) and of console.log."""
    parts = []
    for path, skip in ((_neo4j_log(home), neo4j_log_offset), (console_log(home), 0)):
        tail = tail_text(read_from(path, skip), TAIL_LINES)
        if tail:
            parts.append(f"--- last lines of {path} ---\n{tail}")
    return "\n".join(parts) or f"(no output in {home / 'logs'})"


def _neo4j_log(home: Path) -> Path:
    return home / "logs" / "neo4j.log"
