"""Who a GraphQL WebSocket connection acts as (``server.graphql_ws``), without a server: the
token of a ``connection_init`` payload, and the refusals. ``test_subscriptions`` runs the
same over a real WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError

from kgtwin.graph.reader import Reader
from kgtwin.graph.tokens import hash_token
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.validate import Ontology
from kgtwin.server.auth import BearerTokenBackend, Principal, Refused, Role, TokenCache
from kgtwin.server.graphql_ws import (
    FORBIDDEN,
    MAX_REASON_BYTES,
    REFUSAL,
    TRY_AGAIN_LATER,
    Refusal,
    close_reason,
    connect,
    credential,
)
from kgtwin.server.schema.context import Context, Services, make_context
from kgtwin.server.settings import Settings
from tests.units import ontology_units

VIEWER = Principal("dash", Role.VIEWER)


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        ({}, None),
        ({"other": "x"}, None),
        ({"Authorization": "Bearer kgt_abc"}, "kgt_abc"),
        ({"authorization": "bearer  kgt_abc "}, "kgt_abc"),
        ({"token": " kgt_abc "}, "kgt_abc"),
        ({"Authorization": "Bearer kgt_a", "token": "kgt_b"}, "kgt_a"),  # the header's wins
    ],
)
def test_the_token_of_a_payload(payload: dict[str, Any], token: str | None) -> None:
    assert credential(payload) == token


@pytest.mark.parametrize(
    "payload",
    [{"Authorization": "Token x"}, {"Authorization": 42}, {"token": ""}, {"token": "a b"}],
)
def test_a_malformed_credential_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(Refused, match=r"^connection_init's (Authorization|token) must be"):
        credential(payload)


def test_a_close_reason_fits_a_close_frame() -> None:
    reason = close_reason("é" * 100)
    assert len(reason.encode()) <= MAX_REASON_BYTES
    assert reason == "é" * (MAX_REASON_BYTES // 2)  # whole characters only


class Tokens(BearerTokenBackend):
    """The token checker with a fixed answer instead of Neo4j."""

    def __init__(self, answer: Principal | Refused) -> None:
        super().__init__(None, TokenCache(0))  # type: ignore[arg-type]  # never used
        self.answer = answer
        self.asked: list[str] = []

    async def check(self, token: str) -> Principal:
        self.asked.append(hash_token(token))
        if isinstance(self.answer, Refused):
            raise self.answer
        return self.answer


def ws_context(
    payload: dict[str, Any], catalogue: Catalogue, anonymous_read: bool = False
) -> Context:
    async def receive() -> Message:
        raise AssertionError("not used")

    async def send(message: Message) -> None:
        raise AssertionError("not used")

    websocket = WebSocket({"type": "websocket", "path": "/graphql", "headers": []}, receive, send)
    settings = Settings(anonymous_read=anonymous_read)
    services = Services(
        settings,
        Reader(None, None),  # type: ignore[arg-type]
        catalogue,
        units=ontology_units(),
    )
    context = make_context(services, None, websocket=websocket)
    context["connection_params"] = payload
    return context


@pytest.fixture(scope="module")
def catalogue(ontology: Ontology) -> Catalogue:
    return Catalogue.build(ontology.graph, ontology.vocabulary)


def refusal_of(context: Context, tokens: BearerTokenBackend) -> Refusal:
    with pytest.raises(ConnectionRejectionError):
        asyncio.run(connect(context, tokens))
    websocket = context["websocket"]
    assert websocket is not None
    refusal = websocket.scope[REFUSAL]
    assert isinstance(refusal, Refusal)
    return refusal


def test_a_valid_token_becomes_the_connections_principal(catalogue: Catalogue) -> None:
    context = ws_context({"token": "kgt_abc"}, catalogue)
    tokens = Tokens(VIEWER)
    asyncio.run(connect(context, tokens))
    assert context["principal"] == VIEWER
    assert tokens.asked == [hash_token("kgt_abc")]


def test_no_token_is_anonymous_only_with_anonymous_read(catalogue: Catalogue) -> None:
    allowed = ws_context({}, catalogue, anonymous_read=True)
    asyncio.run(connect(allowed, Tokens(VIEWER)))
    assert allowed["principal"] is None
    refused = refusal_of(ws_context({}, catalogue), Tokens(VIEWER))
    assert refused.code == FORBIDDEN
    assert "anonymous read is off" in refused.reason


def test_an_invalid_token_is_forbidden_and_an_outage_is_try_again_later(
    catalogue: Catalogue,
) -> None:
    invalid = Refused("the bearer token is not valid", status=401, code="x", bearer_error="")
    refused = refusal_of(ws_context({"token": "kgt_abc"}, catalogue), Tokens(invalid))
    assert refused == Refusal(FORBIDDEN, "Forbidden: the bearer token is not valid")
    outage = Refused("Neo4j is away", status=503, code="x", bearer_error="")
    refused = refusal_of(ws_context({"token": "kgt_abc"}, catalogue), Tokens(outage))
    assert refused == Refusal(TRY_AGAIN_LATER, "Try again later: Neo4j is away")
