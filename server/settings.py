"""Settings, built once at start-up from an optional TOML file, the environment and flags.

Later sources win: command-line flags override environment variables, which override the
config file (``--config PATH`` or ``KGTWIN_CONFIG``), which overrides the defaults. Every
option is declared once in :data:`OPTIONS` with its environment variable and its place in
the file; an unknown key in the file is an error, never silently ignored.

```toml
[neo4j]
uri = "bolt://db.example:7687"      # NEO4J_URI
user = "neo4j"                      # NEO4J_USER
password = "..."                    # NEO4J_PASSWORD (never printed)
database = "neo4j"                  # NEO4J_DATABASE

[local]                             # the development Neo4j of `kgtwin neo4j start`
home = ".kgtwin"                    # KGTWIN_HOME
bolt_port = 7687                    # KGTWIN_NEO4J_BOLT_PORT
http_port = 7474                    # KGTWIN_NEO4J_HTTP_PORT
heap = "4g"                         # KGTWIN_NEO4J_HEAP (default: sized from the machine)
pagecache = "2g"                    # KGTWIN_NEO4J_PAGECACHE (default: from the machine)
questdb_http_port = 9000            # KGTWIN_QUESTDB_HTTP_PORT: `kgtwin questdb start`'s HTTP
questdb_pg_port = 8812              # KGTWIN_QUESTDB_PG_PORT: and its PostgreSQL wire port

[questdb]                           # telemetry history (docs/history.md)
url = "http://tsdb.example:9000"    # QUESTDB_URL: HTTP (writes, DDL, web console)
pg_port = 8812                      # QUESTDB_PG_PORT: its PostgreSQL wire port (reads)
user = "admin"                      # QUESTDB_USER
password = "..."                    # QUESTDB_PASSWORD (never printed)

[history]
enabled = true                      # KGTWIN_HISTORY: false keeps no history at all
retention_days = 30                 # KGTWIN_HISTORY_RETENTION_DAYS: raw rows kept
rollup_retention_days = 365         # KGTWIN_HISTORY_ROLLUP_RETENTION_DAYS: 1-minute rollup
spool = ".kgtwin/history-spool"     # KGTWIN_HISTORY_SPOOL: rows not yet in QuestDB
spool_max_bytes = 1073741824        # KGTWIN_HISTORY_SPOOL_MAX_BYTES: the spool's bound

[server]
host = "127.0.0.1"                  # KGTWIN_HOST
port = 8000                         # KGTWIN_PORT
anonymous_read = false              # KGTWIN_ANONYMOUS_READ: read without a token
introspection = true                # KGTWIN_INTROSPECTION: false refuses __schema/__type
metrics_token = false               # KGTWIN_METRICS_TOKEN: /metrics needs a bearer token
request_timeout = 10                # KGTWIN_REQUEST_TIMEOUT: seconds a GraphQL operation may run
read_timeout = 10                   # KGTWIN_READ_TIMEOUT: seconds to send headers, then body
idle_timeout = 5                    # KGTWIN_IDLE_TIMEOUT: seconds a kept-alive connection may idle
max_connections = 1000              # KGTWIN_MAX_CONNECTIONS: open connections (503 beyond)
subscription_backlog = 10000        # KGTWIN_SUBSCRIPTION_BACKLOG: events a subscriber may lag
cors_origins = []                   # KGTWIN_CORS_ORIGINS: pages that may call /graphql

[limits]
max_query_depth = 10                # KGTWIN_MAX_QUERY_DEPTH: GraphQL selection depth
max_complexity = 100000             # KGTWIN_MAX_COMPLEXITY: estimated fields resolved
max_page_size = 100                 # KGTWIN_MAX_PAGE_SIZE: largest `first` of any list
max_traversal_depth = 10            # KGTWIN_MAX_TRAVERSAL_DEPTH: largest `maxDepth`
max_body_bytes = 131072             # KGTWIN_MAX_BODY_BYTES: an HTTP request body
max_document_bytes = 32768          # KGTWIN_MAX_DOCUMENT_BYTES: a GraphQL document
max_variables_bytes = 65536         # KGTWIN_MAX_VARIABLES_BYTES: its variables, as JSON
max_aliases = 50                    # KGTWIN_MAX_ALIASES: aliased fields in a document
max_list_length = 1000              # KGTWIN_MAX_LIST_LENGTH: items in any list argument
max_history_rows = 10000            # KGTWIN_MAX_HISTORY_ROWS: samples per point and request
max_history_points = 100            # KGTWIN_MAX_HISTORY_POINTS: points in one `history`
max_history_span_days = 366         # KGTWIN_MAX_HISTORY_SPAN_DAYS: from..to of a history read
rate_limit = 600000                 # KGTWIN_RATE_LIMIT: cost per minute per token (0: off)
simulations = 2                     # KGTWIN_SIMULATIONS: what-ifs computed at once

[mqtt]                              # the MQTT ingestion worker's broker and session
url = "mqtt://broker.example:1883"  # KGTWIN_MQTT_URL
client_id = "kgtwin-ingest-1"       # KGTWIN_MQTT_CLIENT_ID: the worker's session, its own
share_group = "kgtwin"              # KGTWIN_SHARE_GROUP: workers that share the messages

[ingest]                            # the MQTT ingestion worker's bounds
receive_maximum = 10000             # KGTWIN_INGEST_RECEIVE_MAXIMUM: unacknowledged messages
max_payload_bytes = 262144          # KGTWIN_INGEST_MAX_PAYLOAD_BYTES: larger is dead-lettered
max_queued_bytes = 67108864         # KGTWIN_INGEST_MAX_QUEUED_BYTES: held, not acknowledged
stall_after = 60                    # KGTWIN_INGEST_STALL_AFTER: seconds before "stalled"
```

Without ``NEO4J_URI`` the local Neo4j is used: ``bolt://127.0.0.1:<bolt_port>`` of the
``[local]`` section, as user ``neo4j`` with the password its launcher (``kgtwin neo4j start``,
from the devkit) keeps in ``<home>/neo4j/password`` (one line; mode 600). That file is the
whole contract between the two: the core reads it as plain data, and never imports the
devkit.

History works the same way: without ``QUESTDB_URL`` the local QuestDB of ``kgtwin questdb
start`` is used, at ``http://127.0.0.1:<questdb_http_port>``, as user ``admin`` with the
password in ``<home>/questdb/password``. With neither (or ``enabled = false``) there is no
history, and ``kgtwin serve`` and ``kgtwin ingest`` say so once.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kgtwin.ingest.address import BrokerAddress, InvalidBrokerUrl
from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.ingest.history.table import Retention
from kgtwin.ingest.history.writer import HistoryConfig
from kgtwin.ingest.worker import IngestConfig, check_share_group
from kgtwin.ontology.errors import OntologyError
from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.standards import STANDARDS, vocabulary_files

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RESERVED_MODELS = frozenset({"ontology"})
CONFIG_ENV = "KGTWIN_CONFIG"
LOCAL_NEO4J_INSTANCE = "neo4j"  # the local Neo4j's folder under KGTWIN_HOME
LOCAL_NEO4J_USER = "neo4j"
LOCAL_QUESTDB_INSTANCE = "questdb"  # the local QuestDB's folder under KGTWIN_HOME
LOCAL_QUESTDB_USER = "admin"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def reveal(self) -> str:
        return self._value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a command needs to know, passed down explicitly.

    Without ``neo4j_uri`` the local Neo4j started by ``kgtwin neo4j start`` is used.
    """

    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: Secret | None = field(default=None, repr=True)
    neo4j_database: str | None = None
    home: Path = Path(".kgtwin")
    local_bolt_port: int = 7687
    local_http_port: int = 7474
    local_heap: str | None = None  # the local Neo4j's heap ("4g"); None: sized from the machine
    local_pagecache: str | None = None  # its page cache; None: sized from the machine
    local_questdb_http_port: int = 9000
    local_questdb_pg_port: int = 8812
    questdb_url: str | None = None  # http(s)://host:port; None: the local QuestDB, if any
    questdb_pg_port: int = 8812  # on QUESTDB_URL's host: history is read over it
    questdb_user: str = LOCAL_QUESTDB_USER
    questdb_password: Secret | None = field(default=None, repr=True)
    history: bool = True  # keep telemetry history when a QuestDB is configured
    history_retention_days: int = 30
    history_rollup_retention_days: int = 365
    history_spool: Path | None = None  # None: <home>/history-spool
    history_spool_max_bytes: int = 2**30
    ontology: tuple[Path, ...] = ()  # the base ontology files (default: the bundled ones)
    vocabularies: tuple[str, ...] = ()  # standard vocabularies added, with their alignments
    host: str = "127.0.0.1"
    port: int = 8000
    anonymous_read: bool = False
    max_query_depth: int = 10
    max_complexity: int = 100_000
    max_page_size: int = 100
    max_traversal_depth: int = 10
    introspection: bool = True
    metrics_token: bool = False  # /metrics answers only with a valid bearer token
    request_timeout: int = 10  # seconds an operation may run before it is cancelled
    read_timeout: int = 10  # seconds a client has to send a request's headers, then its body
    idle_timeout: int = 5  # seconds a kept-alive connection may wait for its next request
    max_connections: int = 1000
    # events a subscription may fall behind by; past it the oldest are dropped (and counted)
    subscription_backlog: int = 10_000
    # origins (scheme://host[:port]) whose pages may call /graphql from a browser (CORS)
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 128 * 1024
    max_document_bytes: int = 32 * 1024
    max_variables_bytes: int = 64 * 1024
    max_aliases: int = 50
    max_list_length: int = 1000
    max_history_rows: int = 10_000  # samples of one point a request may ask for
    max_history_points: int = 100  # points of one `history` field
    max_history_span_days: int = 366  # days between a history read's `from` and `to`
    rate_limit: int = 600_000  # estimated cost a token may spend per minute (0: no limit)
    simulations: int = 2  # simulation threads (what-if, availability, ...) at once
    refresh_interval: int = 2  # seconds between checks for a changed graph (graph_cache)
    mqtt_url: Secret | None = None  # mqtt://[user[:password]@]host[:port] or mqtts://...
    mqtt_username: str | None = None
    mqtt_password: Secret | None = None
    mqtt_client_id: str = "kgtwin-ingest"
    share_group: str | None = None  # subscribe through MQTT shared subscriptions of this group
    ingest: bool = False  # run the ingestion worker inside `kgtwin serve`
    receive_maximum: int = 10_000  # MQTT 5 Receive Maximum of the ingestion worker
    max_payload_bytes: int = 256 * 2**10  # a larger message is dead-lettered (too_large)
    max_queued_bytes: int = 64 * 2**20  # bytes of messages held and not yet acknowledged
    stall_after: int = 60  # seconds messages may wait with none finished before "stalled"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, config: Path | None = None
    ) -> Settings:
        """Defaults, then the config file (``config``, else ``$KGTWIN_CONFIG``), then the
        environment. Flags are applied afterwards with :meth:`override`."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"ontology": tuple(default_ontology_files())}
        path = config or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
        if path is not None:
            values.update(_read_file(path))
        for option in OPTIONS:
            raw = env.get(option.env)
            if raw is not None and (raw != "" or option.empty_ok):
                values[option.field] = option.parse(raw, option.env)
        return cls(**values)

    def override(self, **flags: Any) -> Settings:
        """These settings with command-line ``flags`` applied (None means "not given")."""
        given = {name: value for name, value in flags.items() if value is not None}
        known = {f.name for f in fields(self)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        for option in OPTIONS:
            if option.field in given:
                given[option.field] = option.parse(given[option.field], f"--{option.flag}")
        return replace(self, **given)

    def with_ontology(
        self, paths: list[Path] | None, vocabularies: list[str] | None = None
    ) -> Settings:
        """These settings with ``--ontology`` files (replacing the base ontology) and
        ``--vocabulary`` names (added to the configured ones) applied."""
        changed = replace(self, ontology=tuple(paths)) if paths else self
        if vocabularies:
            added = tuple(v for v in vocabularies if v not in changed.vocabularies)
            changed = replace(changed, vocabularies=changed.vocabularies + added)
        return changed

    @property
    def ontology_files(self) -> tuple[Path, ...]:
        """The ontology's files: the base ones, then each vocabulary's file and alignment."""
        try:
            return self.ontology + tuple(vocabulary_files(self.vocabularies))
        except OntologyError as exc:
            raise SettingsError(str(exc)) from None

    @property
    def local_password_file(self) -> Path:
        """Where the local Neo4j keeps its password (written on its first start)."""
        return self.home / LOCAL_NEO4J_INSTANCE / "password"

    @property
    def base_url(self) -> str:
        """Where ``kgtwin serve`` answers (a wildcard host as 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def local_questdb_password_file(self) -> Path:
        """Where the local QuestDB keeps its password (written on its first start)."""
        return self.home / LOCAL_QUESTDB_INSTANCE / "password"

    @property
    def history_spool_folder(self) -> Path:
        """Where the ingestion worker keeps history rows QuestDB has not taken yet."""
        return self.history_spool or self.home / "history-spool"

    def questdb_connection(self) -> QuestDB | None:
        """The history store: the configured QuestDB, else the local one once it has been
        started; None when there is none, or history is off."""
        if not self.history:
            return None
        if self.questdb_url:
            password = self.questdb_password.reveal() if self.questdb_password else None
            return QuestDB(
                self.questdb_url.rstrip("/"), self.questdb_user, password, self.questdb_pg_port
            )
        password = _read_password(self.local_questdb_password_file)
        if password is None:
            return None
        return QuestDB(
            f"http://127.0.0.1:{self.local_questdb_http_port}",
            LOCAL_QUESTDB_USER,
            password,
            self.local_questdb_pg_port,
        )

    def history_config(self) -> HistoryConfig | None:
        """Where the ingestion worker keeps history (its spool named for its client id),
        or None when there is no history (:meth:`history_status` says why)."""
        db = self.questdb_connection()
        if db is None:
            return None
        try:
            retention = Retention(self.history_retention_days, self.history_rollup_retention_days)
        except ValueError as exc:
            raise SettingsError(f"history settings: {exc}") from None
        spool = self.history_spool_folder / f"{_file_name(self.mqtt_client_id)}.sqlite"
        return HistoryConfig(db, spool, self.history_spool_max_bytes, retention)

    def history_status(self) -> str:
        """One line for a person: where history goes, or why there is none."""
        db = self.questdb_connection()
        if db is not None:
            return f"history: QuestDB at {db.url}"
        if not self.history:
            return "history: off (KGTWIN_HISTORY / [history] enabled is false)"
        return (
            "history: off, no QuestDB configured (set QUESTDB_URL, or run `kgtwin questdb "
            "start` for a local one)"
        )

    def neo4j_connection(self) -> tuple[str, str, str | None]:
        """URI, user and password: the configured server, else the local one."""
        if self.neo4j_uri:
            password = self.neo4j_password.reveal() if self.neo4j_password else None
            return self.neo4j_uri, self.neo4j_user, password
        password = _read_password(self.local_password_file)
        user = LOCAL_NEO4J_USER if password is not None else self.neo4j_user
        return f"bolt://127.0.0.1:{self.local_bolt_port}", user, password

    def broker_address(self) -> BrokerAddress:
        """The MQTT broker to ingest from: ``mqtt_url``, with ``mqtt_username`` and
        ``mqtt_password`` when given separately."""
        if self.mqtt_url is None:
            raise SettingsError(
                "no MQTT broker: give --broker mqtt://HOST:PORT (or set KGTWIN_MQTT_URL, or "
                "url in the [mqtt] section of the config file)"
            )
        try:
            address = BrokerAddress.parse(self.mqtt_url.reveal())
        except InvalidBrokerUrl as exc:
            raise SettingsError(str(exc)) from exc
        if self.mqtt_username is not None:
            address = replace(address, username=self.mqtt_username)
        if self.mqtt_password is not None:
            address = replace(address, password=self.mqtt_password.reveal())
        return address

    def ingest_config(self) -> IngestConfig:
        """The ingestion worker's configuration: broker, client id, database and bounds."""
        try:
            return IngestConfig(
                self.broker_address(),
                client_id=self.mqtt_client_id,
                share_group=self.share_group,
                database=self.neo4j_database,
                receive_maximum=self.receive_maximum,
                max_payload_bytes=self.max_payload_bytes,
                max_queued_bytes=self.max_queued_bytes,
                stall_after=float(self.stall_after),
            )
        except ValueError as exc:
            raise SettingsError(f"ingestion settings: {exc}") from None


def _read_password(path: Path) -> str | None:
    """The password in ``path``, or ``None`` if the file is missing or blank."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    return text.strip() or None


def _file_name(text: str) -> str:
    """``text`` as a file name: itself when it is plain, else its plain characters and a
    digest of the whole (so two client ids never share a name)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:80]
    if plain == text and not text.startswith("."):
        return text
    return f"{plain.lstrip('.')}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def check_model_name(name: str) -> str:
    if not MODEL_NAME.match(name) or name in RESERVED_MODELS:
        raise SettingsError(
            f"model name {name!r} is not usable: use 1-64 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, and not {', '.join(sorted(RESERVED_MODELS))}"
        )
    return name


