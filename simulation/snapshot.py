"""The dependency graph in memory: who supplies whom, by integer index, and what each
asset needs of its suppliers.

Built from Neo4j's dependency graph (:func:`graph.dependencies.read_dependencies`) by
:func:`snapshot_of`, a pure function; rebuilt only when the graph's models change, never
per request. Every edge is stored supplier to consumer: a ``dependsOn``-like type
(consumer to supplier in Neo4j) is turned round, so ``consumers[s]`` are the nodes that
depend on ``s`` (downstream) and ``suppliers[c]`` those ``c`` depends on (upstream).

Redundancy (the ontology's ``kgt:redundancyPolicy``) is resolved against the number of
suppliers into ``required[i]``, the fewest working suppliers node ``i`` needs: ``all``
(the default) needs every one, ``any`` one, ``k-of-n`` k (capped at the number it has).
A node without suppliers needs none.

Storage is flat arrays (:mod:`simulation.arrays`), not objects per node: per edge 9 bytes
(4 in each direction's :class:`Ragged`, 1 for its types), per node about 60 bytes of
arrays (offsets 16, rank, required and slack 12, four measures 32, codes) and 24 of
lookup, plus its IRI and id strings (about 100 and 60 bytes for a typical IRI and id,
and 16 for the lists' pointers): some 260 bytes a node, 290 MB for a million nodes and
three million edges. Absent measures are NaN (:func:`measured` reads them as None).
"""

from __future__ import annotations

import logging
import math
import operator
import sys
from array import array
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from kgtwin.graph.dependencies import AssetRow, Dependencies, Edges, NodeTable, dependencies_of
from kgtwin.graph.topology import DEFAULT_NODE_BUDGET, Reach, Reached
from kgtwin.simulation.arrays import AMBIGUOUS, Coded, Lookup, Ragged, distinct, int_array, view

logger = logging.getLogger(__name__)

__all__ = ["AMBIGUOUS", "Policy", "Snapshot", "build_snapshot", "snapshot_of"]


class Policy(Enum):
    """An asset's redundancy policy, as the ontology spells it."""

    ALL = "all"
    ANY = "any"
    K_OF_N = "k-of-n"


