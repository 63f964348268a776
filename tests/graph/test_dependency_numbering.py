"""How :func:`graph.dependencies.dependencies_of` numbers nodes (pure; no Neo4j): against a
dict filled end by end, the rule written out one step at a time, on random rows; and how a
server's numbered read turns a column of property values into what-if numbers."""

from __future__ import annotations

from dataclasses import astuple, fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kgtwin.graph.dependencies import (
    AssetRow,
    Dependencies,
    Edges,
    _integers_in,
    _number,
    _numbers_in,
    dependencies_of,
    numbered,
)

IRIS = st.sampled_from([f"urn:t:{i}" for i in range(12)])
LABELS = st.frozensets(st.sampled_from(["Asset", "Pump", "UPS"]))
MAYBE = st.none() | st.floats(0, 100, allow_nan=False)
ASSETS = st.lists(
    st.builds(
        AssetRow,
        iri=IRIS,
        id=st.text("ab", max_size=2),
        labels=LABELS,
        policy=st.sampled_from([None, "all", "any"]),
        required_suppliers=st.none() | st.integers(1, 3),
        rated_capacity=MAYBE,
        capacity_unit=st.sampled_from([None, "KiloW"]),
        design_load=MAYBE,
        mtbf_hours=MAYBE,
        mttr_hours=MAYBE,
    ),
    max_size=10,
)
ENDS = st.lists(st.tuples(IRIS, st.text("xy", max_size=2), IRIS, st.text("xy", max_size=2)))
TYPES = st.lists(st.sampled_from(["FEEDS", "HOSTS", "DEPENDS_ON"]), max_size=3)


def numbered_by_dict(
    ends: list[tuple[str, str]], assets: list[AssetRow]
) -> list[tuple[object, ...]]:
    """Each node as (IRI, id, then the asset's columns, or no labels and Nones), in the
    order of :class:`NodeTable`'s columns: the assets, then ``ends`` (IRI, id) in order."""
    index: dict[str, tuple[object, ...]] = {}
    for row in assets:
        index.setdefault(row.iri, astuple(row))
    for iri, node_id in ends:
        index.setdefault(iri, (iri, node_id, frozenset(), *[None] * 7))
    return list(index.values())


def node_rows(graph: Dependencies) -> list[tuple[object, ...]]:
    nodes = graph.nodes
    return list(zip(*(getattr(nodes, f.name) for f in fields(nodes)), strict=True))


@settings(max_examples=300, deadline=None)
@given(assets=ASSETS, ends=ENDS, types=TYPES, data=st.data())
def test_assets_first_then_edge_ends_in_the_order_edges_name_them(
    assets: list[AssetRow],
    ends: list[tuple[str, str, str, str]],
    types: list[str],
    data: st.DataObject,
) -> None:
    kinds = [data.draw(st.sampled_from(["FEEDS", "COOLS"])) for _ in ends]
    edges = Edges.of(
        [e[0] for e in ends],
        [e[1] for e in ends],
        [e[2] for e in ends],
        [e[3] for e in ends],
        kinds,
    )
    graph = dependencies_of(edges, types, assets)
    named = [(e[0], e[1]) for e in ends] + [(e[2], e[3]) for e in ends]
    assert node_rows(graph) == numbered_by_dict(named, assets)
    assert graph.types == tuple(sorted({*types, *kinds}))
    number = {iri: n for n, iri in enumerate(graph.nodes.iris)}
    assert graph.sources.tolist() == [number[e[0]] for e in ends]
    assert graph.targets.tolist() == [number[e[2]] for e in ends]
    assert [graph.types[k] for k in graph.kinds.tolist()] == kinds


