"""The API token store, against the real Neo4j."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest
from neo4j import Driver

from kgtwin.graph.connection import open_driver
from kgtwin.graph.errors import GraphError, Neo4jUnavailable
from kgtwin.graph.tokens import (
    InvalidTokenRequest,
    TokenError,
    TokenInfo,
    TokenNameTaken,
    TokenNotFound,
    create_token,
    ensure_token_schema,
    hash_token,
    list_tokens,
    lookup_token,
    revoke_token,
)


def test_create_returns_the_token_and_the_graph_keeps_only_its_hash(driver: Driver) -> None:
    issued = create_token(driver, "operator", "ci")
    assert issued.name == "ci"
    assert issued.role == "operator"
    assert re.fullmatch(r"kgt_[A-Za-z0-9_-]{43}", issued.token)
    assert issued.token not in repr(issued)

    records, _, _ = driver.execute_query("MATCH (t:ApiToken) RETURN properties(t) AS p")
    (props,) = (r["p"] for r in records)
    assert set(props) == {"name", "role", "hash", "createdAt"}
    assert props["hash"] == hashlib.sha256(issued.token.encode()).hexdigest()
    secret = issued.token.removeprefix("kgt_")
    for value in props.values():
        assert secret not in str(value)


def test_tokens_are_unique_and_names_are_generated(driver: Driver) -> None:
    first = create_token(driver, "viewer")
    second = create_token(driver, "viewer")
    assert re.fullmatch(r"token-[0-9a-f]{8}", first.name)
    assert first.name != second.name
    assert first.token != second.token


def test_lookup_finds_an_active_token_by_its_hash_only(driver: Driver) -> None:
    issued = create_token(driver, "admin", "root")
    assert lookup_token(driver, issued.token) == ("root", "admin")
    assert (
        lookup_token(driver, issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) is None
    )
    assert lookup_token(driver, hash_token(issued.token)) is None  # the hash is no token
    assert lookup_token(driver, "") is None
    assert lookup_token(driver, "kgt_short") is None


def test_lookup_on_an_empty_database_finds_nothing(driver: Driver) -> None:
    assert lookup_token(driver, "kgt_" + "A" * 43) is None


def test_revoke_stops_lookup_and_list_shows_it(driver: Driver) -> None:
    kept = create_token(driver, "viewer", "kept")
    gone = create_token(driver, "operator", "gone")
    assert revoke_token(driver, "gone") is True
    assert lookup_token(driver, gone.token) is None
    assert lookup_token(driver, kept.token) == ("kept", "viewer")

    infos = {info.name: info for info in list_tokens(driver)}
    assert set(infos) == {"kept", "gone"}
    assert not infos["kept"].revoked
    assert infos["gone"].revoked
    assert infos["gone"].role == "operator"
    revoked_at = infos["gone"].revoked_at
    assert revoked_at is not None
    assert revoked_at >= infos["gone"].created_at
    assert revoked_at.tzinfo is not None

    # revoking again changes nothing and says so
    assert revoke_token(driver, "gone") is False
    (again,) = (info for info in list_tokens(driver) if info.name == "gone")
    assert again.revoked_at == revoked_at


def test_list_never_carries_secrets(driver: Driver) -> None:
    issued = create_token(driver, "viewer", "dash")
    assert [f.name for f in dataclasses.fields(TokenInfo)] == [
        "name",
        "role",
        "created_at",
        "revoked_at",
    ]
    (info,) = list_tokens(driver)
    assert issued.token not in repr(info)
    assert hash_token(issued.token) not in repr(info)


def test_list_is_oldest_first(driver: Driver) -> None:
    for name in ("b", "a", "c"):
        create_token(driver, "viewer", name)
    infos = list_tokens(driver)
    assert {info.name for info in infos} == {"a", "b", "c"}
    created = [info.created_at for info in infos]
    assert created == sorted(created)


def test_duplicate_name_is_refused_and_the_first_token_keeps_working(driver: Driver) -> None:
    first = create_token(driver, "viewer", "dash")
    with pytest.raises(TokenNameTaken, match="a token named 'dash' exists already"):
        create_token(driver, "admin", "dash")
    assert lookup_token(driver, first.token) == ("dash", "viewer")
    # a revoked token's name stays taken: list keeps the history unambiguous
    revoke_token(driver, "dash")
    with pytest.raises(TokenNameTaken):
        create_token(driver, "viewer", "dash")
    assert len(list_tokens(driver)) == 1


def test_revoke_of_an_unknown_name_says_so(driver: Driver) -> None:
    with pytest.raises(TokenNotFound, match=r"no token is named 'nope'.*kgtwin token list"):
        revoke_token(driver, "nope")


@pytest.mark.parametrize(
    ("role", "name", "message"),
    [
        ("root", "x", r"unknown role 'root': choose one of viewer, operator, admin"),
        ("viewer", "", r"token name '' is not usable"),
        ("viewer", "has space", r"token name 'has space' is not usable"),
        ("viewer", "-leading-dash", r"is not usable"),
        ("viewer", "x" * 65, r"is not usable"),
    ],
)
def test_unusable_role_or_name_is_refused_before_writing(
    driver: Driver, role: str, name: str, message: str
) -> None:
    with pytest.raises(InvalidTokenRequest, match=message):
        create_token(driver, role, name)
    assert list_tokens(driver) == []


def test_token_errors_are_graph_errors() -> None:
    for error in (TokenNameTaken, TokenNotFound, InvalidTokenRequest):
        assert issubclass(error, TokenError)
        assert issubclass(error, GraphError)


def test_schema_is_created_on_create_and_idempotent(driver: Driver) -> None:
    create_token(driver, "viewer")
    ensure_token_schema(driver)
    records, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties "
        "WHERE 'ApiToken' IN labelsOrTypes RETURN name, type, properties ORDER BY name"
    )
    assert [(r["name"], r["type"], r["properties"]) for r in records] == [
        ("api_token_hash", "UNIQUENESS", ["hash"]),
        ("api_token_name", "UNIQUENESS", ["name"]),
    ]


def test_neo4j_down_is_a_graph_error_not_a_driver_error() -> None:
    down = open_driver("bolt://127.0.0.1:1", "neo4j", "x")
    try:
        with pytest.raises(Neo4jUnavailable):
            lookup_token(down, "kgt_" + "A" * 43)
        with pytest.raises(Neo4jUnavailable):
            list_tokens(down)
    finally:
        down.close()


def test_a_twin_node_labelled_api_token_is_never_taken_for_a_token(driver: Driver) -> None:
    """Regression: a model class named ApiToken with an instance carrying hash, role and
    name made a node the token lookup matched (admin access), and `tokens` crashed on it.
    Models can no longer produce the label (ontology.vocabulary), and a graph loaded
    before that still holds such nodes: every token query leaves twin nodes out."""
    forged = "kgt_" + "A" * 43
    driver.execute_query(
        "CREATE (:Twin:Asset:ApiToken {iri: 'urn:x:forged', id: 'forged', model: 'evil', "
        "name: 'forged', role: 'admin', hash: $hash})",
        hash=hash_token(forged),
    )
    real = create_token(driver, "viewer", "real")
    assert lookup_token(driver, forged) is None
    assert lookup_token(driver, real.token) == ("real", "viewer")
    assert [t.name for t in list_tokens(driver)] == ["real"]
    with pytest.raises(TokenNotFound):
        revoke_token(driver, "forged")