POLICIES = tuple(Policy)  # Snapshot.policies' codes
Ints = npt.NDArray[np.int64]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The dependency graph at one graph version, with each node's redundancy, capacity
    and reliability (NaN where the model does not give them)."""

    version: str  # graph.versions.graph_version when it was read
    types: tuple[str, ...]  # the relationship types it holds
    iris: tuple[str, ...]  # node i's IRI
    ids: tuple[str, ...]  # node i's id
    index: Lookup  # IRI -> i
    by_id: Lookup  # id -> i; AMBIGUOUS when several models use the id
    consumers: Ragged  # i -> the nodes that depend on i
    suppliers: Ragged  # i -> the nodes i depends on
    kinds: tuple[frozenset[str], ...]  # the sets of relationship types edges carry
    # i -> for each of suppliers[i], the kind (set of types) it supplies i over
    supplied_over: Ragged
    serves_over: array[int]  # i -> the kind it supplies its consumers over
    rank: array[int]  # i -> its place in the order of (id, iri)
    labels: Coded[frozenset[str]]  # i -> its class labels (those of every superclass)
    policies: Coded[Policy]
    required: array[int]  # i -> the fewest working suppliers it needs
    slack: array[int]  # i -> how many suppliers it can lose and stay up
    capacity: array[float]  # rated capacity, in capacity_unit
    capacity_unit: Coded[str | None]  # QUDT unit local name, e.g. "KiloW"
    design_load: array[float]  # in capacity_unit
    mtbf_hours: array[float]
    mttr_hours: array[float]

    def __len__(self) -> int:
        return len(self.iris)

    def with_label(self, name: str) -> list[int]:
        """The nodes labelled ``name`` (of that class or a subclass), in rank order."""
        table = self.labels.table
        codes = [code for code, labels in enumerate(table) if name in labels]
        found = np.flatnonzero(np.isin(view(self.labels.codes), codes))
        return sorted(found.tolist(), key=self.rank.__getitem__)

    def nbytes(self) -> int:
        """What the snapshot holds, in bytes: its arrays, tables and strings."""
        strings = sum(map(sys.getsizeof, self.iris)) + sum(map(sys.getsizeof, self.ids))
        arrays = (
            self.consumers.nbytes()
            + self.suppliers.nbytes()
            + len(self.supplied_over.values) * self.supplied_over.values.itemsize
            + self.labels.nbytes()
            + self.policies.nbytes()
            + self.capacity_unit.nbytes()
            + self.index.nbytes()
            + self.by_id.nbytes()
        )
        flat = (
            self.serves_over,
            self.rank,
            self.required,
            self.slack,
            self.capacity,
            self.design_load,
            self.mtbf_hours,
            self.mttr_hours,
        )
        return (
            strings
            + sys.getsizeof(self.iris)
            + sys.getsizeof(self.ids)
            + arrays
            + sum(len(a) * a.itemsize for a in flat)
        )

    def reach(
        self,
        start: str,
        max_depth: int,
        *,
        downstream: bool,
        node_budget: int = DEFAULT_NODE_BUDGET,
        first: int | None = None,
    ) -> Reach:
        """What :func:`graph.topology.breadth_first` answers over this snapshot (the same
        depths, paths, order and truncation), computed on integer indices: a walk over
        16k nodes takes milliseconds. ``start`` is an IRI; a node outside the dependency
        graph reaches nothing."""
        origin = self.index.get(start)
        if origin is None:
            return Reach((), 0, False)
        neighbours = self.consumers if downstream else self.suppliers
        offsets, targets = neighbours.offsets, neighbours.values
        rank = self.rank
        parent: dict[int, int] = {}
        depth = {origin: 0}
        reached: list[int] = []
        frontier = [origin]
        truncated = False
        for level in range(1, max_depth + 1):
            if not frontier:
                break
            # node -> its parent; the frontier is in rank order, so the first parent found
            # is the one of smallest id, as breadth_first picks it
            found: dict[int, int] = {}
            for u in frontier:
                for v in targets[offsets[u] : offsets[u + 1]]:
                    if v not in depth and v not in found:
                        found[v] = u
            fresh = sorted(found, key=rank.__getitem__)
            room = max(node_budget - len(reached), 0)
            if len(fresh) > room:
                fresh, truncated = fresh[:room], True
            for v in fresh:
                parent[v], depth[v] = found[v], level
            reached.extend(fresh)
            frontier = fresh
            if truncated:
                break
        shown = reached if first is None else reached[:first]
        return Reach(
            tuple(self._reached(v, depth[v], parent) for v in shown), len(reached), truncated
        )

    def _reached(self, node: int, depth: int, parent: Mapping[int, int]) -> Reached:
        path = [self.ids[node]]
        at = node
        while at in parent:
            at = parent[at]
            path.append(self.ids[at])
        return Reached(self.iris[node], self.ids[node], depth, tuple(reversed(path)))


def measured(value: float) -> float | None:
    """A measure of the snapshot as the model gives it: None for absent (NaN)."""
    return None if math.isnan(value) else value


def build_snapshot(
    edges: Edges,
    types: Collection[str],
    reversed_types: Collection[str],
    version: str,
    assets: Sequence[AssetRow] = (),
) -> Snapshot:
    """The snapshot of ``edges`` (of ``types``) and of ``assets`` (those without any
    dependency are nodes too, so that they can be failed and found by class), numbered as
    :func:`graph.dependencies.dependencies_of` numbers them; see :func:`snapshot_of`."""
    return snapshot_of(dependencies_of(edges, types, assets), types, reversed_types, version)


def snapshot_of(
    graph: Dependencies, types: Collection[str], reversed_types: Collection[str], version: str
) -> Snapshot:
    """The snapshot of ``graph``, whose edges of ``reversed_types`` point from consumer to
    supplier. Parallel edges (two types between the same pair) count once. A node that is
    no asset (e.g. a system) has no labels and the default policy."""
    nodes = graph.nodes
    iris, ids = tuple(nodes.iris), tuple(nodes.ids)
    n, width = len(nodes), max(len(graph.types), 1)
    flip = np.array([name in reversed_types for name in graph.types], dtype=bool)[graph.kinds]
    supplier = np.where(flip, graph.targets, graph.sources)
    consumer = np.where(flip, graph.sources, graph.targets)
    # each (supplier, consumer, type) once, in that order
    pair, kind = np.divmod(distinct((supplier * n + consumer) * width + graph.kinds), width)
    starts = _starts(pair)
    sup, con = np.divmod(pair[starts], n)
    kinds: dict[frozenset[str], int] = {}
    pair_kind = _kind_codes(starts, kind, graph.types, kinds)
    served, served_kind = np.divmod(distinct(pair // n * width + kind), width)
    serving = _starts(served)
    serves = np.full(n, _code(kinds, frozenset()), dtype=np.int64)
    serves[served[serving]] = _kind_codes(serving, served_kind, graph.types, kinds)
    upward = np.argsort(con, kind="stable")  # suppliers in order of their index
    consumers = Ragged(_offsets(sup, n), int_array(con))
    suppliers = Ragged(_offsets(con, n), int_array(sup[upward]))
    table = tuple(kinds)
    policy_codes = _policies(nodes)
    count = suppliers.sizes()
    required = _required(policy_codes, count, nodes.required_suppliers)
    return Snapshot(
        version=version,
        types=tuple(sorted(types)),
        iris=iris,
        ids=ids,
        index=Lookup(iris),
        by_id=Lookup(ids),
        consumers=consumers,
        suppliers=suppliers,
        kinds=table,
        supplied_over=Ragged(suppliers.offsets, _small(pair_kind[upward], len(table))),
        serves_over=_small(serves, len(table)),
        rank=int_array(_rank(ids, iris)),
        labels=_coded(nodes.labels),
        policies=Coded(_small(policy_codes, len(POLICIES)), POLICIES),
        required=int_array(required),
        slack=int_array(count - required),
        capacity=_measures(nodes.rated_capacity),
        capacity_unit=_coded(nodes.capacity_unit),
        design_load=_measures(nodes.design_load),
        mtbf_hours=_measures(nodes.mtbf_hours),
        mttr_hours=_measures(nodes.mttr_hours),
    )


def required_suppliers(policy: Policy, suppliers: int, k: int | None) -> int:
    """How many of its ``suppliers`` a node with ``policy`` needs working."""
    if policy is Policy.ANY:
        return min(1, suppliers)
    if policy is Policy.K_OF_N and k is not None:
        return max(0, min(k, suppliers))
    return suppliers  # all, and a k-of-n without k (SHACL refuses it): the safe reading


def _starts(sorted_keys: Ints) -> Ints:
    """Where each run of equal keys starts."""
    if not len(sorted_keys):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _offsets(rows: Ints, n: int) -> array[int]:
    """The offsets of rows holding the values of ``rows`` (sorted) in order."""
    return int_array(np.r_[0, np.cumsum(np.bincount(rows, minlength=n))], "q")


def _code(table: dict[frozenset[str], int], kind: frozenset[str]) -> int:
    return table.setdefault(kind, len(table))


def _kind_codes(
    starts: Ints, kind: Ints, names: Sequence[str], table: dict[frozenset[str], int]
) -> Ints:
    """The code in ``table`` of each run's set of types (runs of ``kind`` from ``starts``):
    one type in the run, the usual case, without a loop."""
    sizes = np.diff(np.r_[starts, len(kind)])
    single = np.full(len(names), -1, dtype=np.int64)
    for t in distinct(kind[starts[sizes == 1]]).tolist():
        single[t] = _code(table, frozenset((names[t],)))
    codes = single[kind[starts]] if len(starts) else np.zeros(0, dtype=np.int64)
    for run in np.flatnonzero(sizes > 1).tolist():
        first = int(starts[run])
        members = kind[first : first + int(sizes[run])].tolist()
        codes[run] = _code(table, frozenset(names[t] for t in members))
    return codes


def _rank(ids: Sequence[str], iris: Sequence[str]) -> Ints:
    """Each node's place in the order of (id, iri)."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    ordered = [ids[i] for i in order]
    ties = [at for at, same in enumerate(map(operator.eq, ordered[1:], ordered[:-1])) if same]
    while ties:  # runs of equal ids (rare): by IRI
        first = last = ties.pop()
        while ties and ties[-1] == first - 1:
            first = ties.pop()
        order[first : last + 2] = sorted(order[first : last + 2], key=iris.__getitem__)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.array(order, dtype=np.int64)] = np.arange(len(ids))
    return rank


