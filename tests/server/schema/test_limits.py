"""Depth and complexity limits refuse a query before anything runs, naming the limit."""

from __future__ import annotations

from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
)
from graphql.execution.values import VariableValues, get_variable_values

from kgtwin.server.schema import build_schema
from kgtwin.server.schema.limits import LIST_ESTIMATE, measure
from kgtwin.server.settings import Settings
from tests.server.schema.conftest import Api

NESTED = """
query ($first: Int!) {
  assets(class: "Asset", first: $first) {
    edges { node { id relationships(first: 5) { other { points(first: 3) { id } } } } }
  }
}
"""


def cost(query: str, variables: dict[str, int] | None = None) -> tuple[int, int]:
    schema = build_schema(Settings())._schema
    document = parse(query)
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    assert isinstance(coerced, VariableValues), coerced
    found = measure(schema, operation, fragments, coerced, default_first=100)
    return found.depth, found.cost


def test_measure_counts_depth_and_multiplies_lists_by_their_first() -> None:
    assert cost('{ asset(id: "x") { id } }') == (2, 2)
    # assets(first: 2) -> edges (the page itself) -> node -> id + relationships(first: 5)
    #   -> other -> points(first: 3) -> id
    depth, total = cost(NESTED, {"first": 2})
    assert depth == 7
    points = 1 + 3 * 1
    relationships = 1 + 5 * (1 + points)
    node = 1 + (1 + relationships)
    assert total == 1 + 2 * (1 + node)
    # a list without `first` counts LIST_ESTIMATE times; __typename is free
    assert cost('{ asset(id: "x") { classes { name } __typename } }') == (3, 1 + 1 + LIST_ESTIMATE)


def test_fragments_count_where_they_are_spread() -> None:
    inline = cost('{ asset(id: "x") { points(first: 4) { id unit } } }')
    spread = cost(
        'query { asset(id: "x") { ...P } } fragment P on Asset { points(first: 4) { id unit } }'
    )
    assert inline == spread == (3, 1 + 1 + 4 * 2)


def test_too_deep_a_query_is_refused_with_depth_limit(api: Api) -> None:
    error = api.error(NESTED, {"first": 2}, max_query_depth=6)
    assert error.extensions == {"code": "DEPTH_LIMIT", "limit": 6, "depth": 7}
    assert error.message == (
        "the query nests 7 levels deep; the limit is 6 (max_query_depth): "
        "ask for fewer nested fields"
    )
    assert api.statements == []  # refused before anything ran


def test_too_costly_a_query_is_refused_with_complexity_limit(api: Api) -> None:
    result = api.data(NESTED, {"first": 2}, max_complexity=100)
    assert len(result["assets"]["edges"]) == 2
    error = api.error(NESTED, {"first": 50}, max_complexity=100)
    assert error.extensions is not None
    assert error.extensions["code"] == "COMPLEXITY_LIMIT"
    assert error.extensions["limit"] == 100
    assert error.extensions["complexity"] > 100
    assert error.message.startswith(
        f"the query's estimated complexity is {error.extensions['complexity']} "
    )
    assert "the limit is 100 (max_complexity)" in error.message


def test_introspection_passes_the_default_limits(api: Api) -> None:
    data = api.data(get_introspection_query())
    assert data["__schema"]["queryType"]["name"] == "Query"
