"""Idempotent sync of a mapped model into Neo4j.

The desired state (nodes and relationships of one model) is compared with what the graph
holds for that model; only the difference is written, in UNWIND batches, in one
transaction. So loading the same files twice writes nothing, a subject removed from the
files is removed from the graph, other models' nodes are never touched, and a load that
fails half-way leaves the graph as it was. Live-state properties written by ingestion (any
key not listed in a node's ``modelKeys``) survive a reload.

Loads of one model are serialized: the transaction first takes a write lock on the
model's ``(:Model {name})`` node (created then if need be), so a second load of the same
model waits for the first to commit and then reads what it wrote. Every relationship
between two nodes of the model is the model's: one the files do not name is removed, and
one present twice, or made by hand without the model's ``model`` property, is put back as
one (``rels_repaired``), so a load of unchanged files still repairs such a graph.

If the commit fails (the connection lost, or Neo4j answering "database unavailable" as it
stops: both seen to happen to commits that were saved), the sync reads the ``loadId`` it
wrote on the ``Model`` node, once Neo4j answers again within :data:`CONFIRM_SECONDS`, to
tell whether the load was saved; otherwise it raises ``CommitUnknown``. A failure before
the commit is retried for up to :data:`RETRY_SECONDS`, as the driver's managed
transactions would.

How it stays fast at a few hundred thousand nodes and relationships:

* The graph's side comes back aggregated: one row holding every node's IRI and element
  id, one row per relationship type; a record per node or relationship would make the
  driver's per-record cost dominate.
* Nodes are grouped by *shape* (label set and property keys), so a row is a plain list
  ``[key, value, ...]`` and the labels and keys travel once per batch.
* Whether a kept node changed is decided by Neo4j, in the same statement that updates it:
  the desired values are sent and compared there (value and type, as Python compares
  them), so a reload that changes nothing reads no properties back.
* Relationships are created between nodes found by the element ids this transaction read
  or created, with no index lookup per endpoint; lookups by IRI name the unique index
  (``USING INDEX``), so a plan cached while the graph was empty cannot fall back to a scan
  (it once did: a no-op reload of 28k nodes scanned the model index once per IRI).
* Batches are pipelined, so the client encodes one batch while Neo4j runs the previous.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, LiteralString

from neo4j import Driver, Result, Transaction

from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.errors import CommitUnknown, GraphError, ModelConflict
from kgtwin.graph.records import NodeRecord, PropertyGraph

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

IRI = "iri"
_ENDS = ("sources", "targets")  # a relationship batch: two parallel lists


@dataclass(frozen=True, slots=True)
class Scope:
    """Which kind of node a sync owns, with the statements for it (labels from code only)."""

    key_label: LiteralString
    read_nodes: LiteralString
    read_rels: LiteralString
    find_foreign: LiteralString
    create_nodes: LiteralString
    update_nodes: LiteralString
    delete_nodes: LiteralString
    create_rels: LiteralString
    delete_rels: LiteralString


def _scope(label: LiteralString) -> Scope:
    """The statements of a sync over nodes labelled ``label``.

    Parameters shared by the node statements: ``$labels`` (every label of the batch's
    nodes), ``$keys`` (their ``modelKeys``) and ``$columns`` (the keys whose values follow
    the node's IRI or element id in each row).
    """
    by_eid: LiteralString = "(n:" + label + ") WHERE elementId(n) = "
    pair: LiteralString = (
        "(a:" + label + " {iri: $sources[i]})-[x:$($type)]->(b:" + label + " {iri: $targets[i]})"
    )
    return Scope(
        key_label=label,
        read_nodes="MATCH (n:" + label + " {model: $model}) USING INDEX n:" + label + "(model) "
        "RETURN collect([n.iri, elementId(n)]) AS nodes",
        # Two collects over the same rows stay aligned as long as neither skips a null.
        # Every relationship out of a node of the model to another one (or marked as the
        # model's), with whether it is marked so: copies made by hand are not.
        read_rels="MATCH (a:" + label + " {model: $model})-[x]->(b:" + label + ") "
        "USING INDEX a:" + label + "(model) WHERE x.model = $model OR b.model = $model "
        "RETURN type(x) AS type, collect(coalesce(a.iri, '')) AS sources, "
        "collect(coalesce(b.iri, '')) AS targets, "
        "collect(coalesce(x.model = $model, false)) AS owned",
        find_foreign="UNWIND $iris AS iri MATCH (n:" + label + " {iri: iri}) "
        "USING INDEX n:" + label + "(iri) WHERE n.model <> $model "
        "RETURN n.iri AS iri, n.model AS model LIMIT 10",
        create_nodes="UNWIND $rows AS r CREATE (n:$($labels)) "
        "SET n.iri = r[0], n.model = $model, n.modelKeys = $keys "
        "FOREACH (i IN range(0, size($columns) - 1) | SET n[$columns[i]] = r[i + 1]) "
        "RETURN collect([r[0], elementId(n)]) AS created",
        # A row is [elementId, value, ...]; only a node that differs (a value, a value's
        # type, a label or the list of model keys) is written, and counted.
        update_nodes="UNWIND $rows AS r MATCH " + by_eid + "r[0] "
        "WITH n, r, labels(n) AS have, [k IN $columns | n[k]] AS values "
        "WHERE NOT coalesce(n.modelKeys = $keys "
        "AND size(have) = size($labels) AND all(l IN have WHERE l IN $labels) "
        "AND values = r[1..] AND [v IN values | valueType(v)] = [v IN r[1..] | valueType(v)], "
        "false) "
        "FOREACH (k IN [k IN coalesce(n.modelKeys, []) WHERE NOT k IN $keys] | SET n[k] = null) "
        "REMOVE n:$([l IN have WHERE NOT l IN $labels]) "
        "SET n:$($labels), n.modelKeys = $keys "
        "FOREACH (i IN range(0, size($columns) - 1) | SET n[$columns[i]] = r[i + 1]) "
        "RETURN count(n) AS updated",
        delete_nodes="UNWIND $rows AS r MATCH " + by_eid + "r DETACH DELETE n",
        # Relationship batches travel as two parallel lists, $sources and $targets.
        create_rels="UNWIND range(0, size($sources) - 1) AS i "
        "MATCH (a:" + label + ") WHERE elementId(a) = $sources[i] "
        "MATCH (b:" + label + ") WHERE elementId(b) = $targets[i] "
        "CREATE (a)-[:$($type) {model: $model}]->(b)",
        delete_rels="UNWIND range(0, size($sources) - 1) AS i MATCH " + pair + " "
        "USING INDEX a:" + label + "(iri) USING INDEX b:" + label + "(iri) "
        "WHERE x.model = $model OR b.model = $model DELETE x",
    )


TWINS = _scope("Twin")
ONTOLOGY = _scope("OntologyTerm")

# A write lock on the model's node, held until the transaction ends: setting and removing
# a property changes nothing, and a second load of the model waits here.
LOCK_MODEL: LiteralString = "MERGE (m:Model {name: $name}) SET m.locked = true REMOVE m.locked"
READ_MODEL: LiteralString = "MATCH (m:Model {name: $name}) RETURN m.digest AS digest"
WRITE_MODEL: LiteralString = """
MERGE (m:Model {name: $name})
SET m.digest = $digest, m.files = $files, m.loadedAt = datetime($loadedAt),
    m.nodes = $nodes, m.relationships = $relationships, m.loadId = $loadId
"""
READ_LOAD_ID: LiteralString = "MATCH (m:Model {name: $name}) RETURN m.loadId AS loadId"

WAIT_NOTICE = 2.0  # seconds a load waits for the model's lock before it says it waits
CONFIRM_SECONDS = 10.0  # seconds to wait for Neo4j to tell whether a lost commit was saved
RETRY_SECONDS = 30.0  # a load failing before its commit (Neo4j away, a deadlock) is tried again


@dataclass(frozen=True, slots=True)
class SyncSummary:
    model: str
    nodes_created: int
    nodes_updated: int
    nodes_removed: int
    nodes_unchanged: int
    rels_created: int
    rels_removed: int
    rels_unchanged: int
    seconds: float
    rels_repaired: int = 0  # present twice, or made by hand: now once, the model's

    @property
    def changed(self) -> bool:
        return any(
            (
                self.nodes_created,
                self.nodes_updated,
                self.nodes_removed,
                self.rels_created,
                self.rels_removed,
                self.rels_repaired,
            )
        )


Rel = tuple[str, str, str]  # (source IRI, type, target IRI)
Group = tuple[dict[str, Any], list[Any]]  # (statement parameters shared by a batch, rows)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the nodes of one group share: their labels and their model keys."""

    labels: tuple[str, ...]
    keys: tuple[str, ...]

    def params(self) -> dict[str, list[str]]:
        return {"labels": list(self.labels), "keys": list(self.keys), "columns": self.columns}

    @property
    def columns(self) -> list[str]:
        """The keys whose values a row carries (the IRI is the row's key, or is known)."""
        return [k for k in self.keys if k != IRI]

    @property
    def values(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """Picks a node's values of :attr:`columns`, in order."""
        columns = self.columns
        if len(columns) > 1:
            return itemgetter(*columns)
        return lambda props: tuple(props[k] for k in columns)


def sync_model(
    driver: Driver,
    model: str,
    desired: PropertyGraph,
    *,
    scope: Scope = TWINS,
    digest: str = "",
    files: Sequence[str] = (),
    database: str | None = None,
    progress: Progress | None = None,
    batch_size: int = 10_000,
    waiting: Callable[[], None] | None = None,
) -> SyncSummary:
    """Make the graph hold exactly ``desired`` for ``model``; returns what changed.

    Needs the schema of :func:`graph.schema.ensure_schema`: the statements name its indexes.
    ``waiting`` is called when another load of the model has kept this one waiting for
    :data:`WAIT_NOTICE` seconds. Raises ``CommitUnknown`` if whether the load was saved
    cannot be told (module docstring).
    """
    started = time.perf_counter()
    shapes = _shapes(desired.nodes.values(), scope.key_label)
    wanted_rels = _wanted_rels(desired)
    load_id = uuid.uuid4().hex

    def work(tx: Transaction) -> tuple[SyncSummary, bool]:
        """What the sync writes, and whether it writes anything at all."""
        _lock(tx, model, waiting)
        batches = _Batches(tx, model, batch_size, progress)
        if progress is not None:
            progress("reading the graph", 0, 0)
        (current,) = tx.run(scope.read_nodes, model=model).single(strict=True)
        eids: dict[str, str] = {}  # element id of every node of the model, by IRI
        stale_nodes: list[str] = []
        for iri, eid in current:
            if iri in desired.nodes:
                eids[iri] = eid
            else:
                stale_nodes.append(eid)
        have_rels, broken = _read_rels(tx, scope, model)
        new = [iri for iri in desired.nodes if iri not in eids]
        if new:
            _refuse_foreign(tx, scope, model, new)
        stale_rels = have_rels - wanted_rels
        repaired = broken & wanted_rels  # deleted, every copy, and made again once
        new_rels = wanted_rels - have_rels

        batches.run(
            "removing relationships",
            scope.delete_rels,
            _rel_groups(stale_rels | repaired, str),
            _ENDS,
        )
        batches.run("removing nodes", scope.delete_nodes, [({}, stale_nodes)])
        kept: list[Group] = []  # rows [element id, value, ...]
        created: list[Group] = []  # rows [IRI, value, ...]
        for shape, nodes in shapes.items():
            values, params = shape.values, shape.params()
            kept.append((params, [[eids[n.iri], *values(n.props)] for n in nodes if n.iri in eids]))
            created.append(
                (params, [[n.iri, *values(n.props)] for n in nodes if n.iri not in eids])
            )
        updated = sum(batches.run("checking nodes", scope.update_nodes, kept))
        for pairs in batches.run("creating nodes", scope.create_nodes, created):
            eids.update(pairs)
        batches.run(
            "creating relationships",
            scope.create_rels,
            _rel_groups(new_rels | repaired, eids.get),
            _ENDS,
        )

        summary = SyncSummary(
            model=model,
            nodes_created=len(new),
            nodes_updated=updated,
            nodes_removed=len(stale_nodes),
            nodes_unchanged=len(desired.nodes) - len(new) - updated,
            rels_created=len(new_rels),
            rels_removed=len(stale_rels),
            rels_unchanged=len(wanted_rels) - len(new_rels) - len(repaired),
            seconds=0.0,
            rels_repaired=len(repaired),
        )
        previous = tx.run(READ_MODEL, name=model).single()
        writes = summary.changed or previous is None or previous["digest"] != digest
        if writes:
            tx.run(
                WRITE_MODEL,
                name=model,
                digest=digest,
                files=list(files),
                loadedAt=datetime.now(UTC).isoformat(),
                nodes=len(desired.nodes),
                relationships=len(desired.rels),
                loadId=load_id,
            ).consume()
            if progress is not None:
                progress("committing", 0, 0)
        return summary, writes

    action = f"loading model {model!r}"
    delay, deadline = 1.0, time.monotonic() + RETRY_SECONDS
    while True:
        try:
            summary = _run_once(driver, database, action, work, model, load_id)
        except GraphError as exc:
            # retried only when it failed before the commit (nothing saved); a commit whose
            # outcome is unknown is never taken for one that failed
            unknown = isinstance(exc, CommitUnknown)
            if unknown or not exc.retryable or time.monotonic() + delay > deadline:
                raise
            logger.warning("%s failed, trying again in %.0f s: %s", action, delay, exc)
            time.sleep(delay)
            delay *= 2
            continue
        return replace(summary, seconds=time.perf_counter() - started)


def _run_once(
    driver: Driver,
    database: str | None,
    action: str,
    work: Callable[[Transaction], tuple[SyncSummary, bool]],
    model: str,
    load_id: str,
) -> SyncSummary:
    """One transaction of ``work``, committed. Explicit rather than the driver's managed
    transactions, which retry a failed commit as if nothing had been saved: a commit that
    fails (the connection lost, or Neo4j answering "unavailable" as it stops) may well
    have been saved, so it is told by reading the model's ``loadId`` back instead."""
    done: list[tuple[SyncSummary, bool]] = []
    try:
        with (
            neo4j_errors(action),
            driver.session(database=database) as session,
            session.begin_transaction() as tx,
        ):
            done.append(work(tx))
            tx.commit()
    except GraphError as exc:
        if not done:
            raise  # failed before the commit: rolled back
        summary, writes = done[0]
        if not writes:  # the graph held the model already, whatever became of the commit
            return summary
        logger.warning("%s: the commit failed (%s); reading whether it was saved", action, exc)
        if not _saved(driver, model, load_id, database, action):
            raise GraphError(
                f"{action}: the commit failed ({exc}), and the model was not saved; load it again"
            ) from exc
        return summary
    return done[0][0]


def _lock(tx: Transaction, model: str, waiting: Callable[[], None] | None) -> None:
    """Take the model's lock, calling ``waiting`` if another load keeps it a while."""
    notice = threading.Timer(WAIT_NOTICE, waiting) if waiting is not None else None
    if notice is not None:
        notice.start()
    try:
        tx.run(LOCK_MODEL, name=model).consume()
    finally:
        if notice is not None:
            notice.cancel()


def _read_rels(tx: Transaction, scope: Scope, model: str) -> tuple[set[Rel], set[Rel]]:
    """The model's relationships, and those of them present more than once or not marked
    as the model's (made by hand)."""
    have: set[Rel] = set()
    broken: set[Rel] = set()
    for record in tx.run(scope.read_rels, model=model):
        sources, targets, owned = record["sources"], record["targets"], record["owned"]
        rels = list(zip(sources, repeat(record["type"], len(sources)), targets, strict=True))
        before = len(have)
        have.update(rels)
        if len(have) - before == len(rels) and all(owned):
            continue  # the usual case, decided without a loop in Python
        seen: set[Rel] = set()
        for rel, mine in zip(rels, owned, strict=True):
            if rel in seen or not mine:
                broken.add(rel)
            seen.add(rel)
    return have, broken


def _saved(driver: Driver, model: str, load_id: str, database: str | None, action: str) -> bool:
    """Whether the load ``load_id`` of ``model`` was saved, once Neo4j answers; raises
    ``CommitUnknown`` (and nothing else) if it cannot be read within
    :data:`CONFIRM_SECONDS`."""
    deadline = time.monotonic() + CONFIRM_SECONDS
    while True:
        try:
            with neo4j_errors(action), driver.session(database=database) as session:
                record = session.run(READ_LOAD_ID, name=model).single()
            return record is not None and record["loadId"] == load_id
        except GraphError as exc:  # unreachable, stopping, starting: it cannot tell yet
            if time.monotonic() >= deadline:
                raise CommitUnknown(
                    f"{action}: the commit failed and Neo4j has not answered since "
                    f"({CONFIRM_SECONDS:g} s; last: {exc}): whether model {model!r} was saved "
                    "is unknown. Once Neo4j is back, load it again: a load that finds it "
                    "saved changes nothing"
                ) from exc
            time.sleep(1.0)


class _Batches:
    """Runs a statement over groups of rows, ``batch_size`` rows at a time, in one transaction.

    Batches are pipelined: the next batch is packed and sent while Neo4j still runs the
    previous one (the driver keeps several results open in a transaction), so the client's
    encoding and the server's work overlap.
    """

    def __init__(
        self, tx: Transaction, model: str, batch_size: int, progress: Progress | None
    ) -> None:
        self.tx = tx
        self.model = model
        self.batch_size = batch_size
        self.progress = progress

    def run(
        self,
        phase: str,
        statement: LiteralString,
        groups: list[Group],
        columns: tuple[str, ...] = (),
    ) -> list[Any]:
        """The single value each batch returned (statements that return nothing: none).

        A batch is sent as ``$rows``, or, given ``columns``, as one list per column.
        """
        total = sum(len(rows) for _, rows in groups)
        done = 0
        values: list[Any] = []
        pending: tuple[int, Result] | None = None

        def finish(size: int, result: Result) -> None:
            nonlocal done
            record = result.single()
            if record is not None:
                values.append(record[0])
            done += size
            if self.progress is not None:
                self.progress(phase, done, total)

        for params, rows in groups:
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                data: dict[str, Any]
                if columns:
                    data = dict(zip(columns, map(list, zip(*batch, strict=True)), strict=True))
                else:
                    data = {"rows": batch}
                result = self.tx.run(statement, model=self.model, **params, **data)
                if pending is not None:
                    finish(*pending)
                pending = (len(batch), result)
        if pending is not None:
            finish(*pending)
        return values


def _shapes(nodes: Iterable[NodeRecord], key_label: str) -> dict[_Shape, list[NodeRecord]]:
    """Nodes grouped by label set and model keys; every node carries the scope's label and
    its IRI (the key everything is found by)."""
    groups: dict[_Shape, list[NodeRecord]] = defaultdict(list)
    known: dict[tuple[tuple[str, ...], tuple[str, ...]], _Shape] = {}
    for node in nodes:
        raw = (node.labels, tuple(node.props))
        shape = known.get(raw)
        if shape is None:
            labels = tuple(sorted({*node.labels, key_label}))
            shape = known[raw] = _Shape(labels, tuple(sorted({*node.props, IRI})))
        groups[shape].append(node)
    return groups


def _wanted_rels(desired: PropertyGraph) -> set[Rel]:
    wanted: set[Rel] = set(map(attrgetter("source", "type", "target"), desired.rels))
    ends = {source for source, _, _ in wanted} | {target for _, _, target in wanted}
    missing = ends.difference(desired.nodes)
    if missing:
        raise ValueError(
            f"{len(missing)} relationship end(s) are not nodes of the model, e.g. "
            f"{sorted(missing)[0]}; every relationship must link two nodes of the model"
        )
    return wanted


def _rel_groups(rels: set[Rel], end: Callable[[str], str | None]) -> list[Group]:
    """Relationships grouped by type, each a row ``(end(source), end(target))``."""
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source, kind, target in rels:
        pairs[kind].append((source, target))
    return [
        ({"type": kind}, [(end(source), end(target)) for source, target in rows])
        for kind, rows in pairs.items()
    ]


def _refuse_foreign(tx: Transaction, scope: Scope, model: str, iris: list[str]) -> None:
    foreign = tx.run(scope.find_foreign, iris=iris, model=model).data()
    if foreign:
        owned = ", ".join(f"{f['iri']} (model {f['model']!r})" for f in foreign)
        raise ModelConflict(
            f"model {model!r} names subjects that already belong to another model: {owned}. "
            "Remove them from one of the models, or load both as one model."
        )
