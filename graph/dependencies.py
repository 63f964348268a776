"""What the in-memory dependency snapshot is built from, read in bulk: the dependency
graph's nodes (with the assets' redundancy, capacity and reliability) and edges; and what a
what-if reads live: the assets' load points and the failures their telemetry reports.

:func:`read_dependencies` reads the graph in two statements: the nodes as columns (their
strings once each) and the edges as pairs of node numbers, grouped by type, so that a
million edges cost the driver integers rather than four strings each. :func:`read_edges`
reads the same pairs and their ends' IRIs and ids (each once), and gives the edges by their
ends (:class:`Edges`); :func:`read_assets` the assets as rows. Each returns its rows in
pages of :data:`READ_PAGE` (a row per edge would cost the driver more than Neo4j takes to
find them; one row of everything grew faster than the graph). Types must have been checked
against the ontology; they reach Cypher as a parameter only.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, LiteralString

import numpy as np
import pandas as pd

from kgtwin.graph.collector import collector_paused
from kgtwin.graph.engine_types import HAS_POINT_EDGE, LOAD_POINT_TYPES, POINT_TYPES
from kgtwin.graph.reader import Reader, Row
from kgtwin.graph.visibility import HIDDEN_MODELS, visible

logger = logging.getLogger(__name__)

# Each read collects its rows in Neo4j, then returns them in pages of this many (a record
# per page): one record of every edge as strings (11 million strings at a million assets)
# took 7.5 s to reach Python there against 0.26 s at 100k; in pages of 50,000, 1.0 s.
READ_PAGE = 50_000

# every edge of $types between twin nodes of the models readers see
_EDGES: LiteralString = (
    HIDDEN_MODELS
    + """
MATCH (a:Twin)-[r]->(b:Twin) WHERE type(r) IN $types AND """
    + visible("a")
    + "\n"
)


Ints = np.ndarray[tuple[int], np.dtype[np.int64]]
Strings = np.ndarray[tuple[int], np.dtype[np.object_]]


@dataclass(frozen=True, slots=True, eq=False)
class Edges:
    """Edges by their ends, as read: each end once (end ``k``'s IRI ``iris[k]`` and id
    ``ids[k]``), edge ``i`` from end ``sources[i]`` to end ``targets[i]``, of type
    ``names[kinds[i]]``. A million edges cost arrays of numbers, not four strings each."""

    iris: list[str]
    ids: list[str]
    sources: Ints
    targets: Ints
    kinds: Ints
    names: tuple[str, ...]

    @classmethod
    def of(
        cls,
        sources: Sequence[str],
        source_ids: Sequence[str],
        targets: Sequence[str],
        target_ids: Sequence[str],
        types: Sequence[str],
    ) -> Edges:
        """Edges given as rows of strings, each edge naming both its ends: edge ``i`` goes
        from ``sources[i]`` (id ``source_ids[i]``) to ``targets[i]``, of type ``types[i]``.
        The ends are numbered in the order the edges name them, sources first; an IRI
        named with two ids keeps the first."""
        e = len(sources)
        named = np.empty(2 * e, dtype=object)
        named[:e], named[e:] = sources, targets
        codes, firsts = numbered(named)
        ids = np.empty(2 * e, dtype=object)
        ids[:e], ids[e:] = source_ids, target_ids
        kinds, names = pd.factorize(np.array(types, dtype=object))
        return cls(
            named[firsts].tolist(),
            ids[firsts].tolist(),
            codes[:e],
            codes[e:],
            kinds.astype(np.int64, copy=False),
            tuple(names.tolist()),
        )

    def __len__(self) -> int:
        return len(self.sources)

    def named(self) -> Iterator[tuple[str, str, str]]:
        """Each edge as strings: its source's IRI, its target's IRI and its type."""
        iris = np.array(self.iris, dtype=object)
        types = np.array(self.names, dtype=object)
        return zip(
            iris[self.sources].tolist(),
            iris[self.targets].tolist(),
            types[self.kinds].tolist(),
            strict=True,
        )


def first_positions(codes: Ints) -> Ints:
    """Where each code first appears in ``codes``, numbered in order of first appearance
    (as ``pandas.factorize`` numbers): a position whose code exceeds every code before it."""
    seen = np.maximum.accumulate(codes)
    return np.flatnonzero(codes > np.concatenate(([-1], seen[:-1])))


def numbered(strings: Strings) -> tuple[Ints, Ints]:
    """Each string's number, in order of first appearance, and where each number first
    appears in ``strings``. The strings' own hashes (each string keeps its hash once made)
    are numbered as integers, then each string is checked against the first of its number:
    a hash table of integers misses the CPU's caches less than one of strings. Two
    different strings of one hash (possible, never seen) fall back to hashing the strings
    themselves (``pandas.factorize``). At a million assets (2 million IRIs, half of them
    distinct): 0.27 s against 0.43 s, and 0.022 s against 0.026 s at 100k."""
    hashes = np.fromiter(map(hash, strings), dtype=np.int64, count=len(strings))
    codes = pd.factorize(hashes)[0].astype(np.int64, copy=False)
    firsts = first_positions(codes)
    if not (strings == strings[firsts][codes]).all():
        codes = pd.factorize(strings, use_na_sentinel=False)[0].astype(np.int64, copy=False)
        firsts = first_positions(codes)
    return codes, firsts


# The ends of the edges of $types, each once: its Neo4j id, IRI and id. With the pairs of
# DEPENDENCY_PAIRS, the edges as strings without an end's strings once per edge: at a
# million assets, 11 million strings collected along the edges took Neo4j 5.9 s against
# 0.35 s at 100k.
EDGE_ENDS: LiteralString = (
    HIDDEN_MODELS
    + """
