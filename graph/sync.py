"""Idempotent sync of a mapped model into Neo4j, in transactions of bounded size.

The desired state (nodes and relationships of one model) is compared with what the graph
holds for that model; only the difference is written, in UNWIND batches. So loading the
same files twice writes nothing, a subject removed from the files is removed from the
graph, other models' nodes are never touched, and live-state properties written by
ingestion (any key not listed in a node's ``modelKeys``) survive a reload. Every
relationship between two nodes of the model is the model's: one the files do not name is
removed, and one present twice, or made by hand without the model's ``model`` property, is
put back as one (``rels_repaired``), so a load of unchanged files still repairs such a
graph.

Size. Neo4j keeps a transaction's changes in memory until it commits, so a load commits
at most ``transaction_rows`` written rows per transaction (and reads in pages,
:mod:`graph.sync_statements`): its memory in Neo4j is bounded by that, whatever the size
of the model.

What readers see. A load whose writes fit in one transaction (a first load of a small
model, and most reloads: only the difference is written) commits once, so readers see the
previous version of the model until the commit and the new one after. A larger load first
marks the model as loading (``(:Model).loading``, one small transaction) and clears the
mark in the transaction of its last batch: while it is set, readers skip the model
(:mod:`graph.visibility`), and the server's dependency snapshot and the ingestion's topic
map keep the version they were built at (the model's digest changes only in that last
transaction). A load that dies midway (killed, Neo4j stopped) leaves the mark, so the
half-written model stays hidden until a load of the model completes: it reads what the
graph holds, so it writes exactly what is missing.

One load of a model at a time: :class:`graph.model_lease.ModelLease`, held across the
load's transactions; a second load waits, and takes over from one whose process is gone.

If the last commit fails (the connection lost, or Neo4j answering "database unavailable"
as it stops: both seen to happen to commits that were saved), the sync reads the
``loadId`` it wrote on the ``Model`` node, once Neo4j answers again within
:data:`CONFIRM_SECONDS`, to tell whether the load was saved; otherwise it raises
``CommitUnknown``. Any other failure is retried for up to :data:`RETRY_SECONDS`: a retry
reads the graph again and writes what is still missing.

How it stays fast at a million nodes:

* Reads come back aggregated, a page per row; a record per node or relationship would make
  the driver's per-record cost dominate.
* Nodes are grouped by *shape* (label set and property keys), so a row is a plain list
  ``[key, value, ...]`` and the labels and keys travel once per batch.
* Whether a kept node changed is decided by Neo4j (:mod:`graph.sync_statements`), so a
  reload that changes nothing reads no properties back.
* Relationships are created between nodes found by the element ids the load read or
  created, with no index lookup per endpoint; lookups by IRI name the unique index
  (``USING INDEX``), so a plan cached while the graph was empty cannot fall back to a scan
  (it once did: a no-op reload of 28k nodes scanned the model index once per IRI).
* Relationships are sent grouped by their source (a batch touches a source node once, not
  once per relationship); they are grouped while Neo4j creates the nodes, and turned into
  element ids a batch at a time.
* Batches are pipelined within a transaction, so the client encodes one batch while Neo4j
  runs the previous.
* A load too large for one transaction (hidden until it completes) writes with
  ``writers`` sessions at once, each batch a transaction of its own: one Cypher statement
  runs on one of Neo4j's cores, so one writer leaves the others idle. The phases stay in
  order (every relationship is created after every node). Concurrent relationship
  batches may deadlock on a shared end node; Neo4j then rolls one back, and it is run
  again (nothing of it was saved).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, LiteralString

from neo4j import Driver, Result, Session, Transaction
from neo4j.exceptions import TransientError

from kgtwin.graph.collector import collector_paused
from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.errors import CommitUnknown, GraphError, ModelConflict
from kgtwin.graph.model_lease import ModelLease
from kgtwin.graph.records import NodeRecord, PropertyGraph
from kgtwin.graph.sync_statements import (
    HIDE_MODEL,
    ONTOLOGY,
    READ_LOAD_ID,
    READ_MODEL,
    TWINS,
    WRITE_MODEL,
    Scope,
)

__all__ = [
    "BATCH_SIZE",
    "ONE_TRANSACTION",
    "ONTOLOGY",
    "TRANSACTION_ROWS",
    "TWINS",
    "WRITERS",
    "Progress",
    "Scope",
    "SyncSummary",
    "sync_model",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

IRI = "iri"
_ENDS = ("sources", "targets")  # a relationship batch: two parallel lists

CONFIRM_SECONDS = 10.0  # seconds to wait for Neo4j to tell whether a lost commit was saved
RETRY_SECONDS = 30.0  # a load failing (Neo4j away, a deadlock) is tried again this long
# rows per statement (and per transaction of a parallel load). A parallel load's
# transactions hold their changes in Neo4j's heap until they commit: at 10,000 rows, two of
# them outgrew what its collector copies within the launcher's 50 ms pause goal, and a
# 1M-asset first load spent 8.4-10.4 s of CPU in the collector against 1.1-1.3 s at 5,000
# (60.5 and 62.1 s against 56.2 and 57.3 s of sync; 2,500 rows: 58.2 s; docs/benchmarks.md)
BATCH_SIZE = 5_000
TRANSACTION_ROWS = 20_000  # rows written per transaction; a load writing more is hidden
READ_PAGE = 20_000  # nodes per page read
READ_RELS = 50_000  # relationships read per statement, at most (unless one node has more)
WRITERS = 2  # sessions writing at once, for a load in several transactions
DEADLOCK_RETRIES = 10  # times a batch rolled back by a deadlock is run again
DEADLOCK = "Neo.TransientError.Transaction.DeadlockDetected"
# the ontology's load: always one transaction, as readers never skip the ontology's terms
ONE_TRANSACTION = sys.maxsize


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
    batch_size: int = BATCH_SIZE,
    transaction_rows: int = TRANSACTION_ROWS,
    writers: int = WRITERS,
    waiting: Callable[[], None] | None = None,
) -> SyncSummary:
    """Make the graph hold exactly ``desired`` for ``model``; returns what changed.

    Needs the schema of :func:`graph.schema.ensure_schema`: the statements name its indexes.
    ``waiting`` is called when another load of the model has kept this one waiting for
    :data:`graph.model_lease.WAIT_NOTICE` seconds. Raises ``CommitUnknown`` if whether the
    load was saved cannot be told (module docstring).
    """
    started = time.perf_counter()
    load = _Load(
        model=model,
        scope=scope,
        desired=desired,
        shapes=_shapes(desired.nodes.values(), scope.key_label),
        wanted_rels=_wanted_rels(desired),
        model_params={
            "name": model,
            "digest": digest,
            "files": list(files),
            "nodes": len(desired.nodes),
            "relationships": len(desired.rels),
        },
        batch_size=batch_size,
        transaction_rows=max(transaction_rows, batch_size),
        writers=max(1, writers),
        progress=progress,
    )
    action = f"loading model {model!r}"
    with collector_paused(), ModelLease(driver, model, load.load_id, database, waiting) as lease:
        if lease.interrupted:
            logger.warning(
                "model %r: its last load stopped midway, so it is hidden; this load completes it",
                model,
            )
        delay, deadline = 1.0, time.monotonic() + RETRY_SECONDS
        while True:
            try:
                with neo4j_errors(action), driver.session(database=database) as session:
                    summary = load.run(session, lease, lambda: driver.session(database=database))
            except GraphError as exc:
                if isinstance(exc, CommitUnknown) and load.final_commit_failed:
                    summary = _confirm(driver, load, database, action, exc)
                elif not exc.retryable or time.monotonic() + delay > deadline:
                    raise
                else:
                    # nothing of a failed transaction was saved, and a retry reads again
                    # what the committed ones wrote
                    logger.warning("%s failed, trying again in %.0f s: %s", action, delay, exc)
                    time.sleep(delay)
                    delay *= 2
                    lease.take()
                    continue
            return replace(summary, seconds=time.perf_counter() - started)


@dataclass(slots=True)
class _Load:
    """One sync: what it wants, and what it found and wrote."""

    model: str
    scope: Scope
    desired: PropertyGraph
    shapes: dict[_Shape, list[NodeRecord]]
    wanted_rels: AbstractSet[Rel]
    model_params: dict[str, Any]
    batch_size: int
    transaction_rows: int
    writers: int
    progress: Progress | None
    load_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    summary: SyncSummary | None = None  # once the graph is read
    final_commit_failed: bool = False  # set by _Writes.finish as it commits

    def run(
        self, session: Session, lease: ModelLease, sessions: Callable[[], Session]
    ) -> SyncSummary:
        """Read the graph, then write the difference (raises ``GraphError``); ``sessions``
        opens one for each further writer."""
        self.final_commit_failed = False
        plan = self._plan(session)
        summary = self.summary = plan.summary(self.model, self.desired, len(self.wanted_rels))
        if not (
            summary.changed or plan.hidden or plan.previous_digest != self.model_params["digest"]
        ):
            return summary
        rows = plan.rows()
        writes = _Writes(session, self, lease)
        phases: _Statements = writes
        if rows > self.transaction_rows:
            logger.info(
                "model %r: %d rows to write, in transactions of at most %d, %d at a time; "
                "the model is hidden from readers until the load completes",
                self.model,
                rows,
                self.batch_size if self.writers > 1 else self.transaction_rows,
                self.writers,
            )
            writes.alone(HIDE_MODEL, name=self.model, loadId=self.load_id)
            if self.writers > 1:
                phases = _ParallelWrites(sessions, self, lease)
        self._write(plan, phases)
        if self.progress is not None:
            self.progress("committing", 0, 0)
        writes.finish(
            WRITE_MODEL,
            **self.model_params,
            loadedAt=datetime.now(UTC).isoformat(),
            loadId=self.load_id,
        )
        return summary

    def _plan(self, session: Session) -> _Plan:
        """What the graph holds and what must change, read in one read transaction."""
        scope, model, progress = self.scope, self.model, self.progress
        nodes = self.desired.nodes
        with session.begin_transaction() as tx:
            if progress is not None:  # no total: a new model's nodes are not there to read
                progress("reading the graph", 0, 0)
            previous = tx.run(READ_MODEL, name=model).single()
            eids: dict[str, str] = {}  # element id of every node of the model, by IRI
            stale_nodes: list[str] = []
            found: list[str] = []  # element ids of the model's nodes, as read
            degrees: list[int] = []  # how many relationships leave each of them
            after = ""
            while True:
                (page,) = tx.run(scope.read_nodes, model=model, after=after, page=READ_PAGE).single(
                    strict=True
                )
                for iri, eid, degree in page:
                    if iri in nodes:
                        eids[iri] = eid
                    else:
                        stale_nodes.append(eid)
                    found.append(eid)
                    degrees.append(degree)
                if progress is not None:
                    progress("reading the graph", len(eids) + len(stale_nodes), 0)
                if len(page) < READ_PAGE:
                    break
                after = page[-1][0]
            have_rels, broken = _read_rels(tx, scope, model, found, degrees)
            del found, degrees
            new = [iri for iri in nodes if iri not in eids]
            if new and tx.run(scope.other_models, model=model).peek() is not None:
                _refuse_foreign(tx, scope, model, new)
            kept: list[Group] = []  # rows [element id, value, ...]
            created: list[Group] = []  # rows [IRI, value, ...]
            for shape, members in self.shapes.items():
                values, params = shape.values, shape.params()
                kept.append(
                    (params, [[eids[n.iri], *values(n.props)] for n in members if n.iri in eids])
                )
                created.append(
                    (params, [[n.iri, *values(n.props)] for n in members if n.iri not in eids])
                )
            reads = _Statements(tx, model, self.batch_size, progress)
            differ = {
                eid for ids in reads.run("checking nodes", scope.compare_nodes, kept) for eid in ids
            }
        changed = [
            (params, [row for row in rows if row[0] in differ]) for params, rows in kept if differ
        ]
        return _Plan(
            eids=eids,
            new_nodes=len(new),
            stale_nodes=stale_nodes,
            changed=changed,
            created=created,
            stale_rels=have_rels - self.wanted_rels,
            repaired=broken & self.wanted_rels,  # deleted, every copy, and made again once
            new_rels=self.wanted_rels - have_rels if have_rels else self.wanted_rels,
            previous_digest=None if previous is None else previous["digest"],
            hidden=previous is not None and previous["loading"] is not None,
        )

    def _write(self, plan: _Plan, writes: _Statements) -> None:
        scope = self.scope
        # the new relationships are grouped and sorted while Neo4j creates the nodes (a
        # thread: 2.2 s of Python at 1M assets that Neo4j waited for), and their IRIs turned
        # into element ids a batch at a time, as the batch is sent
        with ThreadPoolExecutor(1, thread_name_prefix="kgtwin-load-rels") as grouping:
            new_rels = grouping.submit(_rel_groups, chain(plan.new_rels, plan.repaired))
            writes.run(
                "removing relationships",
                scope.delete_rels,
                _rel_groups(chain(plan.stale_rels, plan.repaired)),
                _ENDS,
            )
            writes.run("removing nodes", scope.delete_nodes, [({}, plan.stale_nodes)])
            writes.run("updating nodes", scope.update_nodes, plan.changed)
            eids = plan.eids
            for pairs in writes.run("creating nodes", scope.create_nodes, plan.created):
                eids.update(pairs)
            writes.run(
                "creating relationships",
                scope.create_rels,
                new_rels.result(),
                _ENDS,
                eids.__getitem__,
            )


@dataclass(slots=True)
class _Plan:
    """What a load found in the graph, and what it will write."""

    eids: dict[str, str]  # IRI -> element id of the model's nodes kept (and, later, created)
    new_nodes: int
    stale_nodes: list[str]  # element ids
    changed: list[Group]  # kept nodes that differ: rows [element id, value, ...]
    created: list[Group]  # rows [IRI, value, ...]
    stale_rels: set[Rel]
    repaired: set[Rel]
    new_rels: AbstractSet[Rel]
    previous_digest: str | None  # None: the model was never loaded
    hidden: bool  # a load of the model stopped midway

    def rows(self) -> int:
        """How many rows the load writes."""
        groups = (*self.changed, *self.created)
        return (
            len(self.stale_rels)
            + 2 * len(self.repaired)
            + len(self.stale_nodes)
            + sum(len(rows) for _, rows in groups)
            + len(self.new_rels)
        )

    def summary(self, model: str, desired: PropertyGraph, wanted_rels: int) -> SyncSummary:
        updated = sum(len(rows) for _, rows in self.changed)
        return SyncSummary(
            model=model,
            nodes_created=self.new_nodes,
            nodes_updated=updated,
            nodes_removed=len(self.stale_nodes),
            nodes_unchanged=len(desired.nodes) - self.new_nodes - updated,
            rels_created=len(self.new_rels),
            rels_removed=len(self.stale_rels),
            rels_unchanged=wanted_rels - len(self.new_rels) - len(self.repaired),
            seconds=0.0,
            rels_repaired=len(self.repaired),
        )


def _confirm(
    driver: Driver, load: _Load, database: str | None, action: str, exc: GraphError
) -> SyncSummary:
    """The summary of a load whose last commit failed, if it was saved after all."""
    logger.warning("%s: the commit failed (%s); reading whether it was saved", action, exc)
    if not _saved(driver, load.model, load.load_id, database, action):
        raise GraphError(
            f"{action}: the commit failed ({exc}), and the model was not saved; load it again"
        ) from exc
    assert load.summary is not None  # set before anything is written
    return load.summary


class _Statements:
    """Runs a statement over groups of rows, ``batch_size`` rows at a time, in one transaction.

    Batches are pipelined: the next batch is packed and sent while Neo4j still runs the
    previous one (the driver keeps several results open in a transaction), so the client's
    encoding and the server's work overlap.
    """

    def __init__(
        self, tx: Transaction | None, model: str, batch_size: int, progress: Progress | None
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
        value: Callable[[Any], Any] | None = None,
    ) -> list[Any]:
        """The single value each batch returned (statements that return nothing: none),
        batches made by :func:`_batches`."""
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

        for size, params in _batches(groups, columns, self.batch_size, value):
            result = self.transaction().run(statement, model=self.model, **params)
            if pending is not None:
                finish(*pending)
            pending = (size, result)
            if self.full(size):  # every result read, then committed
                finish(*pending)
                pending = None
                self.commit()
        if pending is not None:
            finish(*pending)
        return values

    def transaction(self) -> Transaction:
        """The transaction the next batch runs in."""
        assert self.tx is not None
        return self.tx

    def full(self, rows: int) -> bool:
        """Counts ``rows`` sent in the transaction; whether it must commit before the next."""
        return False

    def commit(self) -> None:
        """Commit the transaction (one of several)."""


def _batches(
    groups: list[Group],
    columns: tuple[str, ...],
    batch_size: int,
    value: Callable[[Any], Any] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``groups`` in batches of at most ``batch_size`` rows: (rows, statement parameters).

    A batch is sent as ``$rows``, or, given ``columns``, as one list per column, each of
    its values passed through ``value`` if given (as the batch is made, so a parallel
    load does it in the writer's thread while Neo4j runs another writer's batch).
    """
    for params, rows in groups:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            if columns:
                lists = zip(*batch, strict=True)
                made = map(list, lists) if value is None else ([*map(value, c)] for c in lists)
                data = dict(zip(columns, made, strict=True))
            else:
                data = {"rows": batch}
            yield len(batch), {**params, **data}


