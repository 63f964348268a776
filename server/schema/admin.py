"""Fields for admins: ``tokens`` lists the API's bearer tokens, as ``kgtwin token list`` does.

A token shows its name, role and when it was created and revoked; never its secret (the
graph does not have it) or its hash (:class:`graph.tokens.TokenInfo` does not carry it).

The list is not paged: it holds one entry per ``kgtwin token create`` an admin has run
(revoked tokens stay listed), a handful to a few hundred, read in one statement.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from kgtwin.graph.tokens import TokenInfo, list_tokens
from kgtwin.server.schema.context import GraphInfo, reader
from kgtwin.server.schema.loaders import in_thread


@strawberry.type(description="An API token: never its secret or its hash.")
class ApiToken:
    name: str = strawberry.field(description="What `kgtwin token revoke` takes.")
    role: str = strawberry.field(description="viewer, operator or admin.")
    created_at: datetime
    revoked_at: datetime | None = strawberry.field(description="Null while the token works.")

    @strawberry.field(description="True once revoked: the token no longer authenticates.")
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def of(cls, info: TokenInfo) -> ApiToken:
        return cls(
            name=info.name, role=info.role, created_at=info.created_at, revoked_at=info.revoked_at
        )


async def api_tokens(info: GraphInfo) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
    request_reader = reader(info)
    found = await in_thread(list_tokens, request_reader.driver, database=request_reader.database)
    return [ApiToken.of(token) for token in found]