MATCH (a:Twin)
WHERE """
    + visible("a")
    + """ AND EXISTS { MATCH (a)-[r]-(:Twin) WHERE type(r) IN $types }
WITH collect(a) AS every
UNWIND range(0, size(every) - 1, $page) AS start
WITH every[start..start + $page] AS nodes
RETURN [n IN nodes | id(n)] AS keys, [n IN nodes | n.iri] AS iris, [n IN nodes | n.id] AS ids
"""
)


def read_edges(reader: Reader, types: Collection[str]) -> Edges:
    """Every edge of ``types`` between twin nodes, grouped by type: the ends' strings once
    each, then the edges as pairs of ends (two statements, pages of :data:`READ_PAGE`)."""
    names = tuple(sorted(types))
    ends = reader.plain_rows(
        EDGE_ENDS, "reading the dependency edges' ends", types=names, page=READ_PAGE
    )
    keys = [key for page in ends for key in page["keys"]]
    iris = [iri for page in ends for iri in page["iris"]]
    ids = [node_id for page in ends for node_id in page["ids"]]
    sources, targets, kinds = _read_pairs(reader, names, keys)
    return Edges(iris, ids, sources, targets, kinds, names)


# A page of nodes' IRIs, ids and what-if properties, as columns (collect() would drop the
# nulls of absent properties; a column of a node's property keeps them)
_ASSET_COLUMNS: LiteralString = """[n IN nodes | n.iri] AS iris, [n IN nodes | n.id] AS ids,
       [n IN nodes | n.redundancyPolicy] AS policies,
       [n IN nodes | n.requiredSuppliers] AS required,
       [n IN nodes | n.ratedCapacity] AS capacity, [n IN nodes | n.capacityUnit] AS units,
       [n IN nodes | n.designLoad] AS design, [n IN nodes | n.mtbfHours] AS mtbf,
       [n IN nodes | n.mttrHours] AS mttr
"""

# The assets grouped by labels, each group's columns a page of _ASSET_COLUMNS
ASSET_ATTRIBUTES: LiteralString = (
    HIDDEN_MODELS
    + """
MATCH (a:Twin:Asset) WHERE """
    + visible("a")
    + """
