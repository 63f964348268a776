"""Bearer-token authentication: roles, the Starlette middleware (through HTTP, against the
real Neo4j) and the ``kgtwin token`` command."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from neo4j import Driver
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kgtwin.graph import tokens
from kgtwin.graph.connection import open_driver
from kgtwin.graph.tokens import create_token, list_tokens, lookup_token, revoke_token
from kgtwin.server.auth import (
    AuthenticatedUser,
    Principal,
    Role,
    TokenCache,
    UnknownRole,
    auth_middleware,
    principal_of,
    role_allows,
)
from kgtwin.server.cli import main
from tests.conftest import REPO

WELL_FORMED_UNKNOWN = "kgt_" + "A" * 43

# --- roles ------------------------------------------------------------------------------


def test_roles_are_ordered_viewer_operator_admin() -> None:
    assert Role.VIEWER < Role.OPERATOR < Role.ADMIN
    assert sorted(Role, reverse=True) == [Role.ADMIN, Role.OPERATOR, Role.VIEWER]
    assert [role.label for role in Role] == ["viewer", "operator", "admin"]
    assert str(Role.OPERATOR) == "operator"


def test_roles_match_what_the_token_store_accepts() -> None:
    assert tuple(role.label for role in Role) == tokens.ROLES


@pytest.mark.parametrize(
    ("text", "role"),
    [("viewer", Role.VIEWER), ("Operator", Role.OPERATOR), (" admin ", Role.ADMIN)],
)
def test_role_parse(text: str, role: Role) -> None:
    assert Role.parse(text) is role


@pytest.mark.parametrize("text", ["root", "", "VIEWERS", "1"])
def test_role_parse_error_lists_the_choices(text: str) -> None:
    with pytest.raises(UnknownRole, match=r"choose one of viewer, operator, admin"):
        Role.parse(text)


def test_role_allows() -> None:
    operator = Principal("ops", Role.OPERATOR)
    assert role_allows(operator, Role.VIEWER, anonymous_read=False)
    assert role_allows(operator, Role.OPERATOR, anonymous_read=False)
    assert not role_allows(operator, Role.ADMIN, anonymous_read=True)
    assert role_allows(Principal("root", Role.ADMIN), Role.ADMIN, anonymous_read=False)
    # anonymous: reading only, and only when switched on
    assert not role_allows(None, Role.VIEWER, anonymous_read=False)
    assert role_allows(None, Role.VIEWER, anonymous_read=True)
    assert not role_allows(None, Role.OPERATOR, anonymous_read=True)
    assert not role_allows(None, Role.ADMIN, anonymous_read=True)


# --- the lookup cache -------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_forgets_entries_after_the_ttl() -> None:
    clock = FakeClock()
    cache = TokenCache(ttl=5.0, clock=clock)
    alice = Principal("alice", Role.VIEWER)
    cache.put("h1", alice)
    cache.put("h2", None)  # a miss is cached too
    assert cache.get("h1") == (True, alice)
    assert cache.get("h2") == (True, None)
    clock.now += 4.9
    assert cache.get("h1") == (True, alice)
    clock.now += 0.1
    assert cache.get("h1") == (False, None)
    assert cache.get("h2") == (False, None)
    assert len(cache) == 0


def test_cache_evicts_the_least_recently_used() -> None:
    cache = TokenCache(ttl=60.0, maxsize=2, clock=FakeClock())
    a, b, c = (Principal(n, Role.VIEWER) for n in "abc")
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") == (True, a)  # a is now the most recent
    cache.put("c", c)
    assert cache.get("b") == (False, None)
    assert cache.get("a") == (True, a)
    assert cache.get("c") == (True, c)


def test_cache_ttl_zero_caches_nothing() -> None:
    cache = TokenCache(ttl=0.0, clock=FakeClock())
    cache.put("a", Principal("a", Role.VIEWER))
    assert cache.get("a") == (False, None)


# --- the middleware, through HTTP ------------------------------------------------------


async def whoami(request: Request) -> Response:
    principal = principal_of(request)
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "name": principal.name if principal else None,
            "role": principal.role.label if principal else None,
            "scopes": request.auth.scopes,
        }
    )


@requires("operator")
async def operate(request: Request) -> Response:
    assert isinstance(request.user, AuthenticatedUser)
    return JSONResponse({"by": request.user.display_name})


def make_app(driver: Driver, cache_ttl: float = 5.0) -> Starlette:
    return Starlette(
        routes=[Route("/whoami", whoami), Route("/operate", operate, methods=["POST"])],
        middleware=[auth_middleware(driver, cache_ttl=cache_ttl)],
    )


def call(
    app: Starlette,
    path: str = "/whoami",
    *,
    method: str = "GET",
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kgtwin.test") as client:
            return await client.request(method, path, headers=sent)

    return asyncio.run(go())


def assert_unauthenticated(response: httpx.Response, bearer_error: str) -> str:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="kgtwin", error="{bearer_error}"'
    )
    body: dict[str, Any] = response.json()
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    message: str = error["message"]
    return message


def test_valid_token_gives_a_principal_with_its_role(driver: Driver) -> None:
    issued = create_token(driver, "operator", "ci")
    app = make_app(driver)
    response = call(app, token=issued.token)
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": True,
        "name": "ci",
        "role": "operator",
        "scopes": ["authenticated", "viewer", "operator"],
    }
    # Starlette's own @requires sees the role scopes
    assert call(app, "/operate", method="POST", token=issued.token).json() == {"by": "ci"}
    viewer = create_token(driver, "viewer", "dash")
    assert call(app, "/operate", method="POST", token=viewer.token).status_code == 403


def test_scheme_is_case_insensitive(driver: Driver) -> None:
    issued = create_token(driver, "admin", "root")
    response = call(make_app(driver), headers={"Authorization": f"bearer  {issued.token} "})
    assert response.json()["role"] == "admin"


def test_no_header_is_anonymous(driver: Driver) -> None:
    response = call(make_app(driver))
    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "name": None, "role": None, "scopes": []}


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Token kgt_x", "kgt_x"]
)
def test_malformed_header_is_refused(driver: Driver, header: str) -> None:
    response = call(make_app(driver), headers={"Authorization": header})
    message = assert_unauthenticated(response, "invalid_request")
    assert "'Bearer <token>'" in message


@pytest.mark.parametrize("token", [WELL_FORMED_UNKNOWN, "not-even-our-format"])
def test_unknown_token_is_refused(driver: Driver, token: str) -> None:
    response = call(make_app(driver), token=token)
    message = assert_unauthenticated(response, "invalid_token")
    assert "unknown or has been revoked" in message
    assert token not in response.text


def test_revoked_token_is_refused(driver: Driver) -> None:
    issued = create_token(driver, "viewer", "old")
    revoke_token(driver, "old")
    assert_unauthenticated(call(make_app(driver), token=issued.token), "invalid_token")


def test_lookups_are_cached_so_revocation_waits_for_the_ttl(driver: Driver) -> None:
    issued = create_token(driver, "viewer", "cached")
    app = make_app(driver, cache_ttl=600.0)
    assert call(app, token=issued.token).status_code == 200
    revoke_token(driver, "cached")
    # served from the cache: Neo4j is not asked again within the TTL
    assert call(app, token=issued.token).status_code == 200
    # a fresh server (empty cache) refuses it at once
    assert call(make_app(driver), token=issued.token).status_code == 401


def test_revocation_takes_effect_after_the_ttl(driver: Driver) -> None:
    issued = create_token(driver, "operator", "short")
    app = make_app(driver, cache_ttl=0.2)
    assert call(app, token=issued.token).status_code == 200
    revoke_token(driver, "short")
    time.sleep(0.3)
    assert_unauthenticated(call(app, token=issued.token), "invalid_token")


def test_a_token_created_after_a_miss_works_at_once(driver: Driver) -> None:
    # misses are cached by token hash; a new token has a new hash, so no stale miss hits it
    app = make_app(driver, cache_ttl=600.0)
    assert call(app, token=WELL_FORMED_UNKNOWN).status_code == 401
    issued = create_token(driver, "viewer")
    assert call(app, token=issued.token).status_code == 200


def test_neo4j_down_is_503_and_not_cached(driver: Driver) -> None:
    down = open_driver("bolt://127.0.0.1:1", "neo4j", "x")
    try:
        app = make_app(down, cache_ttl=600.0)
        response = call(app, token=WELL_FORMED_UNKNOWN)
        assert response.status_code == 503
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
        assert "not reachable" in error["message"]
        assert "www-authenticate" not in response.headers
        # anonymous requests do not need Neo4j here
        assert call(app).status_code == 200
    finally:
        down.close()


# --- the `kgtwin token` command -----------------------------------------------------------


def test_token_create_prints_the_token_alone(
    driver: Driver, neo4j_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "create", "--role", "operator", "--name", "ci"]) == 0
    captured = capsys.readouterr()
    token = captured.out.removesuffix("\n")
    assert captured.out == token + "\n"
    assert lookup_token(driver, token) == ("ci", "operator")
    assert "token 'ci' (operator) created; it is shown once" in captured.err
    assert token not in captured.err


def test_token_create_in_a_subprocess_is_capturable(
    driver: Driver, neo4j_env: dict[str, str]
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from kgtwin.server.cli import main; sys.exit(main())",
            "token",
            "create",
            "--role",
            "viewer",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    found = lookup_token(driver, token)
    assert found is not None
    assert found[1] == "viewer"
    assert f"token {found[0]!r} (viewer) created" in done.stderr


def test_token_list_and_revoke(
    driver: Driver, neo4j_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "list"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no tokens yet" in captured.err

    assert main(["token", "create", "--role", "viewer", "--name", "dash"]) == 0
    dash = capsys.readouterr().out.strip()
    assert main(["token", "create", "--role", "admin", "--name", "root"]) == 0
    root = capsys.readouterr().out.strip()

    assert main(["token", "revoke", "dash"]) == 0
    assert capsys.readouterr().out == "token 'dash' revoked\n"
    assert main(["token", "revoke", "dash"]) == 0
    assert capsys.readouterr().out == "token 'dash' was already revoked\n"

    assert main(["token", "list"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "ROLE", "CREATED", "STATUS"]
    by_name = {row.split()[0]: row.split() for row in rows}
    assert set(by_name) == {"dash", "root"}
    assert by_name["dash"][1] == "viewer"
    assert by_name["dash"][4] == "revoked"
    assert by_name["root"][1:2] == ["admin"]
    assert by_name["root"][-1] == "active"
    for secret in (dash, root, tokens.hash_token(dash), tokens.hash_token(root)):
        assert secret not in out
    assert lookup_token(driver, dash) is None
    assert lookup_token(driver, root) == ("root", "admin")


def test_token_errors_exit_1_with_a_clear_message(
    driver: Driver, neo4j_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "revoke", "nope"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "kgtwin: error: no token is named 'nope'" in captured.err

    assert main(["token", "create", "--role", "viewer", "--name", "dup"]) == 0
    capsys.readouterr()
    assert main(["token", "create", "--role", "admin", "--name", "dup"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "a token named 'dup' exists already" in captured.err
    assert [(i.name, i.role) for i in list_tokens(driver)] == [("dup", "viewer")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "create", "--role", "root"], "invalid choice: 'root'"),
        (["token", "create"], "the following arguments are required: --role"),
        (["token", "create", "--role", "viewer", "--name", "a b"], "token name 'a b' is not"),
        (["token", "revoke"], "the following arguments are required: NAME"),
        (["token"], "the following arguments are required: ACTION"),
    ],
)
def test_token_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_token_command_against_a_stopped_neo4j_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    monkeypatch.setenv("NEO4J_PASSWORD", "x")
    assert main(["token", "create", "--role", "viewer"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Neo4j is not reachable" in captured.err
