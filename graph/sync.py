"""Idempotent sync of a mapped model into Neo4j.

The desired state (nodes and relationships of one model) is compared with what the graph
holds for that model; only the difference is written, in UNWIND batches, in one
transaction. So loading the same files twice writes nothing, a subject removed from the
files is removed from the graph, other models' nodes are never touched, and a load that
fails half-way leaves the graph as it was. Live-state properties written by ingestion (any
key not listed in a node's ``modelKeys``) survive a reload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, LiteralString

from neo4j import Driver, ManagedTransaction
from neo4j.time import Date, DateTime, Time

from graph.connection import neo4j_errors
from graph.errors import ModelConflict
from ontology.mapping import NodeRecord, PropertyGraph, RelRecord

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which kind of node a sync owns, with the statements for it (labels from code only)."""

    key_label: str
    read_nodes: LiteralString
    read_rels: LiteralString
    find_foreign: LiteralString
    create_nodes: LiteralString
    update_nodes: LiteralString
    delete_nodes: LiteralString
    create_rels: LiteralString
    delete_rels: LiteralString


def _scope(label: LiteralString) -> Scope:
    node: LiteralString = "(n:" + label + " {iri: r.iri})"
    return Scope(
        key_label=label,
        read_nodes="MATCH (n:" + label + " {model: $model}) "
        "RETURN n.iri AS iri, labels(n) AS labels, n.modelKeys AS keys, properties(n) AS props",
        read_rels="MATCH (a:" + label + " {model: $model})-[x]->(b:" + label + ") "
        "WHERE x.model = $model RETURN a.iri AS source, type(x) AS type, b.iri AS target",
        find_foreign="UNWIND $iris AS iri MATCH (n:" + label + " {iri: iri}) "
        "WHERE n.model <> $model RETURN n.iri AS iri, n.model AS model LIMIT 10",
        create_nodes="UNWIND $rows AS r CREATE (n:" + label + ") SET n:$(r.labels), n = r.props",
        update_nodes="UNWIND $rows AS r MATCH " + node + " SET n += r.props "
        "REMOVE n:$(r.remove) SET n:$(r.add) FOREACH (k IN r.removeKeys | SET n[k] = null)",
        delete_nodes="UNWIND $rows AS r MATCH " + node + " DETACH DELETE n",
        create_rels="UNWIND $rows AS r MATCH (a:" + label + " {iri: r.source}) "
        "MATCH (b:" + label + " {iri: r.target}) "
        "CREATE (a)-[x:$(r.type)]->(b) SET x.model = $model",
        delete_rels="UNWIND $rows AS r MATCH (a:" + label + " {iri: r.source})"
        "-[x:$(r.type)]->(b:" + label + " {iri: r.target}) WHERE x.model = $model DELETE x",
    )


TWINS = _scope("Twin")
ONTOLOGY = _scope("OntologyTerm")

READ_MODEL: LiteralString = "MATCH (m:Model {name: $name}) RETURN m.digest AS digest"
WRITE_MODEL: LiteralString = """
MERGE (m:Model {name: $name})
SET m.digest = $digest, m.files = $files, m.loadedAt = datetime($loadedAt),
    m.nodes = $nodes, m.relationships = $relationships
"""


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

    @property
    def changed(self) -> bool:
        return any(
            (
                self.nodes_created,
                self.nodes_updated,
                self.nodes_removed,
                self.rels_created,
                self.rels_removed,
            )
        )