WITH labels(a) AS labels, collect(a) AS every
UNWIND range(0, size(every) - 1, $page) AS start
WITH labels, every[start..start + $page] AS nodes
RETURN labels, """
    + _ASSET_COLUMNS
)


@dataclass(frozen=True, slots=True)
class AssetRow:
    """What the what-if engine needs of one asset, as the model gives it (None: absent)."""

    iri: str
    id: str
    labels: frozenset[str]
    policy: str | None
    required_suppliers: int | None
    rated_capacity: float | None
    capacity_unit: str | None
    design_load: float | None
    mtbf_hours: float | None
    mttr_hours: float | None


def read_assets(reader: Reader) -> list[AssetRow]:
    """Every asset with its redundancy, capacity and reliability properties, in one
    statement (pages of :data:`READ_PAGE`), grouped by labels: assets of the same classes
    share one label set. The rows are built with the cyclic collector paused (they hold no
    cycles): its full collections re-scanned them, 2.0 of 5.4 s at a million assets."""
    groups = reader.plain_rows(
        ASSET_ATTRIBUTES, "reading the assets' what-if properties", page=READ_PAGE
    )
    assets: list[AssetRow] = []
    with collector_paused():
        for group in groups:
            labels = frozenset(group["labels"])
            assets.extend(
                AssetRow(iri, node_id, labels, policy, k, capacity, unit, design, mtbf, mttr)
                for iri, node_id, policy, k, capacity, unit, design, mtbf, mttr in zip(
                    group["iris"], group["ids"], *_what_if_columns(group), strict=True
                )
            )
    return assets


def _what_if_columns(group: Row) -> tuple[list[Any], ...]:
    """A page of :data:`_ASSET_COLUMNS`' what-if properties, as assets hold them, in
    :class:`AssetRow`'s order: policy, required suppliers (a count), rated capacity,
    capacity unit, design load, MTBF, MTTR (numbers)."""
    return (
        group["policies"],
        _integers_in(group["required"]),
        _numbers_in(group["capacity"]),
        group["units"],
        _numbers_in(group["design"]),
        _numbers_in(group["mtbf"]),
        _numbers_in(group["mttr"]),
    )


def _number(value: object) -> float | None:
    """A property's value as a float; None if it is no number (a boolean is none)."""
    return float(value) if type(value) is float or type(value) is int else None


def _numbers_in(values: Iterable[object]) -> list[float | None]:
    """:func:`_number` of each value, written out: a call per value costs five times as much
    (four columns of a million values each at a million assets)."""
    return [v if type(v) is float else float(v) if type(v) is int else None for v in values]


@dataclass(frozen=True, slots=True)
class NodeTable:
    """Nodes as parallel columns, node ``i`` in row ``i``: its IRI, id, labels (shared
    between nodes of the same classes; none for a node that is not an asset) and the
    asset's what-if properties as the model gives them (None: absent, or not an asset)."""

    iris: list[str]
    ids: list[str]
    labels: list[frozenset[str]]
    policies: list[str | None]
    required_suppliers: list[int | None]
    rated_capacity: list[float | None]
    capacity_unit: list[str | None]
    design_load: list[float | None]
    mtbf_hours: list[float | None]
    mttr_hours: list[float | None]

    def __len__(self) -> int:
        return len(self.iris)


@dataclass(frozen=True, slots=True)
class Dependencies:
    """The dependency graph by node number: edge ``e`` goes from node ``sources[e]`` to
    node ``targets[e]`` of ``nodes`` and has type ``types[kinds[e]]``."""

    nodes: NodeTable
    types: tuple[str, ...]
    sources: Ints
    targets: Ints
    kinds: Ints