@settings(max_examples=300, deadline=None)
@given(
    assets=ASSETS,
    ends=st.lists(st.tuples(IRIS, st.text("xy", max_size=2)), min_size=1),
    data=st.data(),
)
def test_ends_as_read_count_in_their_order_and_only_if_an_edge_names_them(
    assets: list[AssetRow], ends: list[tuple[str, str]], data: st.DataObject
) -> None:
    positions = st.integers(0, len(ends) - 1)
    pairs = data.draw(st.lists(st.tuples(positions, positions, st.sampled_from([0, 1]))))
    names = ("COOLS", "FEEDS")
    edges = Edges(
        [iri for iri, _id in ends],
        [node_id for _iri, node_id in ends],
        np.array([a for a, _b, _k in pairs], dtype=np.int64),
        np.array([b for _a, b, _k in pairs], dtype=np.int64),
        np.array([k for _a, _b, k in pairs], dtype=np.int64),
        names,
    )
    graph = dependencies_of(edges, ["HOSTS"], assets)
    used = {p for a, b, _k in pairs for p in (a, b)}
    named = [end for p, end in enumerate(ends) if p in used]
    assert node_rows(graph) == numbered_by_dict(named, assets)
    assert graph.types == ("COOLS", "FEEDS", "HOSTS")
    number = {iri: n for n, iri in enumerate(graph.nodes.iris)}
    assert graph.sources.tolist() == [number[ends[a][0]] for a, _b, _k in pairs]
    assert graph.targets.tolist() == [number[ends[b][0]] for _a, b, _k in pairs]
    assert [graph.types[k] for k in graph.kinds.tolist()] == [names[k] for _a, _b, k in pairs]
    assert [(s, t) for s, t, _type in edges.named()] == [
        (ends[a][0], ends[b][0]) for a, b, _k in pairs
    ]


class OneHash(str):
    """A string whose hash every other one shares: two different IRIs of one hash."""

    __slots__ = ()

    def __hash__(self) -> int:
        return 7


def by_dict(strings: list[str]) -> tuple[list[int], list[int]]:
    """Each string's number and where each number first appears, by a dict."""
    numbers: dict[str, int] = {}
    firsts: list[int] = []
    for at, string in enumerate(strings):
        if string not in numbers:
            numbers[string] = len(numbers)
            firsts.append(at)
    return [numbers[string] for string in strings], firsts


@settings(max_examples=300, deadline=None)
@given(
    strings=st.lists(st.sampled_from(["urn:a", "urn:b", "urn:c", "", "urn:a "])), same=st.booleans()
)
def test_strings_are_numbered_in_order_of_first_appearance_even_when_their_hashes_collide(
    strings: list[str], same: bool
) -> None:
    given = [OneHash(s) for s in strings] if same else strings
    codes, firsts = numbered(np.array(given, dtype=object))
    assert (codes.tolist(), firsts.tolist()) == by_dict(strings)


def test_nothing_numbers_nothing() -> None:
    graph = dependencies_of(Edges.of([], [], [], [], []), ())
    assert len(graph.nodes) == 0
    assert graph.types == ()
    assert graph.sources.tolist() == graph.targets.tolist() == graph.kinds.tolist() == []


# what a property may hold, as the driver gives it
VALUES = st.lists(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=3)
    | st.lists(st.integers(), max_size=2),
    max_size=30,
)


def number_rule(value: object) -> float | None:
    """A what-if number: an int or a float, never a boolean (a bool is an int in Python)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def integer_rule(value: object) -> int | None:
    """A count: an int, or a whole float; never a boolean."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value if isinstance(value, int) else None


@settings(max_examples=300)
@given(VALUES)
def test_columns_of_numbers_follow_the_rule_value_by_value(values: list[object]) -> None:
    numbers, integers = _numbers_in(values), _integers_in(values)
    # repr: NaN is no NaN's equal, and 1 == 1.0 == True would hide a type
    assert repr(numbers) == repr([number_rule(v) for v in values])
    assert repr(numbers) == repr([_number(v) for v in values])
    assert repr(integers) == repr([integer_rule(v) for v in values])
