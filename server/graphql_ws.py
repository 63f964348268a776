"""GraphQL over WebSocket on ``/graphql``: the graphql-transport-ws protocol, and who the
connection acts as.

- **Protocol.** Only ``graphql-transport-ws`` (the ``graphql-ws`` library's protocol, used
  by GraphiQL, Apollo Client and urql). A client that offers only the legacy
  ``graphql-ws`` subprotocol (Apollo's retired ``subscriptions-transport-ws``) is closed
  with 4406 (subprotocol not acceptable): it has no way to refuse a connection with a
  reason, and keeping a second protocol alive doubles what must be kept secure.
- **Who.** Browsers cannot put a header on a WebSocket, so the token comes in the
  ``connection_init`` payload: ``{"Authorization": "Bearer <token>"}`` (key in any case) or
  ``{"token": "<token>"}``. Without one there, the ``Authorization`` header of the upgrade
  request counts (checked by the authentication middleware, which refuses a bad one at
  the handshake: HTTP 403). The connection acts as that principal for all its operations,
  each of which checks its role as over HTTP; a token revoked later ends no open
  connection, but no new one opens with it.
- **Refusals** close the connection, as the protocol asks, with 4403 and a reason saying
  why: a malformed, unknown or revoked token, or no token while anonymous read is off.
  When the token cannot be checked because Neo4j is away: 1013 (try again later).
- **Operations** are subscriptions, queries and mutations, each with a context of its
  own (:class:`server.schema.context.PerOperation`), through the same schema extensions as
  over HTTP: limits, error codes, metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from kgtwin.server.auth import BearerTokenBackend, Principal, Refused, bearer_token
from kgtwin.server.schema.context import Context

PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
FORBIDDEN = 4403  # graphql-transport-ws: connection_init refused
TRY_AGAIN_LATER = 1013  # RFC 6455 registry: the server cannot serve the connection now
MAX_REASON_BYTES = 123  # the most a close frame's reason may take
REFUSAL = "kgtwin.refusal"  # where the reason waits, in the connection's ASGI scope

NO_TOKEN = (
    "Forbidden: anonymous read is off; send connection_init with payload "
    '{"Authorization": "Bearer <token>"}'
)


@dataclass(frozen=True, slots=True)
class Refusal:
    code: int
    reason: str


def credential(params: Mapping[str, object]) -> str | None:
    """The token a ``connection_init`` payload carries (None: none); ``Refused`` when the
    ``Authorization`` or ``token`` entry is not a token."""
    for key, value in params.items():
        if key.lower() == "authorization":
            if not isinstance(value, str):
                raise _malformed(key, "'Bearer <token>'")
            return bearer_token(value, f"connection_init's {key}")
    if "token" in params:
        value = params["token"]
        token = value.strip() if isinstance(value, str) else ""
        if not token or " " in token:
            raise _malformed("token", "a token")
        return token
    return None


async def connect(context: Context, tokens: BearerTokenBackend) -> None:
    """Decide who the connection acts as, on ``connection_init``: set the context's
    principal, or refuse (``ConnectionRejectionError``, with the reason for
    :class:`ClosingAdapter`)."""
    websocket = context["websocket"]
    assert websocket is not None, "connect() is for WebSocket contexts"
    principal: Principal | None
    try:
        token = credential(context.get("connection_params") or {})
        principal = context["principal"] if token is None else await tokens.check(token)
    except Refused as exc:
        if exc.status == 503:
            _refuse(websocket, TRY_AGAIN_LATER, f"Try again later: {exc.message}")
        _refuse(websocket, FORBIDDEN, f"Forbidden: {exc.message}")
    if principal is None and not context["services"].settings.anonymous_read:
        _refuse(websocket, FORBIDDEN, NO_TOKEN)
    context["principal"] = principal


class ClosingAdapter(ASGIWebSocketAdapter):
    """Strawberry closes a refused connection with 4403 and the reason "Forbidden"; this
    gives the reason :func:`connect` recorded (and its close code)."""

    async def close(self, code: int, reason: str) -> None:
        refusal = self.ws.scope.get(REFUSAL)
        if code == FORBIDDEN and isinstance(refusal, Refusal):
            code, reason = refusal.code, refusal.reason
        await super().close(code, reason)


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame can carry (whole characters)."""
    return text.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


def _refuse(websocket: WebSocket, code: int, reason: str) -> NoReturn:
    websocket.scope[REFUSAL] = Refusal(code, close_reason(reason))
    raise ConnectionRejectionError


def _malformed(key: str, shape: str) -> Refused:
    return Refused(
        f"connection_init's {key} must be {shape}",
        status=401,
        code="UNAUTHENTICATED",
        bearer_error="invalid_request",
    )