def dependencies_of(
    edges: Edges, types: Collection[str], assets: Iterable[AssetRow] = ()
) -> Dependencies:
    """``edges`` (of ``types``) and ``assets`` by node number: the assets first, in their
    order, then the other ends of edges (e.g. systems) in the order of ``edges``' ends (an
    end no edge names is left out); an asset listed twice counts once, its first row.

    The IRIs are numbered by :func:`numbered` (hash tables in C) rather than by a dict
    filled by a Python call per IRI. Each end's IRI counts once, not once per edge that
    names it: at a million assets, 2.0 million strings rather than 5.4 million.
    """
    rows = list(assets)
    m = len(rows)
    used = np.zeros(len(edges.iris), dtype=bool)
    used[edges.sources] = True
    used[edges.targets] = True
    ends = np.flatnonzero(used)
    every = np.empty(m + len(ends), dtype=object)
    every[:m] = [row.iri for row in rows]
    every[m:] = edges.iris if len(ends) == len(used) else np.array(edges.iris, dtype=object)[ends]
    codes, firsts = numbered(every)
    asset_count = int(np.searchsorted(firsts, m))
    chosen = [rows[p] for p in firsts[:asset_count].tolist()]
    others = np.array(edges.ids, dtype=object)[ends[firsts[asset_count:] - m]].tolist()
    nothing = [None] * len(others)
    columns = NodeTable(
        iris=every[firsts].tolist(),
        ids=[row.id for row in chosen] + others,
        labels=[row.labels for row in chosen] + [NO_LABELS] * len(others),
        policies=[row.policy for row in chosen] + nothing,
        required_suppliers=[row.required_suppliers for row in chosen] + nothing,
        rated_capacity=[row.rated_capacity for row in chosen] + nothing,
        capacity_unit=[row.capacity_unit for row in chosen] + nothing,
        design_load=[row.design_load for row in chosen] + nothing,
        mtbf_hours=[row.mtbf_hours for row in chosen] + nothing,
        mttr_hours=[row.mttr_hours for row in chosen] + nothing,
    )
    number = np.zeros(len(edges.iris), dtype=np.int64)
    number[ends] = codes[m:]
    table = tuple(sorted(set(types).union(edges.names)))
    kind = np.array([table.index(name) for name in edges.names], dtype=np.int64)
    return Dependencies(
        columns, table, number[edges.sources], number[edges.targets], kind[edges.kinds]
    )


NO_LABELS: frozenset[str] = frozenset()

# The assets and every other end of a dependency edge, grouped by labels (each group's
# columns keep the nulls of absent properties, which collect() would drop); the edges as
# Neo4j's node ids, grouped by type. Two statements: an edge whose end a model load removed
# in between is left out, and the graph's new version rebuilds the snapshot anyway.
DEPENDENCY_NODES: LiteralString = (
    HIDDEN_MODELS
    + """
MATCH (a:Twin)
WHERE """
    + visible("a")
    + """ AND (a:Asset OR EXISTS { MATCH (a)-[r]-(:Twin) WHERE type(r) IN $types })
WITH CASE WHEN a:Asset THEN labels(a) ELSE [] END AS labels, collect(a) AS every
UNWIND range(0, size(every) - 1, $page) AS start
WITH labels, every[start..start + $page] AS nodes
RETURN labels, [n IN nodes | id(n)] AS keys, """
    + _ASSET_COLUMNS
)

DEPENDENCY_PAIRS: LiteralString = (
    _EDGES
    + """WITH type(r) AS type, collect(id(a)) AS sources, collect(id(b)) AS targets
UNWIND range(0, size(sources) - 1, $page) AS start
RETURN type, sources[start..start + $page] AS sources, targets[start..start + $page] AS targets
"""
)