@dataclass(frozen=True, slots=True)
class _Diff:
    create: list[dict[str, Any]]
    update: list[dict[str, Any]]
    delete: list[dict[str, Any]]
    unchanged: int
    create_rels: list[dict[str, Any]]
    delete_rels: list[dict[str, Any]]
    rels_unchanged: int


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
) -> SyncSummary:
    """Make the graph hold exactly ``desired`` for ``model``; returns what changed."""
    started = time.perf_counter()
    report = progress or (lambda phase, done, total: None)

    def work(tx: ManagedTransaction) -> _Diff:
        foreign = tx.run(scope.find_foreign, iris=list(desired.nodes), model=model).data()
        if foreign:
            owned = ", ".join(f"{f['iri']} (model {f['model']!r})" for f in foreign)
            raise ModelConflict(
                f"model {model!r} names subjects that already belong to another model: {owned}. "
                "Remove them from one of the models, or load both as one model."
            )
        current = {r["iri"]: r for r in tx.run(scope.read_nodes, model=model)}
        current_rels = {
            RelRecord(r["source"], r["type"], r["target"])
            for r in tx.run(scope.read_rels, model=model)
        }
        diff = _diff(model, desired, current, current_rels)
        steps: list[tuple[str, LiteralString, list[dict[str, Any]]]] = [
            ("removing relationships", scope.delete_rels, diff.delete_rels),
            ("removing nodes", scope.delete_nodes, diff.delete),
            ("creating nodes", scope.create_nodes, diff.create),
            ("updating nodes", scope.update_nodes, diff.update),
            ("creating relationships", scope.create_rels, diff.create_rels),
        ]
        for phase, statement, rows in steps:
            for done, batch in _batches(rows, batch_size):
                tx.run(statement, rows=batch, model=model).consume()
                report(phase, done, len(rows))
        changed = any((diff.create, diff.update, diff.delete, diff.create_rels, diff.delete_rels))
        previous = tx.run(READ_MODEL, name=model).single()
        if changed or previous is None or previous["digest"] != digest:
            tx.run(
                WRITE_MODEL,
                name=model,
                digest=digest,
                files=list(files),
                loadedAt=datetime.now(UTC).isoformat(),
                nodes=len(desired.nodes),
                relationships=len(desired.rels),
            ).consume()
        return diff

    with neo4j_errors(f"loading model {model!r}"), driver.session(database=database) as session:
        diff = session.execute_write(work)
    return SyncSummary(
        model=model,
        nodes_created=len(diff.create),
        nodes_updated=len(diff.update),
        nodes_removed=len(diff.delete),
        nodes_unchanged=diff.unchanged,
        rels_created=len(diff.create_rels),
        rels_removed=len(diff.delete_rels),
        rels_unchanged=diff.rels_unchanged,
        seconds=time.perf_counter() - started,
    )


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        yield start + len(batch), batch


def _native(value: Any) -> Any:
    if isinstance(value, DateTime | Date | Time):
        return value.to_native()
    if isinstance(value, list):
        return [_native(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _diff(
    model: str,
    desired: PropertyGraph,
    current: dict[str, Any],
    current_rels: set[RelRecord],
) -> _Diff:
    create: list[dict[str, Any]] = []
    update: list[dict[str, Any]] = []
    unchanged = 0
    for iri, node in desired.nodes.items():
        keys = sorted(node.props)
        props = {**node.props, "model": model, "modelKeys": keys}
        existing = current.get(iri)
        if existing is None:
            create.append({"iri": iri, "labels": list(node.labels), "props": props})
            continue
        row = _update_row(node, props, keys, existing)
        if row is None:
            unchanged += 1
        else:
            update.append(row)
    delete = [{"iri": iri} for iri in current if iri not in desired.nodes]
    create_rels = [_rel_row(r) for r in sorted(desired.rels - current_rels)]
    delete_rels = [_rel_row(r) for r in sorted(current_rels - desired.rels)]
    return _Diff(
        create,
        update,
        delete,
        unchanged,
        create_rels,
        delete_rels,
        len(desired.rels & current_rels),
    )


def _update_row(
    node: NodeRecord, props: dict[str, Any], keys: list[str], existing: Any
) -> dict[str, Any] | None:
    have_labels = set(existing["labels"])
    want_labels = set(node.labels)
    old_keys = set(existing["keys"] or ())
    stored = existing["props"]
    changed_props = {k: v for k, v in props.items() if not _same(_native(stored.get(k)), v)}
    remove_keys = sorted(old_keys - set(keys))
    if not changed_props and not remove_keys and have_labels == want_labels:
        return None
    return {
        "iri": node.iri,
        "props": changed_props,
        "add": sorted(want_labels - have_labels),
        "remove": sorted(have_labels - want_labels),
        "removeKeys": remove_keys,
    }


def _rel_row(rel: RelRecord) -> dict[str, str]:
    return {"source": rel.source, "type": rel.type, "target": rel.target}
