"""Errors come back as GraphQL errors with a code and a message, never a stack trace."""

from __future__ import annotations

import logging

import pytest

from kgtwin.devkit.launcher import free_ports
from kgtwin.graph.connection import open_driver
from kgtwin.graph.reader import Reader
from kgtwin.server.schema.errors import NEO4J_UNAVAILABLE_MESSAGE
from tests.server.schema.conftest import Api


def test_unknown_id_is_not_found(api: Api) -> None:
    result = api.execute('{ asset(id: "no-such-asset") { id } }')
    assert result.data == {"asset": None}
    assert result.errors is not None
    (error,) = result.errors
    assert error.message == "no asset has the id 'no-such-asset'"
    assert error.extensions == {"code": "NOT_FOUND"}
    assert error.path == ["asset"]
    assert api.code('{ asset(iri: "urn:nothing") { id } }') == "NOT_FOUND"
    assert api.code('{ downstream(id: "no-such-asset") { totalCount } }') == "NOT_FOUND"


def test_asset_needs_exactly_one_of_id_and_iri(api: Api) -> None:
    error = api.error("{ asset { id } }")
    assert error.extensions == {"code": "BAD_USER_INPUT"}
    assert error.message == "give the asset by exactly one of `id` and `iri`"


def test_unknown_class_lists_the_valid_ones(api: Api) -> None:
    error = api.error('{ assets(class: "Pmp") { totalCount } }')
    assert error.extensions == {"code": "UNKNOWN_CLASS"}
    assert error.message.startswith("unknown class 'Pmp' (did you mean 'Pump'?); valid choices: ")
    choices = error.message.split("valid choices: ")[1].split(", ")
    assert {"Asset", "Pump", "UPS", "Rack", "PowerSensor"} <= set(choices)
    assert choices == sorted(choices)


def test_unknown_relationship_type_lists_the_valid_ones(api: Api) -> None:
    for query in (
        '{ downstream(id: "ups-a1", via: ["FEED"]) { totalCount } }',
        '{ paths(from: "ups-a1", to: "web-01", via: ["FEED"]) { ids } }',
        '{ asset(id: "ups-a1") { relationships(types: ["FEED"]) { type } } }',
    ):
        error = api.error(query)
        assert error.extensions == {"code": "UNKNOWN_RELATIONSHIP"}
        assert error.message.startswith(
            "unknown relationship type 'FEED' (did you mean 'FEEDS'?); valid choices: "
        )
        assert {"FEEDS", "DEPENDS_ON", "HOSTS", "HAS_POINT"} <= set(
            error.message.split("valid choices: ")[1].split(", ")
        )


def test_unknown_or_misused_filter_property_is_bad_user_input(api: Api) -> None:
    error = api.error(
        '{ assets(class: "UPS", where: [{property: "ratedCapacty", gt: 1}]) { totalCount } }'
    )
    assert error.extensions == {"code": "BAD_USER_INPUT"}
    assert error.message.startswith(
        "unknown property 'ratedCapacty' (did you mean 'ratedCapacity'?); valid choices: "
    )
    error = api.error(
        '{ assets(class: "UPS", where: [{property: "manufacturer", gt: 1}]) { totalCount } }'
    )
    assert error.message == (
        "where: 'manufacturer' holds string values; range conditions (gt) need a numeric "
        "property: use eq"
    )
    assert api.code('{ assets(class: "UPS", where: [{property: "id"}]) { totalCount } }') == (
        "BAD_USER_INPUT"
    )


def test_traversal_depth_is_bounded(api: Api) -> None:
    error = api.error('{ downstream(id: "ups-a1", maxDepth: 11) { totalCount } }')
    assert error.extensions == {"code": "BAD_USER_INPUT", "limit": 10}
    assert error.message == "maxDepth must be between 1 and 10 (max_traversal_depth), got 11"


def test_graphql_syntax_and_validation_errors_have_codes(api: Api) -> None:
    assert api.code("{ asset(id: ") == "GRAPHQL_PARSE_FAILED"
    error = api.error('{ asset(id: "ups-a1") { idd } }')
    assert error.extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error.message == "Cannot query field 'idd' on type 'Asset'. Did you mean 'id' or 'iri'?"


def test_several_operations_need_an_operation_name(api: Api) -> None:
    document = 'query A { asset(id: "ups-a1") { id } } query B { __typename }'
    error = api.error(document)
    assert error.extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error.message == (
        "the document has 2 operations (A, B): give `operationName` to say which one to run"
    )


def test_neo4j_unreachable_is_neo4j_unavailable(api: Api) -> None:
    (port,) = free_ports(1)
    driver = open_driver(f"bolt://127.0.0.1:{port}", "neo4j", "secret")
    try:
        error = api.error('{ asset(id: "ups-a1") { id } }', reader=Reader(driver))
    finally:
        driver.close()
    assert error.extensions == {"code": "NEO4J_UNAVAILABLE"}
    assert error.message == NEO4J_UNAVAILABLE_MESSAGE


def test_unexpected_errors_are_masked_and_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    # a database that does not exist: Neo4j refuses the statement, which the API does not
    # expect; the client learns nothing of it but a reference to the log
    reader = Reader(api.driver, "nosuchdatabase")
    with caplog.at_level(logging.ERROR, logger="kgtwin.server.schema.errors"):
        error = api.error('{ asset(id: "ups-a1") { id } }', reader=reader)
    assert error.extensions is not None
    assert error.extensions["code"] == "INTERNAL"
    reference = error.extensions["reference"]
    assert error.message == f"internal server error (reference {reference}); it has been logged"
    assert "nosuchdatabase" not in str(error.formatted)
    (record,) = caplog.records
    assert reference in record.getMessage()
    assert "nosuchdatabase" in record.getMessage()
    assert record.exc_info is not None


def test_an_exception_in_an_extension_is_masked_and_coded(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure before execution (here: the limits check itself) skips the error-code
    extension; the client still gets INTERNAL and a log reference, never the text."""

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals at /srv/kgtwin")

    monkeypatch.setattr("kgtwin.server.schema.admission.measure", broken)
    error = api.error("{ __typename }")
    assert error.extensions is not None
    assert error.extensions["code"] == "INTERNAL"
    assert "secret" not in error.message
    assert error.message.startswith("internal server error (reference ")
