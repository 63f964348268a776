"""What a local QuestDB instance is: where it lives, how it listens, and what it reports.

:class:`LocalQuestDBConfig` is validated on construction (with the checks every local
server's config makes, :mod:`devkit.launcher.config`), so the other modules may trust its
name, ports and version. :class:`QuestDBStatus` is what ``start`` and ``status`` return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kgtwin.devkit.launcher.config import check_name, check_ports, check_version
from kgtwin.server.settings import LOCAL_QUESTDB_INSTANCE, LOCAL_QUESTDB_USER

QUESTDB_VERSION = "9.2.2"

USER = LOCAL_QUESTDB_USER  # the one user, of HTTP (console, REST, /write) and PostgreSQL


@dataclass(frozen=True, slots=True)
class LocalQuestDBConfig:
    """Where a local QuestDB instance lives and how it listens.

    ``java`` is the java executable; when ``None`` it is ``$JAVA_HOME/bin/java`` if
    ``JAVA_HOME`` is set, else ``java`` on ``PATH``.
    """

    root: Path
    name: str = LOCAL_QUESTDB_INSTANCE
    http_port: int = 9000
    pg_port: int = 8812
    version: str = QUESTDB_VERSION
    java: Path | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        check_ports(http_port=self.http_port, pg_port=self.pg_port)
        check_version(self.version, QUESTDB_VERSION)

    @property
    def lib_dir(self) -> Path:
        """The jar of this QuestDB version, shared by every instance under ``root``."""
        return self.root / "lib" / f"questdb-{self.version}"

    @property
    def home(self) -> Path:
        """This instance's folder: its QuestDB root (conf, db, public), logs, pid file and
        password."""
        return self.root / self.name


@dataclass(frozen=True, slots=True)
class QuestDBStatus:
    """What a caller needs to reach a local instance, and whether it runs. ``http_url``
    serves the web console (``console_url``, the same), the REST API (``/exec``) and
    InfluxDB line protocol writes (``/write``); ``pg_address`` is ``host:port`` of the
    PostgreSQL wire protocol. One user and password for both."""

    running: bool
    pid: int | None
    http_url: str
    console_url: str
    pg_address: str
    user: str
    password: str | None = field(repr=False)
    version: str
    home: Path