def read_dependencies(reader: Reader, types: Collection[str]) -> Dependencies:
    """The dependency graph of ``types``: every asset and every other twin node at an end
    of an edge of ``types``, and those edges, in two statements."""
    names = tuple(sorted(types))
    groups = reader.plain_rows(
        DEPENDENCY_NODES, "reading the dependency graph's nodes", types=names, page=READ_PAGE
    )
    columns = NodeTable([], [], [], [], [], [], [], [], [], [])
    properties: tuple[list[Any], ...] = (  # in _what_if_columns' order
        columns.policies,
        columns.required_suppliers,
        columns.rated_capacity,
        columns.capacity_unit,
        columns.design_load,
        columns.mtbf_hours,
        columns.mttr_hours,
    )
    keys: list[int] = []
    for group in groups:
        count = len(group["keys"])
        keys.extend(group["keys"])
        columns.iris.extend(group["iris"])
        columns.ids.extend(group["ids"])
        labels = frozenset(group["labels"])
        columns.labels.extend([labels] * count)
        # the properties of a node that is no asset are not taken
        what_if = _what_if_columns(group) if labels else [[None] * count] * len(properties)
        for column, values in zip(properties, what_if, strict=True):
            column.extend(values)
    sources, targets, kinds = _read_pairs(reader, names, keys)
    return Dependencies(columns, names, sources, targets, kinds)


def _read_pairs(reader: Reader, names: tuple[str, ...], keys: list[int]) -> tuple[Ints, Ints, Ints]:
    """The edges of types ``names`` by node number: each end's position in ``keys`` (Neo4j
    ids), and each edge's type's position in ``names``. An edge with an end not in ``keys``
    is left out (a model load changed it after the ends were read)."""
    rows = reader.plain_rows(
        DEPENDENCY_PAIRS, "reading the dependency edges", types=names, page=READ_PAGE
    )
    # node number by Neo4j's id through a hash index: a binary search of the sorted ids
    # took 0.32 s of this read at a million assets against 0.019 s at 100k (17x for 10x
    # the ends: its probes miss the CPU's caches). With the columns written out, the work
    # here after the rows arrive is 0.04 s at 100k and 0.37 s at 1M (was 0.11 and 1.21 s).
    numbers = pd.Index(np.array(keys, dtype=np.int64))
    parts: list[tuple[Ints, Ints, Ints]] = []
    for row in rows:
        sources = numbers.get_indexer(np.array(row["sources"], dtype=np.int64))
        targets = numbers.get_indexer(np.array(row["targets"], dtype=np.int64))
        kept = (sources >= 0) & (targets >= 0)
        if not kept.all():
            logger.info("%d edges left out: an end changed while read", int((~kept).sum()))
        kind = np.full(int(kept.sum()), names.index(row["type"]), dtype=np.int64)
        parts.append((sources[kept], targets[kept], kind))
    return (
        _concatenate([p[0] for p in parts]),
        _concatenate([p[1] for p in parts]),
        _concatenate([p[2] for p in parts]),
    )


def _concatenate(parts: list[Ints]) -> Ints:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _integers_in(values: Iterable[object]) -> list[int | None]:
    """Each value as an int (a float only if whole); None if it is neither (a boolean is
    none). Written out for speed, as :func:`_numbers_in`."""
    return [
        v if type(v) is int else int(v) if type(v) is float and v.is_integer() else None
        for v in values
    ]


LOAD_POINTS: LiteralString = (
    LOAD_POINT_TYPES
    + """
MATCH (a:Twin:Asset)-[r]-(p:Twin)
WHERE (type(r) IN loadPointTypes AND startNode(r) = a)
   OR (type(r) IN loadPointOfTypes AND endNode(r) = a)
RETURN DISTINCT a.iri AS asset, p.id AS point, p.unit AS unit, p.value AS value,
       p.stale AS stale, p.iri AS point_iri, p.expectedInterval AS interval
"""
)


@dataclass(frozen=True, slots=True)
class LoadReading:
    """An asset's load point (``kgt:loadPoint``) and its live value, if any."""

    asset_iri: str
    point_id: str
    unit: str | None
    value: float | None  # None: never reported, or not a number
    stale: bool
    point_iri: str = ""
    expected_interval: float | None = None  # seconds