class _Writes(_Statements):
    """Write batches in transactions of at most ``load.transaction_rows`` rows; each ends
    with the lease's fence. :meth:`finish` runs the last statement and commits the last
    transaction (the commit :func:`sync_model` confirms if its answer is lost)."""

    def __init__(self, session: Session, load: _Load, lease: ModelLease) -> None:
        super().__init__(None, load.model, load.batch_size, load.progress)
        self.session = session
        self.load = load
        self.lease = lease
        self.open: Transaction | None = None
        self.rows = 0  # written in the open transaction

    def transaction(self) -> Transaction:
        if self.open is None:
            self.open = self.session.begin_transaction()
            self.rows = 0
        return self.open

    def full(self, rows: int) -> bool:
        self.rows += rows
        return self.rows + self.batch_size > self.load.transaction_rows

    def commit(self) -> None:
        """Fence and commit the open transaction (every result of it read)."""
        if self.open is not None:
            tx, self.open = self.open, None
            self.lease.fence(tx)
            tx.commit()

    def alone(self, statement: LiteralString, **params: Any) -> None:
        """``statement`` in a transaction of its own, committed."""
        self.commit()
        self.transaction().run(statement, **params).consume()
        self.commit()

    def finish(self, statement: LiteralString, **params: Any) -> None:
        self.transaction().run(statement, **params).consume()
        self.load.final_commit_failed = True  # until the commit returns
        self.commit()
        self.load.final_commit_failed = False


