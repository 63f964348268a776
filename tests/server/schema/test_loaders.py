"""Nested fields are batched: the statements a query sends do not grow with its assets."""

from __future__ import annotations

from tests.server.schema.conftest import Api

NESTED = """
query ($first: Int!) {
  assets(class: "Asset", first: $first) {
    edges { node {
      id label
      classes { name }
      properties { name value unit }
      points { id unit value observedAt stale classes { name } }
      relationships { type direction other { id label } }
      feeds: relationships(direction: OUT, types: ["FEEDS"]) { other { id } }
    } }
  }
}
"""


def statements_for(api: Api, first: int) -> int:
    api.statements.clear()
    data = api.data(NESTED, {"first": first})
    edges = data["assets"]["edges"]
    assert len(edges) == first
    assert all(e["node"]["classes"] for e in edges)
    assert sum(len(e["node"]["points"]) for e in edges) > first  # assets do have points
    return len(api.statements)


def test_statement_count_does_not_grow_with_the_number_of_assets(api: Api) -> None:
    one, ten, hundred = (statements_for(api, n) for n in (1, 10, 100))
    # the ontology terms, the page, the points, the relationships twice (two argument sets)
    assert one == ten == hundred == 5


def test_the_same_nested_field_with_other_arguments_is_one_more_batch(api: Api) -> None:
    api.data(
        '{ assets(class: "UPS", first: 4) { edges { node { '
        "a: points(first: 1) { id } b: points(first: 2) { id } c: points(first: 1) { id } "
        "} } } }"
    )
    # the terms are not needed (no classes, the class check reads them): terms, page, 2 batches
    assert len(api.statements) == 4
