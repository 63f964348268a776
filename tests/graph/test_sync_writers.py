"""Issue 20, against the real Neo4j: a load too large for one transaction writes with
several sessions at once (``writers``), and the graph it makes is the one a single
transaction makes; a failure in one writer stops the load and leaves the model hidden; a
batch that Neo4j rolls back to break a deadlock is run again. A sync runs with Python's
cyclic collector paused and gives it back as it found it.
"""

from __future__ import annotations

import gc
import logging
import random
import threading

import pytest
from neo4j import Driver

from kgtwin.graph.errors import QueryFailed
from kgtwin.graph.records import PropertyGraph
from kgtwin.graph.sync import ONE_TRANSACTION, SyncSummary, _rel_groups
from tests.graph.test_sync import NS, graph, node, sync, twins
from tests.graph.test_sync_faults import blocked
from tests.ingest.mqtt_clients import wait_until

HIDDEN = "MATCH (m:Model {name: 'm'}) RETURN m.loading IS NOT NULL AS hidden"


def hubs_site(nodes: int, seed: int) -> PropertyGraph:
    """``nodes`` assets, each feeding and fed by random ones of four hubs, so that
    concurrent batches of relationships share end nodes."""
    rng = random.Random(seed)
    assets = [node(f"hub{h}", "Asset", "Pump", k=h) for h in range(4)]
    assets += [node(f"n{i}", "Asset", "Rack" if i % 3 else "Tank", k=i) for i in range(nodes)]
    rels = set()
    for i in range(nodes):
        rels.add((f"hub{rng.randrange(4)}", "FEEDS", f"n{i}"))
        rels.add((f"n{i}", "FEEDS", f"hub{rng.randrange(4)}"))
        rels.add((f"n{i}", "LOCATED_IN", f"hub{rng.randrange(4)}"))
    return graph(assets, sorted(rels))


def test_relationship_rows_come_by_source() -> None:
    """A model's relationships are a set, in no order; each type's rows are sorted by their
    source, so that a batch touches a source node once, not once per relationship."""
    rels = set(hubs_site(300, seed=3).rels)
    groups = _rel_groups(rels)
    assert sorted(p["type"] for p, _ in groups) == ["FEEDS", "LOCATED_IN"]
    for params, rows in groups:
        assert [row[0] for row in rows] == sorted(row[0] for row in rows)
        assert sorted(rows) == sorted((s, t) for s, kind, t in rels if kind == params["type"])


def test_writers_make_the_graph_one_transaction_makes(driver: Driver) -> None:
    first, second = hubs_site(600, seed=1), hubs_site(500, seed=2)
    expected = []
    for desired in (first, second):
        sync(driver, desired, transaction_rows=ONE_TRANSACTION)
        expected.append(twins(driver))
    driver.execute_query("MATCH (n) DETACH DELETE n")
    calls: list[tuple[str, int, int]] = []
    for desired, state in zip((first, second), expected, strict=True):
        calls.clear()
        summary = sync(
            driver,
            desired,
            batch_size=25,
            transaction_rows=50,
            writers=4,
            progress=lambda *c: calls.append(c),
        )
        assert summary.changed
        assert twins(driver) == state
        (record,), _, _ = driver.execute_query(HIDDEN)
        assert not record["hidden"]
        phases = {p for p, _, _ in calls} - {"reading the graph", "committing"}
        assert "creating relationships" in phases
        for phase in phases:  # what each writer did, told in the caller's order
            done = [d for p, d, _ in calls if p == phase]
            assert done == sorted(done)
            assert done[-1] == max(t for p, _, t in calls if p == phase)
    again = sync(driver, second, batch_size=25, transaction_rows=50, writers=4)
    assert not again.changed


def test_a_writer_that_fails_stops_the_load_and_the_model_stays_hidden(driver: Driver) -> None:
    """The batch with a map for a value fails in its writer's thread; the error reaches the
    caller, and readers never see the half-written model until a load completes it."""
    nodes = [node(f"n{i}", "Asset", v={"a map": 1} if i == 37 else i) for i in range(60)]
    with pytest.raises(QueryFailed, match="Property values"):
        sync(driver, graph(nodes), batch_size=2, transaction_rows=2, writers=3)
    (record,), _, _ = driver.execute_query(HIDDEN)
    assert record["hidden"]
    fixed = [node(f"n{i}", "Asset", v=i) for i in range(60)]
    done = sync(driver, graph(fixed), batch_size=2, transaction_rows=2, writers=3)
    assert done.nodes_created + done.nodes_updated + done.nodes_unchanged == 60
    (record,), _, _ = driver.execute_query(HIDDEN)
    assert not record["hidden"]
    records, _, _ = driver.execute_query("MATCH (n:Twin {model: 'm'}) RETURN n.v AS v")
    assert sorted(r["v"] for r in records) == list(range(60))


def test_a_batch_rolled_back_by_a_deadlock_is_run_again(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """An older transaction holds node ``a``; a writer's batch updates ``b``, then waits
    for ``a``; the older one then asks for ``b``. Neo4j breaks the cycle by rolling back
    the younger, the writer's batch, which is run again once ``a`` is free."""
    names = ["b", "a", "c"]  # the order of the update's rows
    sync(driver, graph([node(n, "Asset", v=0) for n in names]))
    changed = graph([node(n, "Asset", v=1) for n in names])
    results: list[SyncSummary] = []
    caplog.set_level(logging.DEBUG, logger="kgtwin.graph.sync")
    with driver.session() as session:
        older = session.begin_transaction()
        older.run("MATCH (n:Twin {iri: $iri}) SET n.held = true", iri=NS + "a").consume()
        load = threading.Thread(
            target=lambda: results.append(
                sync(driver, changed, batch_size=2, transaction_rows=2, writers=2)
            )
        )
        load.start()
        wait_until(lambda: blocked(driver) >= 1, 30, lambda: "the batch never waited for a")
        older.run("MATCH (n:Twin {iri: $iri}) SET n.held = true", iri=NS + "b").consume()
        older.rollback()
    load.join(60)
    assert [r.nodes_updated for r in results] == [3]
    assert "rolled back by a deadlock" in caplog.text
    records, _, _ = driver.execute_query(
        "MATCH (n:Twin {model: 'm'}) RETURN n.v AS v, n.held AS held"
    )
    assert [(r["v"], r["held"]) for r in records] == [(1, None)] * 3


@pytest.mark.parametrize("enabled", [True, False])
def test_a_sync_pauses_the_collector_and_gives_it_back_as_it_found_it(
    driver: Driver, enabled: bool
) -> None:
    seen: list[bool] = []
    (gc.enable if enabled else gc.disable)()
    try:
        sync(driver, hubs_site(50, seed=3), progress=lambda *_: seen.append(gc.isenabled()))
        assert seen
        assert not any(seen)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