class _ParallelWrites(_Statements):
    """Write batches with ``load.writers`` sessions at once, each batch a transaction of its
    own that ends with the lease's fence; results and progress come back in the caller's
    thread. The fence write-locks the ``Model`` node only from the end of the batch to its
    commit, so the writers do not wait for one another's batches."""

    def __init__(self, sessions: Callable[[], Session], load: _Load, lease: ModelLease) -> None:
        super().__init__(None, load.model, load.batch_size, load.progress)
        self.sessions = sessions
        self.writers = load.writers
        self.lease = lease

    def run(
        self,
        phase: str,
        statement: LiteralString,
        groups: list[Group],
        columns: tuple[str, ...] = (),
        value: Callable[[Any], Any] | None = None,
    ) -> list[Any]:
        total = sum(len(rows) for _, rows in groups)
        if not total:
            return []
        batches = _batches(groups, columns, self.batch_size, value)
        taking = threading.Lock()
        stop = threading.Event()
        done: queue.SimpleQueue[tuple[int, Any] | BaseException | None] = queue.SimpleQueue()

        def write() -> None:
            try:
                with self.sessions() as session:
                    while not stop.is_set():
                        with taking:
                            batch = next(batches, None)
                        if batch is None:
                            break
                        done.put((batch[0], self._commit(session, statement, batch[1])))
            except BaseException as exc:  # handed to the caller's thread, which raises it
                stop.set()
                done.put(exc)
            finally:
                done.put(None)

        threads = [
            threading.Thread(target=write, name=f"kgtwin-load-{n}", daemon=True)
            for n in range(self.writers)
        ]
        for thread in threads:
            thread.start()
        values: list[Any] = []
        failure: BaseException | None = None
        written, running = 0, len(threads)
        try:
            while running:
                item = done.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    failure = failure or item
                else:
                    size, value = item
                    if value is not None:
                        values.append(value)
                    written += size
                    if self.progress is not None:
                        self.progress(phase, written, total)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        if failure is not None:
            raise failure
        return values

    def _commit(self, session: Session, statement: LiteralString, params: dict[str, Any]) -> Any:
        """Run one batch in a transaction of its own and commit it; its single value."""
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                with session.begin_transaction() as tx:
                    record = tx.run(statement, model=self.model, **params).single()
                    self.lease.fence(tx)
                    tx.commit()
                return None if record is None else record[0]
            except TransientError as exc:
                if exc.code != DEADLOCK or attempt == DEADLOCK_RETRIES:
                    raise
                logger.debug("model %r: a batch was rolled back by a deadlock; again", self.model)
        raise AssertionError("unreachable")


