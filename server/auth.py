"""Who is asking: bearer tokens, roles, and the Starlette middleware that checks them.

Every HTTP and WebSocket request passes :func:`auth_middleware`:

- no ``Authorization`` header: the request goes on anonymously (``request.user`` is not
  authenticated); the GraphQL layer decides with :func:`role_allows` whether anonymous
  read is allowed, which it is only when switched on explicitly;
- ``Authorization: Bearer <token>`` with an active token: ``request.user`` is an
  :class:`AuthenticatedUser` carrying the :class:`Principal` (token name and role), and
  ``request.auth.scopes`` holds ``authenticated`` plus every role up to the token's, so
  Starlette's ``@requires("operator")`` works too;
- a malformed header, or an unknown or revoked token: 401 with a GraphQL-shaped JSON body
  (``extensions.code`` ``UNAUTHENTICATED``) and ``WWW-Authenticate: Bearer``;
- Neo4j unreachable while checking a token: 503 (``extensions.code``
  ``SERVICE_UNAVAILABLE``); the next request tries again.

A WebSocket handshake refused this way is closed before it is accepted (the client sees
HTTP 403). Browsers cannot put a header on a WebSocket, so GraphQL over WebSocket also
takes the token from its ``connection_init`` message, checked by the same backend
(:mod:`server.graphql_ws`).

Lookups are cached for ``cache_ttl`` seconds (default 5) per server process, so a token
revoked with ``kgtwin token revoke`` stops working within that time on every server.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from neo4j import Driver
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from kgtwin.graph.errors import GraphError
from kgtwin.graph.tokens import hash_token, lookup_token

logger = logging.getLogger(__name__)

DEFAULT_CACHE_TTL = 5.0
DEFAULT_CACHE_SIZE = 1024
REALM = "kgtwin"


class UnknownRole(ValueError):
    """A role name that is not one of viewer, operator, admin."""


class Role(IntEnum):
    """What a token may do; a higher role may do everything a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The role's name as users write it: ``viewer``, ``operator``, ``admin``."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            choices = ", ".join(role.label for role in cls)
            raise UnknownRole(f"unknown role {value!r}: choose one of {choices}") from None

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of a valid token: its name and role."""

    name: str
    role: Role


def role_allows(principal: Principal | None, needed: Role, anonymous_read: bool) -> bool:
    """May ``principal`` (None: anonymous) do what needs ``needed``?

    Anonymous requests may only read (``Role.VIEWER``), and only with ``anonymous_read``.
    """
    if principal is None:
        return anonymous_read and needed is Role.VIEWER
    return principal.role >= needed


class AuthenticatedUser(BaseUser):
    """``request.user`` for a request with a valid token."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.name

    @property
    def identity(self) -> str:
        return self.principal.name


def principal_of(conn: HTTPConnection) -> Principal | None:
    """The request's principal, None when it is anonymous (or the middleware is absent)."""
    user = conn.scope.get("user")
    return user.principal if isinstance(user, AuthenticatedUser) else None


