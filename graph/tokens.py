"""API tokens in Neo4j: ``(:ApiToken {name, role, hash, createdAt, revokedAt})``.

A token is ``kgt_`` followed by 32 random bytes (URL-safe base64). It is shown once, when it
is created; the graph keeps only its SHA-256. A 256-bit random secret needs no salt or slow
hash: salts and key stretching defend guessable passwords against precomputed tables and
brute force, and nobody can enumerate 2**256 candidates. A plain hash also lets a lookup go
straight through the unique index on ``hash``, with no per-token comparison in Python that
could leak timing (the only comparison is the index's, on a hash the caller cannot steer).

Tokens are revoked, never deleted, so ``list_tokens`` keeps the history. Roles are stored
as their names (``viewer``, ``operator``, ``admin``); what they allow is the server's
business (``server.auth.Role``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, LiteralString

from neo4j import Driver

from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.errors import GraphError
from kgtwin.graph.reader import Reader

TOKEN_PREFIX = "kgt_"
TOKEN_BYTES = 32
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# What secrets.token_urlsafe(TOKEN_BYTES) produces: 43 characters of URL-safe base64.
_TOKEN_SHAPE = re.compile(r"^kgt_[A-Za-z0-9_-]{43}$")


class TokenError(GraphError):
    """A token operation cannot be done as asked (base of the token errors)."""


class TokenNameTaken(TokenError):
    """A token with that name exists already (revoked ones keep their name)."""


class TokenNotFound(TokenError):
    """No token has that name."""


class InvalidTokenRequest(TokenError):
    """The name or role of a new token is not usable."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created: the only time its secret is known."""

    name: str
    role: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What ``list_tokens`` tells about a token: never its secret or its hash."""

    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


TOKEN_SCHEMA: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT api_token_name IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.name IS UNIQUE",
    "CREATE CONSTRAINT api_token_hash IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.hash IS UNIQUE",
)


def ensure_token_schema(driver: Driver, database: str | None = None) -> None:
    """Create the token constraints (unique name, unique indexed hash); no-op when present."""
    with neo4j_errors("creating the API token constraints"):
        for statement in TOKEN_SCHEMA:
            driver.execute_query(statement, database_=database)


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_token_name(name: str) -> str:
    if not TOKEN_NAME.match(name):
        raise InvalidTokenRequest(
            f"token name {name!r} is not usable: use 1-64 letters, digits, '.', '_', '@' or "
            "'-', starting with a letter or digit"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidTokenRequest(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


# MERGE on the unique name is atomic: of two concurrent creates with one name, one creates
# the node and the other finds it. The new hash is random, so "hash = $hash" means "mine".
CREATE: LiteralString = """
MERGE (t:ApiToken {name: $name})
ON CREATE SET t.role = $role, t.hash = $hash, t.createdAt = datetime()
RETURN t.hash = $hash AS created
"""


def create_token(
    driver: Driver, role: str, name: str | None = None, *, database: str | None = None
) -> IssuedToken:
    """Create a token with ``role``, named ``name`` (default ``token-<8 hex>``).

    Raises ``TokenNameTaken`` when the name is in use (by a revoked token too) and
    ``InvalidTokenRequest`` for an unusable name or role.
    """
    check_role(role)
    name = check_token_name(name) if name is not None else f"token-{secrets.token_hex(4)}"
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    ensure_token_schema(driver, database)
    with neo4j_errors(f"creating API token {name!r}"):
        records, _, _ = driver.execute_query(
            CREATE, name=name, role=role, hash=hash_token(token), database_=database
        )
    if not records[0]["created"]:
        raise TokenNameTaken(
            f"a token named {name!r} exists already (names stay taken after revocation); "
            "choose another --name, or leave it out for a generated one"
        )
    return IssuedToken(name, role, token)


# `NOT t:Twin` here and below: only tokens kgtwin made (graph.labels)
LIST: LiteralString = """
MATCH (t:ApiToken) WHERE NOT t:Twin
RETURN t.name AS name, t.role AS role, t.createdAt AS createdAt, t.revokedAt AS revokedAt
ORDER BY t.createdAt, t.name
"""


def list_tokens(driver: Driver, *, database: str | None = None) -> list[TokenInfo]:
    """Every token, revoked ones included, oldest first."""
    # an auto-commit read (Reader): fails at once while Neo4j is away, where execute_query
    # would retry for 30 s with a request waiting
    records = Reader(driver, database).rows(LIST, "listing API tokens")
    return [
        TokenInfo(r["name"], r["role"], _native(r["createdAt"]), _native_or_none(r["revokedAt"]))
        for r in records
    ]


# Revoking twice keeps the first revocation time; ``alreadyRevoked`` tells the caller.
REVOKE: LiteralString = """
MATCH (t:ApiToken {name: $name}) WHERE NOT t:Twin
WITH t, t.revokedAt IS NOT NULL AS alreadyRevoked
SET t.revokedAt = coalesce(t.revokedAt, datetime())
RETURN alreadyRevoked
"""


def revoke_token(driver: Driver, name: str, *, database: str | None = None) -> bool:
    """Revoke the token ``name``: True if this call revoked it, False if it already was.

    Servers cache lookups for a few seconds (``server.auth``), so a revoked token stops
    working within that time, not instantly. Raises ``TokenNotFound`` for an unknown name.
    """
    with neo4j_errors(f"revoking API token {name!r}"):
        records, _, _ = driver.execute_query(REVOKE, name=name, database_=database)
    if not records:
        raise TokenNotFound(
            f"no token is named {name!r}; `kgtwin token list` shows the names there are"
        )
    return not records[0]["alreadyRevoked"]


LOOKUP_TIMEOUT = 5.0  # seconds: every request with a token waits on this
LOOKUP: LiteralString = """
MATCH (t:ApiToken {hash: $hash})
WHERE t.revokedAt IS NULL AND NOT t:Twin
RETURN t.name AS name, t.role AS role
"""


def lookup_token(
    driver: Driver, token: str, *, database: str | None = None
) -> tuple[str, str] | None:
    """``(name, role)`` of an active token, None for an unknown or revoked one."""
    if not _TOKEN_SHAPE.match(token):
        return None  # cannot be one of ours: no round trip
    records = Reader(driver, database, timeout=LOOKUP_TIMEOUT).rows(
        LOOKUP, "looking up an API token", hash=hash_token(token)
    )  # fails at once while Neo4j is away (see list_tokens), and soon if it hangs
    if not records:
        return None
    return records[0]["name"], records[0]["role"]


def _native(value: Any) -> datetime:
    native: datetime = value.to_native()  # neo4j.time.DateTime -> aware datetime
    return native


def _native_or_none(value: Any) -> datetime | None:
    return None if value is None else _native(value)