def _read_rels(
    tx: Transaction, scope: Scope, model: str, eids: list[str], degrees: list[int]
) -> tuple[set[Rel], set[Rel]]:
    """The relationships out of the model's nodes ``eids`` (with ``degrees``, how many
    relationships leave each), and those of them present more than once or not marked as
    the model's (made by hand), a page of nodes at a time (:func:`_rel_pages`)."""
    have: set[Rel] = set()
    broken: set[Rel] = set()
    for page in _rel_pages(eids, degrees):
        for record in tx.run(scope.read_rels, model=model, eids=page):
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


def _rel_pages(eids: list[str], degrees: list[int]) -> Iterator[list[str]]:
    """``eids`` in pages of at most :data:`READ_PAGE` nodes whose ``degrees`` add up to at
    most :data:`READ_RELS` (a node with more has a page of its own): Neo4j collects a
    page's relationships before it answers, and a page of a fixed number of nodes holds
    more of them as a model grows (the synthetic site's PDUs feed 40 racks each: a page
    of 20,000 of them, at a million assets, leaves 800,000 relationships)."""
    start, rels = 0, 0
    for at, degree in enumerate(degrees):
        if at > start and (at - start == READ_PAGE or rels + degree > READ_RELS):
            yield eids[start:at]
            start, rels = at, 0
        rels += degree
    if start < len(eids):
        yield eids[start:]


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


