"""Roles: every query needs the viewer role; anonymous requests only with anonymous read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from server.auth import Principal, Role
from server.schema.errors import Forbidden, Unauthenticated
from server.schema.permissions import require_role
from server.settings import Settings
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
    with pytest.raises(Unauthenticated, match="it changes things"):
        require_role(info_for(None), Role.OPERATOR)
