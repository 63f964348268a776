"""Loading models into the real Neo4j: labels, relationships, properties, idempotent
reload, removal, isolation between models, failed loads, constraints.

The ``sync_model`` tests at the end build small property graphs by hand, so they pin what
the sync itself does (change detection, batching, plans) independently of the ontology."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from kgtwin.graph import sync as sync_module
from kgtwin.graph.errors import ModelConflict, QueryFailed
from kgtwin.graph.records import NodeRecord, PropertyGraph, RelRecord
from kgtwin.graph.schema import describe_schema, ensure_schema
from kgtwin.graph.sync import TWINS, SyncSummary, sync_model
from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.conftest import DC1, FIXTURES

VALID = FIXTURES / "ontology" / "valid"
SITE = "https://w3id.org/kgtwin/site/dc1#"


def count(driver: Driver, query: str) -> int:
    records, _, _ = driver.execute_query(query)
    return int(records[0][0])


def snapshot(driver: Driver) -> tuple[list[object], list[object]]:
    nodes, _, _ = driver.execute_query(
        "MATCH (n) RETURN n.iri AS iri, labels(n) AS labels, properties(n) AS props ORDER BY iri"
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN a.iri, type(r), b.iri, properties(r) "
        "ORDER BY a.iri, type(r), b.iri"
    )
    return [tuple(r.values()) for r in nodes], [tuple(r.values()) for r in rels]


def test_example_site_loads_with_labels_relationships_and_properties(
    driver: Driver, ontology: Ontology
) -> None:
    result = load_model(driver, [DC1], "dc1", ontology)
    assert result.model is not None
    assert result.model.nodes_created == len(result.report.graph.nodes)  # type: ignore[union-attr]
    records, _, _ = driver.execute_query(
        "MATCH (u:Twin {id: 'ups-b1'}) RETURN labels(u) AS labels, u AS node"
    )
    (ups,) = records
    assert {"Twin", "UPS", "ElectricalAsset", "Asset"} <= set(ups["labels"])
    assert ups["node"]["iri"] == SITE + "ups-b1"
    assert ups["node"]["model"] == "dc1"
    assert isinstance(ups["node"]["ratedCapacity"], float)
    assert ups["node"]["capacityUnit"] == "KiloW"
    # superclass labels: every UPS is found as an Asset
    assert count(driver, "MATCH (n:UPS) RETURN count(n)") == 4
    # relationships typed after the ontology's object properties
    assert count(driver, "MATCH (:Switchgear)-[:FEEDS]->(:UPS) RETURN count(*)") >= 4
    assert count(driver, "MATCH (:Rack)-[:HOSTS]->(:ITService) RETURN count(*)") > 0
    assert count(driver, "MATCH (:Asset)-[:HAS_POINT]->(:Point) RETURN count(*)") >= 400
    points, _, _ = driver.execute_query(
        "MATCH (p:Point) WHERE p.mqttTopic IS NULL OR p.unit IS NULL RETURN count(p)"
    )
    assert points[0][0] == 0
    # the ontology itself
    assert (
        count(
            driver,
            "MATCH (:Class {name: 'UPS'})-[:SUBCLASS_OF*]->(:Class {name: 'Asset'}) "
            "RETURN count(*)",
        )
        >= 1
    )
    assert count(driver, "MATCH (r:Relationship {type: 'FEEDS'}) RETURN count(r)") == 1


def test_reload_of_the_same_files_changes_nothing(driver: Driver, ontology: Ontology) -> None:
    first = load_model(driver, [DC1], "dc1", ontology)
    before = snapshot(driver)
    # found loaded from these files by their digest: neither validated nor synced
    again = load_model(driver, [DC1], "dc1", ontology)
    assert again.unchanged is not None
    assert (again.model, again.ontology) == (None, None)
    assert again.unchanged.digest == first.report.digest
    assert first.model is not None
    assert again.unchanged.nodes == first.model.nodes_created
    # verified: validated and synced, and found the same
    verified = load_model(driver, [DC1], "dc1", ontology, verify=True)
    assert verified.unchanged is None
    assert verified.model is not None
    assert verified.ontology is not None
    assert not verified.model.changed
    assert not verified.ontology.changed
    assert snapshot(driver) == before


def test_a_hand_edit_is_repaired_by_a_verified_reload(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    labels = "MATCH (a:Twin {model: 'dc1'}) RETURN a.iri, a.label ORDER BY a.iri"
    before, _, _ = driver.execute_query(labels)
    driver.execute_query(
        "MATCH (a:Twin {model: 'dc1'}) WHERE a.label IS NOT NULL SET a.label = 'x'"
    )
    assert load_model(driver, [DC1], "dc1", ontology).unchanged is not None
    assert driver.execute_query(labels)[0] != before  # left as edited
    repaired = load_model(driver, [DC1], "dc1", ontology, verify=True).model
    assert repaired is not None
    assert repaired.nodes_updated > 0
    assert driver.execute_query(labels)[0] == before


def test_a_reload_with_another_ontology_is_validated_and_synced(
    driver: Driver, ontology: Ontology, tmp_path: Path
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    extra = tmp_path / "extra.ttl"
    extra.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        '<https://example.org/x#Gadget> a owl:Class ; rdfs:label "Gadget" ; '
        'rdfs:comment "A class the first load did not have." .\n'
    )
    other = Ontology.load([*(f.path for f in ontology.files), extra])
    result = load_model(driver, [DC1], "dc1", other)
    assert result.unchanged is None
    assert result.ontology is not None
    assert result.ontology.changed


def test_subject_removed_from_files_is_removed_on_reload(
    driver: Driver, ontology: Ontology, tmp_path: Path
) -> None:
    site = tmp_path / "site.ttl"
    text = (VALID / "k_of_n_consumer.ttl").read_text()
    site.write_text(text)
    load_model(driver, [site], "m", ontology)
    assert count(driver, "MATCH (n:Twin {id: 'supply-3'}) RETURN count(n)") == 1
    # supply-3 leaves the model: its block and the link to it; k-of-n 2 stays satisfiable
    trimmed = (
        text.replace('site:supply-3\n    a kgt:Asset ;\n    rdfs:label "Supply 3" .\n', "")
        .replace("    kgt:dependsOn site:supply-3 ;\n", "")
        .replace(", site:supply-3 .", " .")
    )
    assert trimmed != text
    site.write_text(trimmed)
    result = load_model(driver, [site], "m", ontology)
    assert result.report.ok, [p.render() for p in result.report.problems]
    assert result.model is not None
    assert result.model.nodes_removed == 1
    assert result.model.rels_removed == 2  # DEPENDS_ON and HAS_PART
    assert result.model.nodes_created == 0
    assert count(driver, "MATCH (n:Twin {id: 'supply-3'}) RETURN count(n)") == 0
    assert count(driver, "MATCH ()-[r:DEPENDS_ON]->() RETURN count(r)") == 0


def test_other_models_are_untouched(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [VALID / "minimal_pump.ttl"], "a", ontology)
    before = snapshot(driver)
    load_model(driver, [VALID / "k_of_n_consumer.ttl"], "b", ontology)
    load_model(driver, [VALID / "k_of_n_consumer.ttl"], "b", ontology)
    nodes_a, _, _ = driver.execute_query("MATCH (n:Twin {model: 'a'}) RETURN n.iri ORDER BY n.iri")
    assert [r[0] for r in nodes_a] == [n[0] for n in before[0] if n[0] and "Twin" in n[1]]


def test_invalid_model_changes_nothing(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    before = snapshot(driver)
    for bad in sorted((FIXTURES / "ontology" / "invalid").glob("*.ttl")):
        result = load_model(driver, [bad], "dc1", ontology)
        assert not result.report.ok
        assert result.model is None
    assert snapshot(driver) == before


def test_model_taking_over_another_models_subjects_is_refused(
    driver: Driver, ontology: Ontology
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    before = snapshot(driver)
    with pytest.raises(ModelConflict, match="already belong to another model"):
        load_model(driver, [DC1], "copy", ontology)
    assert snapshot(driver) == before


@pytest.mark.parametrize(
    "hand_made",
    [
        "CREATE (:Twin:Asset {iri: $iri, id: 'mine'})",  # no model
        "CREATE (:Twin:Asset {iri: $iri, id: 'mine', model: 5})",  # a model that is no name
    ],
)
@pytest.mark.parametrize("rows", [sync_module.TRANSACTION_ROWS, 1])  # one transaction; many
def test_a_node_made_by_hand_with_a_models_iri_is_refused_before_any_write(
    driver: Driver, ontology: Ontology, hand_made: str, rows: int
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    iri = "https://w3id.org/kgtwin/site/dc1#air-cooling"
    driver.execute_query("MATCH (n:Twin {iri: $iri}) DETACH DELETE n", iri=iri)
    driver.execute_query(hand_made, iri=iri)  # type: ignore[arg-type]
    before = snapshot(driver)
    with pytest.raises(ModelConflict) as refused:
        load_model(
            driver, [DC1], "dc1", ontology, verify=True, batch_size=rows, transaction_rows=rows
        )
    assert f"nodes made by hand hold, with no model's name: {iri} (" in str(refused.value)
    assert "another model" not in str(refused.value)
    assert snapshot(driver) == before  # nothing written, the model not hidden


def test_live_state_survives_reload(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    driver.execute_query("MATCH (p:Point) WITH p LIMIT 1 SET p.value = 42.0, p.quality = 'good'")
    load_model(driver, [DC1], "dc1", ontology, verify=True)
    assert count(driver, "MATCH (p:Point {value: 42.0, quality: 'good'}) RETURN count(p)") == 1


def test_constraints_and_indexes_exist_after_load(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [VALID / "minimal_pump.ttl"], "m", ontology)
    schema = {item.name: item for item in describe_schema(driver)}
    assert schema["twin_iri"].constraint
    assert schema["twin_iri"].labels == ("Twin",)
    assert schema["twin_iri"].properties == ("iri",)
    assert schema["ontology_term_iri"].constraint
    assert schema["model_name"].constraint
    assert {"twin_id", "twin_model"} <= schema.keys()


# --- sync_model on hand-made graphs --------------------------------------------------------

NS = "urn:kgtwin:test:"


def node(name: str, *labels: str, **props: Any) -> NodeRecord:
    return NodeRecord(NS + name, ("Twin", *labels), {"iri": NS + name, "id": name, **props})


def graph(nodes: list[NodeRecord], rels: Sequence[tuple[str, str, str]] = ()) -> PropertyGraph:
    return PropertyGraph(
        {n.iri: n for n in nodes}, frozenset(RelRecord(NS + s, t, NS + o) for s, t, o in rels)
    )


def site(**pump_props: Any) -> PropertyGraph:
    props = {"ratedCapacity": 20.0, "ports": 4, "tags": ["a", "b"], "since": date(2020, 1, 2)}
    return graph(
        [
            node("pump", "Asset", "Pump", **{**props, **pump_props}),
            node("tank", "Asset", "Tank", volume=3.5, at=datetime(2024, 5, 6, 7, 8, 9)),
            node("room", "Location", label="Room 1", indoor=True),
        ],
        [("pump", "FEEDS", "tank"), ("pump", "LOCATED_IN", "room"), ("tank", "LOCATED_IN", "room")],
    )


def sync(driver: Driver, desired: PropertyGraph, **kw: Any) -> SyncSummary:
    ensure_schema(driver)
    return sync_model(driver, "m", desired, **kw)


def props_of(driver: Driver, name: str) -> tuple[set[str], dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (n:Twin {iri: $iri}) RETURN labels(n) AS labels, properties(n) AS props",
        iri=NS + name,
    )
    return set(records[0]["labels"]), records[0]["props"]


def test_reload_of_every_value_type_changes_nothing(driver: Driver) -> None:
    first = sync(driver, site())
    assert (first.nodes_created, first.rels_created) == (3, 3)
    before = snapshot(driver)
    again = sync(driver, site())
    assert not again.changed
    assert (again.nodes_unchanged, again.rels_unchanged) == (3, 3)
    assert snapshot(driver) == before


@pytest.mark.parametrize(
    "change",
    [
        {"ratedCapacity": 21.0},
        {"ratedCapacity": 20},  # same number, other type: an int is not the float 20.0
        {"ports": 4.0},
        {"tags": ["a", "c"]},
        {"since": date(2020, 1, 3)},
        {"extra": "new key"},
    ],
    ids=["float", "float-to-int", "int-to-float", "list", "date", "new-key"],
)
def test_changed_property_is_written_and_only_that_node_counts(
    driver: Driver, change: dict[str, Any]
) -> None:
    sync(driver, site())
    result = sync(driver, site(**change))
    assert (result.nodes_updated, result.nodes_unchanged, result.rels_unchanged) == (1, 2, 3)
    _, props = props_of(driver, "pump")
    for key, value in change.items():
        assert props[key] == value
        assert type(props[key]) is type(value) or isinstance(value, date)
    assert not sync(driver, site(**change)).changed


def test_removed_key_and_label_go_but_live_state_stays(driver: Driver) -> None:
    sync(driver, site())
    driver.execute_query("MATCH (n:Twin {iri: $iri}) SET n.value = 42.0", iri=NS + "pump")
    trimmed = site()
    pump = trimmed.nodes[NS + "pump"]
    props = {k: v for k, v in pump.props.items() if k != "ports"}
    trimmed.nodes[pump.iri] = NodeRecord(pump.iri, ("Twin", "Asset", "Compressor"), props)
    result = sync(driver, trimmed)
    assert result.nodes_updated == 1
    labels, stored = props_of(driver, "pump")
    assert labels == {"Twin", "Asset", "Compressor"}
    assert "ports" not in stored
    assert stored["value"] == 42.0
    assert stored["modelKeys"] == sorted(props)


def twins(driver: Driver) -> tuple[list[object], list[object]]:
    """The snapshot without the Model node (whose ``loadedAt`` moves on every change)."""
    nodes, rels = snapshot(driver)
    return [n for n in nodes if "Model" not in n[1]], rels  # type: ignore[index,operator]


def test_edited_graph_is_repaired_on_reload(driver: Driver) -> None:
    sync(driver, site())
    before = twins(driver)
    driver.execute_query(
        "MATCH (n:Twin {iri: $iri}) SET n.ratedCapacity = 1.0 REMOVE n:Pump", iri=NS + "pump"
    )
    driver.execute_query("MATCH (:Twin)-[r:FEEDS]->() DELETE r")
    result = sync(driver, site())
    assert (result.nodes_updated, result.rels_created) == (1, 1)
    assert twins(driver) == before


def test_relationships_added_and_removed(driver: Driver) -> None:
    sync(driver, site())
    desired = site()
    rels = {r for r in desired.rels if r.type != "FEEDS"}
    rels.add(RelRecord(NS + "tank", "FEEDS", NS + "pump"))
    result = sync(driver, PropertyGraph(desired.nodes, frozenset(rels)))
    assert (result.rels_created, result.rels_removed, result.rels_unchanged) == (1, 1, 2)
    assert count(driver, "MATCH (:Tank)-[r:FEEDS {model: 'm'}]->(:Pump) RETURN count(r)") == 1
    assert count(driver, "MATCH (:Pump)-[r:FEEDS]->(:Tank) RETURN count(r)") == 0


def test_relationship_to_a_node_outside_the_model_is_refused(driver: Driver) -> None:
    desired = graph([node("a", "Asset")], [("a", "FEEDS", "nowhere")])
    with pytest.raises(ValueError, match="nowhere"):
        sync(driver, desired)
    assert count(driver, "MATCH (n) RETURN count(n)") == 0


def test_many_batches_report_progress_and_write_everything(driver: Driver) -> None:
    nodes = [node(f"n{i}", "Asset", "Rack" if i % 2 else "Pump", k=i) for i in range(25)]
    rels = [(f"n{i}", "FEEDS", f"n{i + 1}") for i in range(24)]
    calls: list[tuple[str, int, int]] = []
    result = sync(driver, graph(nodes, rels), batch_size=4, progress=lambda *c: calls.append(c))
    assert (result.nodes_created, result.rels_created) == (25, 24)
    assert count(driver, "MATCH (:Twin {model: 'm'})-[r:FEEDS]->() RETURN count(r)") == 24
    for phase, total in (("creating nodes", 25), ("creating relationships", 24)):
        done = [d for p, d, t in calls if p == phase and t == total]
        assert done == sorted(done)
        assert done[-1] == total
        assert len(done) >= total // 4
    calls.clear()
    again = sync(driver, graph(nodes, rels), batch_size=4, progress=lambda *c: calls.append(c))
    assert not again.changed
    assert calls[-1] == ("checking nodes", 25, 25)


def test_failing_batch_leaves_the_graph_as_it_was(driver: Driver) -> None:
    sync(driver, site())
    before = snapshot(driver)
    nodes = [node(f"n{i}", "Asset", v={"a map": 1} if i == 9 else i) for i in range(12)]
    with pytest.raises(QueryFailed, match="Property values"):
        sync(driver, graph([*site().nodes.values(), *nodes]), batch_size=2)
    assert snapshot(driver) == before


def test_model_node_is_written_only_on_change(driver: Driver) -> None:
    sync(driver, site(), digest="one")
    query = "MATCH (m:Model {name: 'm'}) RETURN m.loadedAt AS at, m.digest AS digest"
    (first,), _, _ = driver.execute_query(query)
    sync(driver, site(), digest="one")
    (same,), _, _ = driver.execute_query(query)
    assert same["at"] == first["at"]
    sync(driver, site(), digest="two")
    (other,), _, _ = driver.execute_query(query)
    assert other["digest"] == "two"
    assert other["at"] != first["at"]


def test_lookups_by_iri_use_the_unique_index_even_if_planned_on_an_empty_graph(
    driver: Driver,
) -> None:
    """Regression: the conflict check, planned while the graph was empty, was cached as a
    scan of the model index for every IRI, and a no-op reload of 28k nodes took minutes."""
    ensure_schema(driver)
    params = {
        "model": "m",
        "iris": [],
        "sources": [],
        "targets": [],
        "type": "FEEDS",
        "eids": [],
        "after": "",
        "page": 10,
    }
    for statement, seek in (
        (TWINS.find_foreign, "NodeUniqueIndexSeek"),
        (TWINS.other_models, "NodeIndexSeekByRange"),
        (TWINS.delete_rels, "NodeUniqueIndexSeek"),
        (TWINS.read_nodes, "NodeIndexSeek"),
        (TWINS.read_rels, "NodeByElementIdSeek"),
        (TWINS.create_rels, "NodeByElementIdSeek"),
    ):
        with driver.session() as session:
            plan = session.run("EXPLAIN " + statement, params).consume().plan
        assert plan is not None
        assert seek in str(plan), statement


def test_relationships_are_read_in_pages_cut_by_how_many_leave_them(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # hubs with 7 relationships out, pages of at most 3 nodes and 5 relationships: every
    # hub has a page of its own, and a reload still finds every relationship it made
    hubs = [node(f"hub{h}", "Asset", "Pump") for h in range(3)]
    leaves = [node(f"leaf{i}", "Asset", "Tank") for i in range(10)]
    rels = [(f"hub{h}", "FEEDS", f"leaf{(h + i) % 10}") for h in range(3) for i in range(7)]
    rels += [(f"leaf{i}", "LOCATED_IN", f"hub{i % 3}") for i in range(10)]
    sync(driver, graph(hubs + leaves, rels))
    monkeypatch.setattr(sync_module, "READ_PAGE", 3)
    monkeypatch.setattr(sync_module, "READ_RELS", 5)
    again = sync(driver, graph(hubs + leaves, rels))
    assert not again.changed
    assert again.rels_unchanged == 31
    moved = [r for r in rels if r != ("hub1", "FEEDS", "leaf1")] + [("leaf9", "FEEDS", "hub2")]
    changed = sync(driver, graph(hubs + leaves, moved))
    assert (changed.rels_created, changed.rels_removed, changed.rels_unchanged) == (1, 1, 30)
    assert count(driver, "MATCH (:Twin {model: 'm'})-[r]->() RETURN count(r)") == 31


@pytest.mark.parametrize(
    ("degrees", "pages"),
    [
        ([], []),
        ([1, 1, 1, 1], [[0, 1, 2], [3]]),  # 3 nodes a page at most
        ([2, 2, 2], [[0, 1], [2]]),  # 5 relationships a page at most
        ([9, 0, 1, 9, 5], [[0], [1, 2], [3], [4]]),  # more than 5: a page of its own
        ([0, 0, 5, 0], [[0, 1, 2], [3]]),
    ],
)
def test_rel_pages(
    degrees: list[int], pages: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "READ_PAGE", 3)
    monkeypatch.setattr(sync_module, "READ_RELS", 5)
    eids = [str(n) for n in range(len(degrees))]
    assert list(sync_module._rel_pages(eids, degrees)) == [[str(n) for n in p] for p in pages]