def _wanted_rels(desired: PropertyGraph) -> AbstractSet[Rel]:
    """The model's relationships: ``desired.rels`` itself (tuples), not a copy."""
    nodes = desired.nodes
    missing = {end for rel in desired.rels for end in rel[::2] if end not in nodes}
    if missing:
        raise ValueError(
            f"{len(missing)} relationship end(s) are not nodes of the model, e.g. "
            f"{sorted(missing)[0]}; every relationship must link two nodes of the model"
        )
    return desired.rels


def _rel_groups(rels: Iterable[Rel]) -> list[Group]:
    """Relationships grouped by type, each a row ``(source, target)`` (IRIs), the rows of a
    type in the order of their sources.

    The order is the speed of a first load's relationships: a model's relationships come
    in no order (a set), so a batch in that order touched twice as many nodes as it
    created relationships, and Neo4j's commit (the lock, record and chain changes of every
    node touched) took most of the phase. Grouped by source, a batch touches each source
    once: 3 million relationships went from 36 s to 24 s on a Neo4j just started
    (docs/benchmarks.md).
    """
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source, kind, target in rels:
        pairs[kind].append((source, target))
    for rows in pairs.values():
        rows.sort(key=_SOURCE)
    return [({"type": kind}, rows) for kind, rows in pairs.items()]


_SOURCE = itemgetter(0)


def _refuse_foreign(tx: Transaction, scope: Scope, model: str, iris: list[str]) -> None:
    foreign = tx.run(scope.find_foreign, iris=iris, model=model).data()
    owned, by_hand = [], []
    for f in foreign:
        if isinstance(f["model"], str):
            owned.append(f"{f['iri']} (model {f['model']!r})")
        else:
            by_hand.append(f"{f['iri']} ({_no_name(f['model'])})")
    reasons = []
    if owned:
        reasons.append(
            f"model {model!r} names subjects that already belong to another model: "
            f"{', '.join(owned)}. Remove them from one of the models, or load both as one model."
        )
    if by_hand:
        reasons.append(
            f"model {model!r} names subjects that nodes made by hand hold, with no model's "
            f"name: {', '.join(by_hand)}. Delete those nodes, or give them their model."
        )
    if reasons:
        raise ModelConflict(" ".join(reasons))


def _no_name(model: object) -> str:
    return "no model" if model is None else f"model {model!r}"