class TokenCache:
    """A small LRU of token lookups (hits and misses) that forgets entries after ``ttl``.

    Keys are token hashes, so the cache holds no secrets. ``clock`` is for tests.
    """

    def __init__(
        self,
        ttl: float,
        maxsize: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or maxsize < 1:
            raise ValueError(f"cache needs ttl >= 0 and maxsize >= 1, got {ttl}, {maxsize}")
        self.ttl = ttl
        self.maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Principal | None]:
        """``(found, principal)``; an expired entry counts as not found."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        expires, principal = entry
        if self._clock() >= expires:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, principal

    def put(self, key: str, principal: Principal | None) -> None:
        self._entries[key] = (self._clock() + self.ttl, principal)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Refused(AuthenticationError):
    """A request the middleware answers itself, with ``status`` and a GraphQL error."""

    def __init__(self, message: str, *, status: int, code: str, bearer_error: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.bearer_error = bearer_error


def bearer_token(value: str, where: str) -> str:
    """The token of a ``Bearer <token>`` credential (scheme case-insensitive); raises
    ``Refused`` (401) when ``value`` is not one. ``where`` names it in the message."""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Refused(
            f"{where} must be 'Bearer <token>'; "
            "create a token with `kgtwin token create --role viewer`",
            status=401,
            code="UNAUTHENTICATED",
            bearer_error="invalid_request",
        )
    return token


class BearerTokenBackend(AuthenticationBackend):
    """Reads ``Authorization: Bearer <token>`` and finds the token in Neo4j (cached)."""

    def __init__(self, driver: Driver, cache: TokenCache, *, database: str | None = None) -> None:
        self._driver = driver
        self._cache = cache
        self._database = database

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        principal = await self.check(bearer_token(header, "the Authorization header"))
        scopes = ["authenticated", *(role.label for role in Role if role <= principal.role)]
        return AuthCredentials(scopes), AuthenticatedUser(principal)

    async def check(self, token: str) -> Principal:
        """The principal of an active ``token``; raises ``Refused`` for an unknown or
        revoked one (401), or when Neo4j cannot be asked (503)."""
        principal = await self._principal(token)
        if principal is None:
            raise Refused(
                "the bearer token is not valid: it is unknown or has been revoked",
                status=401,
                code="UNAUTHENTICATED",
                bearer_error="invalid_token",
            )
        return principal

    async def _principal(self, token: str) -> Principal | None:
        key = hash_token(token)
        found, principal = self._cache.get(key)
        if found:
            return principal
        try:
            # The driver is synchronous: keep its round trip off the event loop.
            row = await run_in_threadpool(
                lookup_token, self._driver, token, database=self._database
            )
        except GraphError as exc:  # not cached: the next request asks again
            logger.warning("cannot check a bearer token: %s", exc)
            raise Refused(
                f"cannot check the bearer token right now: {exc}",
                status=503,
                code="SERVICE_UNAVAILABLE",
                bearer_error="",
            ) from exc
        principal = None if row is None else _to_principal(*row)
        self._cache.put(key, principal)
        return principal


def _to_principal(name: str, role: str) -> Principal | None:
    try:
        return Principal(name, Role.parse(role))
    except UnknownRole:
        logger.warning("API token %r has role %r, which is not a role; refusing it", name, role)
        return None


def refusal_response(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """The ``on_error`` of the middleware: a GraphQL-shaped JSON error."""
    if not isinstance(exc, Refused):  # not raised by this module; refuse all the same
        exc = Refused(str(exc), status=401, code="UNAUTHENTICATED", bearer_error="")
    body: dict[str, Any] = {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
    headers: dict[str, str] = {}
    if exc.status == 401:
        challenge = f'Bearer realm="{REALM}"'
        if exc.bearer_error:
            challenge += f', error="{exc.bearer_error}"'
        headers["WWW-Authenticate"] = challenge
    return JSONResponse(body, status_code=exc.status, headers=headers)


def auth_middleware(
    driver: Driver, *, cache_ttl: float = DEFAULT_CACHE_TTL, database: str | None = None
) -> Middleware:
    """The authentication middleware, for ``Starlette(middleware=[auth_middleware(driver)])``.

    ``driver`` connects lazily, so an app factory may open it before the app exists and
    close it in the lifespan. A token revoked in Neo4j stops working within ``cache_ttl``
    seconds; 0 disables the cache.
    """
    return middleware_for(token_backend(driver, cache_ttl=cache_ttl, database=database))


def token_backend(
    driver: Driver, *, cache_ttl: float = DEFAULT_CACHE_TTL, database: str | None = None
) -> BearerTokenBackend:
    """The token checker with its cache, to share between the middleware and the GraphQL
    WebSocket handshake (whose token comes in a message, not a header)."""
    return BearerTokenBackend(driver, TokenCache(cache_ttl), database=database)


def middleware_for(backend: BearerTokenBackend) -> Middleware:
    """The authentication middleware checking tokens with ``backend``."""
    return Middleware(AuthenticationMiddleware, backend=backend, on_error=refusal_response)
