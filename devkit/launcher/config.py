"""What a local Neo4j instance is: where it lives, how it listens, and what it reports.

:class:`LocalNeo4jConfig` is validated on construction, so every other module of the
launcher may trust its name, ports, memory sizes and version. :class:`Neo4jStatus` is what
``start`` and ``status`` return. The few constants shared by the whole launcher (the
loopback host, the user, the Neo4j version) are defined here once. So are the checks every
local server's config makes (instance names, ports, versions) and the type of the progress
lines a start prints: the local QuestDB (``devkit.questdb``) uses them too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kgtwin.devkit.launcher.memory import (
    ORIGINS,
    Memory,
    Origin,
    format_size,
    parse_size,
    transaction_limit,
)

NEO4J_VERSION = "5.26.30"

HOST = "127.0.0.1"  # Bolt and HTTP listen on this address only
USER = "neo4j"

# Receives lines for a person to read: what is being fetched or started, and when it is done.
Progress = Callable[[str], None]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.-]*")
_CONTENT = re.compile(r"https?://[^\s;/]+(/[^\s;]*)?")


@dataclass(frozen=True, slots=True)
class LocalNeo4jConfig:
    """Where a local Neo4j instance lives and how it listens.

    ``java`` is the java executable; when ``None`` it is ``$JAVA_HOME/bin/java`` if
    ``JAVA_HOME`` is set, else ``java`` on ``PATH``. ``browser_content``, the base URL of
    kgtwin's Neo4j Browser guide and style (``http://127.0.0.1:8000/browser``), makes
    Browser load both when it connects. ``heap_origin`` and ``pagecache_origin`` say where
    the sizes came from (a setting, or sized from the machine): ``status`` reports them.
    """

    root: Path
    name: str = "neo4j"
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = "1g"
    pagecache: str = "512m"
    heap_origin: Origin = "setting"
    pagecache_origin: Origin = "setting"
    version: str = NEO4J_VERSION
    java: Path | None = None
    browser_content: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        check_ports(bolt_port=self.bolt_port, http_port=self.http_port)
        for label, size in (("heap", self.heap), ("pagecache", self.pagecache)):
            try:
                parse_size(size)
            except ValueError:
                raise ValueError(f"{label} must look like '512m' or '1g', got {size!r}") from None
        for label, origin in (
            ("heap_origin", self.heap_origin),
            ("pagecache_origin", self.pagecache_origin),
        ):
            if origin not in ORIGINS:
                raise ValueError(f"{label} must be one of {ORIGINS}, got {origin!r}")
        check_version(self.version, NEO4J_VERSION)
        if self.browser_content is not None and not _CONTENT.fullmatch(self.browser_content):
            raise ValueError(
                f"browser_content must be an http(s) URL without spaces or ';', got "
                f"{self.browser_content!r}"
            )

    @property
    def memory(self) -> Memory:
        """What a start gives the instance: heap, page cache and transaction memory."""
        return Memory(
            heap=self.heap,
            pagecache=self.pagecache,
            transactions=format_size(transaction_limit(parse_size(self.heap))),
            heap_origin=self.heap_origin,
            pagecache_origin=self.pagecache_origin,
        )

    @property
    def lib_dir(self) -> Path:
        """The jars of this Neo4j version, shared by every instance under ``root``."""
        return self.root / "lib" / f"neo4j-{self.version}"

    @property
    def home(self) -> Path:
        """This instance's folder: conf, data, logs, pid file and password."""
        return self.root / self.name


def check_name(name: str) -> None:
    """Refuse an instance name that is not a plain folder name beside ``lib``."""
    if not _NAME.fullmatch(name) or name == "lib":
        raise ValueError(
            f"instance name {name!r} must be a plain folder name (letters, digits, "
            "'.', '_', '-') other than 'lib'"
        )


def check_ports(**ports: int) -> None:
    """Refuse a port out of range, or two of ``ports`` (by field name) that are the same."""
    for label, port in ports.items():
        if not 1 <= port <= 65535:
            raise ValueError(f"{label} must be between 1 and 65535, got {port}")
    seen: dict[int, str] = {}
    for label, port in ports.items():
        if port in seen:
            raise ValueError(f"{seen[port]} and {label} must differ, both are {port}")
        seen[port] = label


def check_version(version: str, example: str) -> None:
    """Refuse a version that does not look like ``example``, a release number."""
    if not _VERSION.fullmatch(version):
        raise ValueError(f"version must look like '{example}', got {version!r}")


@dataclass(frozen=True, slots=True)
class Neo4jStatus:
    """What a caller needs to connect to a local instance, and whether it runs."""

    running: bool
    pid: int | None
    bolt_uri: str
    http_url: str
    user: str
    password: str | None = field(repr=False)
    version: str
    home: Path
    memory: Memory  # of the running instance (its neo4j.conf), else what a start would use