# --- parsing: each takes a value from the environment (str), a file or a flag -------------

Parser = Callable[[object, str], Any]


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"{name}={value!r} must be text")
    return value


def _optional_text(value: object, name: str) -> str | None:
    return _text(value, name) or None


def _share_group(value: object, name: str) -> str | None:
    """A share group's name (MQTT shared subscriptions), or None for an empty value."""
    text = _optional_text(value, name)
    if text is not None:
        try:
            check_share_group(text)
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None
    return text


def _secret(value: object, name: str) -> Secret:
    return Secret(_text(value, name))


_HTTP_URL = re.compile(r"^https?://[^\s/?#@]+(:[0-9]{1,5})?/?$")


def _http_url(value: object, name: str) -> str | None:
    """An http(s)://host[:port] URL, or None for an empty value."""
    text = _text(value, name).strip()
    if not text:
        return None
    if not _HTTP_URL.match(text):
        raise SettingsError(
            f"{name}={value!r} is not an HTTP address: give http(s)://host[:port], like "
            "http://127.0.0.1:9000 (no path; credentials go in the user and password settings)"
        )
    return text


_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)


def _origins(value: object, name: str) -> tuple[str, ...]:
    """Origins from a list (config file) or a comma-separated text (environment, flag)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise SettingsError(f"{name}={value!r} must be origins, like https://dash.example")
    origins = tuple(i.strip().rstrip("/") for i in items if i.strip())
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise SettingsError(
                f"{name}: {origin!r} is not an origin: give scheme://host[:port] "
                "(https://dash.example, http://127.0.0.1:3000); '*' is not allowed: name them"
            )
    return origins


def _path(value: object, name: str) -> Path:
    return Path(_text(value, name))


def _paths(value: object, name: str) -> tuple[Path, ...]:
    """A list of files: a TOML array, or text separated by the OS path separator."""
    items = value if isinstance(value, list) else _text(value, name).split(os.pathsep)
    paths = tuple(Path(_text(item, name)) for item in items if item != "")
    if not paths:
        raise SettingsError(f"{name}: give at least one ontology file")
    return paths


def _vocabularies(value: object, name: str) -> tuple[str, ...]:
    """Names of standard vocabularies: a TOML array, or comma-separated text."""
    items = value if isinstance(value, list) else _text(value, name).split(",")
    names = tuple(_text(item, name).strip() for item in items if str(item).strip())
    unknown = [n for n in names if n not in STANDARDS]
    if unknown:
        raise SettingsError(
            f"{name}: unknown vocabulary {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(STANDARDS))}"
        )
    return names


def _bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={value!r} is not a boolean: use true or false")


def _integer(low: int, high: int, what: str) -> Parser:
    def parse(value: object, name: str) -> int:
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                number = None
        if number is None:
            raise SettingsError(f"{name}={value!r} is not {what}")
        if not low <= number <= high:
            raise SettingsError(f"{name}={value!r} is not {what} ({low}-{high})")
        return number

    return parse


_port = _integer(1, 65535, "a port number")

_MEMORY = re.compile(r"([1-9][0-9]{0,15})([kmg]?)")
_MEMORY_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def _memory(low: str, high: str, why: str) -> Parser:
    """A memory size as neo4j.conf writes it (``512m``, ``4g``), from ``low`` to ``high``."""

    def size(text: str) -> int:
        match = _MEMORY.fullmatch(text)
        return int(match[1]) * _MEMORY_UNITS[match[2]] if match else -1

    def parse(value: object, name: str) -> str:
        text = value.strip().lower() if isinstance(value, str) else ""
        bytes_ = size(text)
        if bytes_ < 0:
            raise SettingsError(
                f"{name}={value!r} is not a memory size: write a whole number and a unit, "
                "like 512m or 4g (m: MiB, g: GiB)"
            )
        if not size(low) <= bytes_ <= size(high):
            bare = " (a number without k, m or g counts bytes)" if text.isdigit() else ""
            raise SettingsError(f"{name}={value!r} is not from {low} to {high}{bare}; {why}")
        return text

    return parse


_seconds = _integer(1, 3600, "a number of seconds")


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: the :class:`Settings` field, its environment variable, its file key."""

    field: str
    env: str
    section: str
    key: str
    parse: Parser
    empty_ok: bool = False  # does an empty environment variable count as a value?

    @property
    def flag(self) -> str:
        return self.key.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("neo4j_uri", "NEO4J_URI", "neo4j", "uri", _optional_text),
    Option("neo4j_user", "NEO4J_USER", "neo4j", "user", _text),
    Option("neo4j_password", "NEO4J_PASSWORD", "neo4j", "password", _secret, empty_ok=True),
    Option("neo4j_database", "NEO4J_DATABASE", "neo4j", "database", _optional_text),
    Option("home", "KGTWIN_HOME", "local", "home", _path),
    Option("local_bolt_port", "KGTWIN_NEO4J_BOLT_PORT", "local", "bolt_port", _port),
    Option("local_http_port", "KGTWIN_NEO4J_HTTP_PORT", "local", "http_port", _port),
    Option(
        "local_heap",
        "KGTWIN_NEO4J_HEAP",
        "local",
        "heap",
        _memory(
            "512m",
            "31g",
            "512m is the smallest heap kgtwin's tests run Neo4j with, and Neo4j advises at "
            "most 31g (a larger heap loses the JVM's compressed pointers)",
        ),
    ),
    Option(
        "local_pagecache",
        "KGTWIN_NEO4J_PAGECACHE",
        "local",
        "pagecache",
        _memory(
            "64m",
            "1024g",
            "64m is the smallest page cache kgtwin's tests run Neo4j with, and one larger "
            "than the store (about 2 GB for a million assets) buys nothing",
        ),
    ),
    Option(
        "local_questdb_http_port", "KGTWIN_QUESTDB_HTTP_PORT", "local", "questdb_http_port", _port
    ),
    Option("local_questdb_pg_port", "KGTWIN_QUESTDB_PG_PORT", "local", "questdb_pg_port", _port),
    Option("questdb_url", "QUESTDB_URL", "questdb", "url", _http_url),
    Option("questdb_pg_port", "QUESTDB_PG_PORT", "questdb", "pg_port", _port),
    Option("questdb_user", "QUESTDB_USER", "questdb", "user", _text),
    Option("questdb_password", "QUESTDB_PASSWORD", "questdb", "password", _secret, empty_ok=True),
    Option("history", "KGTWIN_HISTORY", "history", "enabled", _bool),
    Option(
        "history_retention_days",
        "KGTWIN_HISTORY_RETENTION_DAYS",
        "history",
        "retention_days",
        _integer(1, 36_500, "a number of days"),
    ),
    Option(
        "history_rollup_retention_days",
        "KGTWIN_HISTORY_ROLLUP_RETENTION_DAYS",
        "history",
        "rollup_retention_days",
        _integer(1, 36_500, "a number of days"),
    ),
    Option("history_spool", "KGTWIN_HISTORY_SPOOL", "history", "spool", _path),
    Option(
        "history_spool_max_bytes",
        "KGTWIN_HISTORY_SPOOL_MAX_BYTES",
        "history",
        "spool_max_bytes",
        _integer(2**20, 2**50, "a number of bytes"),
    ),
    Option("ontology", "KGTWIN_ONTOLOGY", "ontology", "files", _paths),
    Option("vocabularies", "KGTWIN_VOCABULARIES", "ontology", "vocabularies", _vocabularies),
    Option("host", "KGTWIN_HOST", "server", "host", _text),
    Option("port", "KGTWIN_PORT", "server", "port", _port),
    Option("anonymous_read", "KGTWIN_ANONYMOUS_READ", "server", "anonymous_read", _bool),
    Option(
        "refresh_interval",
        "KGTWIN_REFRESH_INTERVAL",
        "server",
        "refresh_interval",
        _integer(1, 3600, "a number of seconds"),
    ),
    Option("mqtt_url", "KGTWIN_MQTT_URL", "mqtt", "url", _secret),
    Option("mqtt_username", "KGTWIN_MQTT_USERNAME", "mqtt", "username", _optional_text),
    Option("mqtt_password", "KGTWIN_MQTT_PASSWORD", "mqtt", "password", _secret, empty_ok=True),
    Option("mqtt_client_id", "KGTWIN_MQTT_CLIENT_ID", "mqtt", "client_id", _text),
    Option("share_group", "KGTWIN_SHARE_GROUP", "mqtt", "share_group", _share_group),
    Option("ingest", "KGTWIN_INGEST", "server", "ingest", _bool),
    Option(
        "receive_maximum",
        "KGTWIN_INGEST_RECEIVE_MAXIMUM",
        "ingest",
        "receive_maximum",
        _integer(1, 65_535, "a number of messages"),
    ),
    Option(
        "max_payload_bytes",
        "KGTWIN_INGEST_MAX_PAYLOAD_BYTES",
        "ingest",
        "max_payload_bytes",
        _integer(1, 256 * 2**20, "a number of bytes"),
    ),
    Option(
        "max_queued_bytes",
        "KGTWIN_INGEST_MAX_QUEUED_BYTES",
        "ingest",
        "max_queued_bytes",
        _integer(2**20, 2**40, "a number of bytes"),
    ),
    Option(
        "stall_after",
        "KGTWIN_INGEST_STALL_AFTER",
        "ingest",
        "stall_after",
        _integer(1, 86_400, "a number of seconds"),
    ),
    Option(
        "max_query_depth",
        "KGTWIN_MAX_QUERY_DEPTH",
        "limits",
        "max_query_depth",
        _integer(1, 100, "a query depth"),
    ),
    Option(
        "max_complexity",
        "KGTWIN_MAX_COMPLEXITY",
        "limits",
        "max_complexity",
        _integer(1, 100_000_000, "a complexity"),
    ),
    Option(
        "max_page_size",
        "KGTWIN_MAX_PAGE_SIZE",
        "limits",
        "max_page_size",
        _integer(1, 10_000, "a page size"),
    ),
    Option(
        "max_traversal_depth",
        "KGTWIN_MAX_TRAVERSAL_DEPTH",
        "limits",
        "max_traversal_depth",
        _integer(1, 50, "a traversal depth"),
    ),
    Option("introspection", "KGTWIN_INTROSPECTION", "server", "introspection", _bool),
    Option(
        "cors_origins", "KGTWIN_CORS_ORIGINS", "server", "cors_origins", _origins, empty_ok=True
    ),
    Option("metrics_token", "KGTWIN_METRICS_TOKEN", "server", "metrics_token", _bool),
    Option("request_timeout", "KGTWIN_REQUEST_TIMEOUT", "server", "request_timeout", _seconds),
    Option("read_timeout", "KGTWIN_READ_TIMEOUT", "server", "read_timeout", _seconds),
    Option("idle_timeout", "KGTWIN_IDLE_TIMEOUT", "server", "idle_timeout", _seconds),
    Option(
        "max_connections",
        "KGTWIN_MAX_CONNECTIONS",
        "server",
        "max_connections",
        _integer(1, 1_000_000, "a number of connections"),
    ),
    Option(
        "subscription_backlog",
        "KGTWIN_SUBSCRIPTION_BACKLOG",
        "server",
        "subscription_backlog",
        _integer(1, 1_000_000, "a number of events"),
    ),
    Option(
        "max_body_bytes",
        "KGTWIN_MAX_BODY_BYTES",
        "limits",
        "max_body_bytes",
        _integer(1024, 64 * 1024 * 1024, "a size in bytes"),
    ),
    Option(
        "max_document_bytes",
        "KGTWIN_MAX_DOCUMENT_BYTES",
        "limits",
        "max_document_bytes",
        _integer(256, 16 * 1024 * 1024, "a size in bytes"),
    ),
    Option(
        "max_variables_bytes",
        "KGTWIN_MAX_VARIABLES_BYTES",
        "limits",
        "max_variables_bytes",
        _integer(256, 64 * 1024 * 1024, "a size in bytes"),
    ),
    Option(
        "max_aliases",
        "KGTWIN_MAX_ALIASES",
        "limits",
        "max_aliases",
        _integer(0, 10_000, "a number of aliases"),
    ),
    Option(
        "max_list_length",
        "KGTWIN_MAX_LIST_LENGTH",
        "limits",
        "max_list_length",
        _integer(1, 1_000_000, "a list length"),
    ),
    Option(
        "max_history_rows",
        "KGTWIN_MAX_HISTORY_ROWS",
        "limits",
        "max_history_rows",
        _integer(1, 1_000_000, "a number of samples"),
    ),
    Option(
        "max_history_points",
        "KGTWIN_MAX_HISTORY_POINTS",
        "limits",
        "max_history_points",
        _integer(1, 10_000, "a number of points"),
    ),
    Option(
        "max_history_span_days",
        "KGTWIN_MAX_HISTORY_SPAN_DAYS",
        "limits",
        "max_history_span_days",
        _integer(1, 36_500, "a number of days"),
    ),
    Option(
        "rate_limit",
        "KGTWIN_RATE_LIMIT",
        "limits",
        "rate_limit",
        _integer(0, 10**12, "a cost per minute"),
    ),
    Option(
        "simulations",
        "KGTWIN_SIMULATIONS",
        "limits",
        "simulations",
        _integer(1, 256, "a number of threads"),
    ),
)


def _read_file(path: Path) -> dict[str, Any]:
    """The settings a TOML config file sets; unknown sections and keys are errors."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"config file {path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: not valid TOML: {exc}") from None
    by_key = {(o.section, o.key): o for o in OPTIONS}
    sections = sorted({o.section for o in OPTIONS})
    values: dict[str, Any] = {}
    for section, table in data.items():
        if section not in sections or not isinstance(table, dict):
            raise SettingsError(
                f"config file {path}: unknown section [{section}]; "
                f"valid sections: {', '.join(f'[{s}]' for s in sections)}"
            )
        for key, value in table.items():
            option = by_key.get((section, key))
            if option is None:
                valid = sorted(k for s, k in by_key if s == section)
                raise SettingsError(
                    f"config file {path}: unknown key {key!r} in [{section}]; "
                    f"valid keys: {', '.join(valid)}"
                )
            values[option.field] = option.parse(value, f"config file {path}: [{section}] {key}")
    return values
