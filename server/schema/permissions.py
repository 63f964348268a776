"""Who may run what: every root field calls :func:`require_role` first."""

from __future__ import annotations

from kgtwin.server.auth import Principal, Role, role_allows
from kgtwin.server.schema.context import GraphInfo
from kgtwin.server.schema.errors import Forbidden, Unauthenticated


def require_role(info: GraphInfo, role: Role) -> Principal | None:
    """The request's principal if it may act as ``role``; anonymous requests may only read,
    and only when ``anonymous_read`` is on. Raises ``Unauthenticated`` or ``Forbidden``."""
    principal = info.context["principal"]
    anonymous_read = info.context["services"].settings.anonymous_read
    if role_allows(principal, role, anonymous_read):
        return principal
    if principal is None:
        why = (
            "anonymous read is switched off"
            if role is Role.VIEWER
            else f"it needs the {role.label} role"
        )
        raise Unauthenticated(
            f"this query needs a bearer token ({why}): send 'Authorization: Bearer <token>'; "
            f"an admin creates one with `kgtwin token create --role {role.label}`",
            required_role=role.label,
        )
    raise Forbidden(
        f"this needs the {role.label} role; token {principal.name!r} has the "
        f"{principal.role.label} role",
        required_role=role.label,
    )
