"""Roles: reading the twin needs the viewer role (anonymous requests only with anonymous
read); listing the API tokens needs the admin role, and anonymous read never allows it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from neo4j import Driver

from kgtwin.graph.tokens import IssuedToken, create_token, hash_token, revoke_token
from kgtwin.server.auth import Principal, Role
from kgtwin.server.schema.errors import Forbidden, Unauthenticated
from kgtwin.server.schema.permissions import require_role
from kgtwin.server.settings import Settings
from tests.server.schema.conftest import Api

QUERY = '{ asset(id: "ups-a1") { id } }'


def test_anonymous_is_refused_unless_anonymous_read_is_on(api: Api) -> None:
    error = api.error(QUERY, anonymous_read=False)
    assert error.extensions == {"code": "UNAUTHENTICATED", "required_role": "viewer"}
    assert "needs a bearer token (anonymous read is switched off)" in error.message
    assert api.data(QUERY, anonymous_read=True) == {"asset": {"id": "ups-a1"}}


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_read(api: Api, role: Role) -> None:
    principal = Principal("dashboard", role)
    assert api.data(QUERY, principal=principal, anonymous_read=False) == {"asset": {"id": "ups-a1"}}


@dataclass
class FakeInfo:
    """What ``require_role`` reads of Strawberry's Info: the context."""

    context: dict[str, Any]


@dataclass
class FakeServices:
    settings: Settings


def info_for(principal: Principal | None, anonymous_read: bool = True) -> Any:
    services = FakeServices(Settings(anonymous_read=anonymous_read))
    return FakeInfo({"principal": principal, "services": services})


def test_a_lower_role_is_forbidden_and_anonymous_may_only_read() -> None:
    viewer = Principal("dashboard", Role.VIEWER)
    with pytest.raises(
        Forbidden, match="needs the operator role; token 'dashboard' has the viewer"
    ):
        require_role(info_for(viewer), Role.OPERATOR)
    assert require_role(info_for(Principal("ops", Role.ADMIN)), Role.OPERATOR) is not None
    assert require_role(info_for(None), Role.VIEWER) is None
    with pytest.raises(Unauthenticated, match="it needs the operator role"):
        require_role(info_for(None), Role.OPERATOR)


TOKENS = "{ tokens { name role createdAt revokedAt revoked } }"


@pytest.fixture
def issued(dc1: Driver) -> Iterator[list[IssuedToken]]:
    """Two tokens, the first one revoked (names in creation order, so a tie in createdAt
    keeps the order); deleted afterwards so other tests see none."""
    tokens = [
        create_token(dc1, "viewer", "perm-1-viewer"),
        create_token(dc1, "admin", "perm-2-admin"),
    ]
    revoke_token(dc1, "perm-1-viewer")
    yield tokens
    dc1.execute_query("MATCH (t:ApiToken) DETACH DELETE t")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_tokens_are_forbidden_below_admin(api: Api, issued: list[IssuedToken], role: Role) -> None:
    error = api.error(TOKENS, principal=Principal("dashboard", role))
    assert error.extensions == {"code": "FORBIDDEN", "required_role": "admin"}
    assert error.message == (
        f"this needs the admin role; token 'dashboard' has the {role.label} role"
    )


def test_anonymous_read_does_not_show_the_tokens(api: Api, issued: list[IssuedToken]) -> None:
    error = api.error(TOKENS, anonymous_read=True)
    assert error.extensions == {"code": "UNAUTHENTICATED", "required_role": "admin"}
    assert "needs a bearer token" in error.message
    # anonymous read off: refused before the document is even parsed
    error = api.error(TOKENS, anonymous_read=False)
    assert error.extensions == {"code": "UNAUTHENTICATED", "required_role": "viewer"}
    assert "needs a bearer token (anonymous read is switched off)" in error.message


def test_anonymous_tokens_refusal_names_the_admin_role(api: Api, issued: list[IssuedToken]) -> None:
    message = api.error(TOKENS).message
    assert "changes things" not in message  # listing tokens changes nothing
    assert "--role viewer" not in message  # a viewer token would be forbidden
    assert "--role admin" in message


def test_an_admin_lists_every_token_oldest_first_without_secrets(
    api: Api, issued: list[IssuedToken]
) -> None:
    now = datetime.now(UTC)
    result = api.execute(TOKENS, principal=Principal("root", Role.ADMIN))
    assert result.errors is None
    assert result.data is not None
    tokens = result.data["tokens"]
    assert [(t["name"], t["role"], t["revoked"]) for t in tokens] == [
        ("perm-1-viewer", "viewer", True),
        ("perm-2-admin", "admin", False),
    ]
    viewer, admin = tokens
    created = datetime.fromisoformat(viewer["createdAt"])
    revoked = datetime.fromisoformat(viewer["revokedAt"])
    assert now - timedelta(minutes=1) < created <= revoked < now + timedelta(seconds=1)
    assert admin["revokedAt"] is None
    assert created <= datetime.fromisoformat(admin["createdAt"])
    shown = str(result.data)
    for token in issued:
        assert token.token not in shown
        assert hash_token(token.token) not in shown


def test_an_api_token_has_no_field_for_a_secret_or_a_hash(api: Api) -> None:
    data = api.data('{ __type(name: "ApiToken") { fields { name } } }')
    assert [f["name"] for f in data["__type"]["fields"]] == [
        "name",
        "role",
        "createdAt",
        "revokedAt",
        "revoked",
    ]