def _policies(nodes: NodeTable) -> Ints:
    """Each node's policy, as its place in :data:`POLICIES` (none given: ``all``)."""
    codes = {policy.value: code for code, policy in enumerate(POLICIES)}
    found = np.zeros(len(nodes), dtype=np.int64)
    for node, policy in enumerate(nodes.policies):
        if policy is None:
            continue
        code = codes.get(policy)
        if code is None:
            # the shapes only allow the three; a graph written by other means may hold others
            logger.warning(
                "asset %s has unknown redundancy policy %r: read as 'all'", nodes.ids[node], policy
            )
            code = 0
        found[node] = code
    return found


def _required(policy: Ints, count: Ints, given_k: Sequence[int | None]) -> Ints:
    """:func:`required_suppliers` of every node at once."""
    has_k = np.fromiter((k is not None for k in given_k), dtype=bool, count=len(given_k))
    k = np.fromiter(
        (0 if k is None else max(-1, min(k, 1 << 31)) for k in given_k),
        dtype=np.int64,
        count=len(given_k),
    )
    required = count.copy()
    any_one = policy == POLICIES.index(Policy.ANY)
    required[any_one] = np.minimum(1, count[any_one])
    k_of_n = (policy == POLICIES.index(Policy.K_OF_N)) & has_k
    required[k_of_n] = np.maximum(0, np.minimum(k[k_of_n], count[k_of_n]))
    return required


def _coded(values: Sequence[T]) -> Coded[T]:
    table: dict[T, int] = {}
    codes = [table.setdefault(value, len(table)) for value in values]
    return Coded(_small(np.array(codes, dtype=np.int64), len(table)), tuple(table))


def _small(codes: Ints, size: int) -> array[int]:
    """``codes`` (below ``size``) in the narrowest array that holds them."""
    return int_array(codes, "b" if size <= 1 << 7 else "h" if size <= 1 << 15 else "i")


def _measures(values: Sequence[float | None]) -> array[float]:
    return array("d", [math.nan if value is None else value for value in values])
