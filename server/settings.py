"""Settings, built once at start-up from the environment and command-line flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from graph.launcher import LocalNeo4jConfig, credentials
from ontology.files import default_ontology_files

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RESERVED_MODELS = frozenset({"ontology"})


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

    Environment: ``NEO4J_URI``, ``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``,
    ``KGTWIN_HOME`` (project-local state: the local Neo4j, default ``.kgtwin``),
    ``KGTWIN_NEO4J_BOLT_PORT`` / ``KGTWIN_NEO4J_HTTP_PORT`` (local Neo4j ports).
    Without ``NEO4J_URI`` the local Neo4j started by ``kgtwin neo4j start`` is used.
    """

    neo4j_uri: str | None
    neo4j_user: str
    neo4j_password: Secret | None = field(repr=True)
    neo4j_database: str | None
    home: Path
    local_bolt_port: int
    local_http_port: int
    ontology: tuple[Path, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        password = env.get("NEO4J_PASSWORD")
        return cls(
            neo4j_uri=env.get("NEO4J_URI") or None,
            neo4j_user=env.get("NEO4J_USER", "neo4j"),
            neo4j_password=Secret(password) if password is not None else None,
            neo4j_database=env.get("NEO4J_DATABASE") or None,
            home=Path(env.get("KGTWIN_HOME", ".kgtwin")),
            local_bolt_port=_port(env, "KGTWIN_NEO4J_BOLT_PORT", 7687),
            local_http_port=_port(env, "KGTWIN_NEO4J_HTTP_PORT", 7474),
            ontology=tuple(default_ontology_files()),
        )

    def with_ontology(self, paths: list[Path] | None) -> Settings:
        return replace(self, ontology=tuple(paths)) if paths else self

    @property
    def local_neo4j(self) -> LocalNeo4jConfig:
        return LocalNeo4jConfig(
            root=self.home, bolt_port=self.local_bolt_port, http_port=self.local_http_port
        )

    def neo4j_connection(self) -> tuple[str, str, str | None]:
        """URI, user and password: the configured server, else the local one."""
        if self.neo4j_uri:
            password = self.neo4j_password.reveal() if self.neo4j_password else None
            return self.neo4j_uri, self.neo4j_user, password
        local = self.local_neo4j
        known = credentials(local)
        user, password = known if known else (self.neo4j_user, None)
        return f"bolt://127.0.0.1:{local.bolt_port}", user, password


def check_model_name(name: str) -> str:
    if not MODEL_NAME.match(name) or name in RESERVED_MODELS:
        raise SettingsError(
            f"model name {name!r} is not usable: use 1-64 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, and not {', '.join(sorted(RESERVED_MODELS))}"
        )
    return name


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SettingsError(f"{name}={raw!r} is not a port number (1-65535)")
    return port