def read_load_points(reader: Reader) -> list[LoadReading]:
    """Every asset's load point with its current live value, in one statement."""
    rows = reader.rows(LOAD_POINTS, "reading the assets' load points")
    return [
        LoadReading(
            r["asset"],
            r["point"],
            r["unit"],
            _number(r["value"]),
            bool(r["stale"]),
            r["point_iri"],
            _number(r["interval"]),
        )
        for r in rows
    ]


LOAD_VALUES: LiteralString = """
UNWIND $iris AS iri
MATCH (p:Twin {iri: iri})
RETURN p.iri AS point_iri, p.unit AS unit, p.value AS value, p.stale AS stale
"""


def read_load_values(reader: Reader, points: Sequence[LoadReading]) -> list[LoadReading]:
    """``points`` (as :func:`read_load_points` found them) with their live values now, read
    by IRI (an index seek each, where finding them walks every asset); a point no longer
    there is left out."""
    if not points:
        return []
    rows = reader.rows(
        LOAD_VALUES, "reading the load points' values", iris=[p.point_iri for p in points]
    )
    now = {r["point_iri"]: r for r in rows}
    return [
        replace(p, unit=r["unit"], value=_number(r["value"]), stale=bool(r["stale"]))
        for p in points
        if (r := now.get(p.point_iri)) is not None
    ]


REPORTED_FAILURES: LiteralString = (
    POINT_TYPES
    + """
MATCH (p:Point:Twin) WHERE p.failedWhen IS NOT NULL AND p.value = p.failedWhen
  AND coalesce(p.stale, false) = false AND coalesce(p.quality, 'good') <> 'bad'
MATCH (a:Twin:Asset)-[r]-(p) WHERE"""
    + HAS_POINT_EDGE
    + """
WITH DISTINCT a, p
RETURN a.iri AS asset, a.id AS asset_id, p.id AS point, p.value AS value,
       p.observedAt.epochMillis AS observed
ORDER BY asset_id, point
"""
)


@dataclass(frozen=True, slots=True)
class ReportedFailure:
    """An asset whose status point reads its ``kgt:failedWhen`` value right now."""

    asset_iri: str
    asset_id: str
    point_id: str
    value: bool
    observed_at_ms: int | None


def read_reported_failures(reader: Reader) -> list[ReportedFailure]:
    """Every failure the live telemetry reports, in one statement: status points whose
    value equals their ``kgt:failedWhen``, unless stale or of quality ``bad`` (a point that
    went silent, or measured nothing, reports nothing)."""
    rows = reader.rows(REPORTED_FAILURES, "reading the failures the telemetry reports")
    return [
        ReportedFailure(r["asset"], r["asset_id"], r["point"], r["value"], r["observed"])
        for r in rows
    ]


STATUS_POINTS: LiteralString = (
    POINT_TYPES
    + """
MATCH (p:Point:Twin) WHERE p.failedWhen IS NOT NULL
MATCH (a:Twin:Asset)-[r]-(p) WHERE"""
    + HAS_POINT_EDGE
    + """
WITH DISTINCT a, p
RETURN a.iri AS asset, a.id AS asset_id, p.iri AS point_iri, p.id AS point,
       p.failedWhen AS failed_when, p.expectedInterval AS interval
ORDER BY asset_id, point
"""
)


@dataclass(frozen=True, slots=True)
class StatusPoint:
    """A point whose value ``failed_when`` means its asset failed (``kgt:failedWhen``)."""

    asset_iri: str
    asset_id: str
    point_iri: str
    point_id: str
    failed_when: bool
    expected_interval: float | None  # seconds


def read_status_points(reader: Reader) -> list[StatusPoint]:
    """Every status point and its asset, in one statement (what a past moment's reported
    failures are judged on, with the values history kept)."""
    rows = reader.rows(STATUS_POINTS, "reading the assets' status points")
    return [
        StatusPoint(
            r["asset"],
            r["asset_id"],
            r["point_iri"],
            r["point"],
            r["failed_when"] is True,
            _number(r["interval"]),
        )
        for r in rows
        if isinstance(r["failed_when"], bool)
    ]
