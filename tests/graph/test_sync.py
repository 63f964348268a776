"""Loading models into the real Neo4j: labels, relationships, properties, idempotent
reload, removal, isolation between models, failed loads, constraints."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver

from graph.errors import ModelConflict
from graph.schema import describe_schema
from ontology.validate import Ontology
from server.loading import load_model
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
    load_model(driver, [DC1], "dc1", ontology)
    before = snapshot(driver)
    again = load_model(driver, [DC1], "dc1", ontology)
    assert again.model is not None
    assert again.ontology is not None
    assert not again.model.changed
    assert not again.ontology.changed
    assert snapshot(driver) == before


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


def test_live_state_survives_reload(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    driver.execute_query("MATCH (p:Point) WITH p LIMIT 1 SET p.value = 42.0, p.quality = 'good'")
    load_model(driver, [DC1], "dc1", ontology)
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
