"""An ontology whose local names collide in several ways, and a model that tries label
injection through odd local names, loaded into the real Neo4j: every label, type and key
is one the naming rule gives, none is kgtwin's own, and nothing reaches Cypher unescaped."""

from __future__ import annotations

import re

from neo4j import Driver

from kgtwin.graph.labels import SYSTEM_LABELS, SYSTEM_TYPES
from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.conftest import FIXTURES

HERE = FIXTURES / "ontology" / "collisions"
SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def test_colliding_and_odd_names_load_under_the_naming_rule(driver: Driver) -> None:
    ontology = Ontology.load([*default_ontology_files(), HERE / "vocabulary.ttl"])
    result = load_model(driver, [HERE / "model.ttl"], "collisions", ontology)
    assert result.report.ok, result.report.problems
    records, _, _ = driver.execute_query(
        "MATCH (n:Twin {model: 'collisions'}) RETURN n.id AS id, labels(n) AS labels, "
        "keys(n) AS keys"
    )
    labels = {r["id"]: set(r["labels"]) for r in records}
    assert {"a_Pump", "Asset"} <= labels["p1"]
    assert "b_Pump" in labels["p2"]
    assert "a_Asset" in labels["p3"]
    assert "b_Asset" in labels["p4"]
    assert "a_ApiToken" in labels["t1"]
    assert "Evil____" in labels["e1"]
    assert "Pump_60_20SET_20n_3AApiToken_20_2F_2F" in labels["e2"]
    assert "P_mpe" in labels["u1"]
    every_label = set().union(*labels.values())
    assert every_label.isdisjoint(SYSTEM_LABELS - {"Twin"})
    assert all(SAFE.match(label) for label in every_label)
    keys = {r["id"]: set(r["keys"]) for r in records}
    assert "a_model" in keys["p1"]
    assert "rate__x" in keys["p3"]
    # kgtwin's own model key is untouched by the model's a:model
    (row,), _, _ = driver.execute_query(
        "MATCH (n:Twin {id: 't1'}) RETURN n.model AS model, n.a_model AS theirs"
    )
    assert (row["model"], row["theirs"]) == ("collisions", "admin")
    records, _, _ = driver.execute_query(
        "MATCH (:Twin {model: 'collisions'})-[r]->() RETURN collect(DISTINCT type(r)) AS types"
    )
    types = set(records[0]["types"])
    assert {"HAS_PART", "B_FEEDS"} <= types  # b:feeds shares kgt:feeds's local name
    assert "A_FAILS" in types
    assert types.isdisjoint(SYSTEM_TYPES)
    assert len(types) == 4  # HAS_PART, a:has_part told apart by a hash, B_FEEDS, A_FAILS
    # the ontology's nodes name each term and its IRI
    records, _, _ = driver.execute_query(
        "MATCH (c:Class) WHERE NOT c:Twin AND c.iri STARTS WITH 'https://example.org/' "
        "RETURN c.iri AS iri, c.name AS name"
    )
    names = {r["iri"]: r["name"] for r in records}
    assert names["https://example.org/a#ApiToken"] == "a_ApiToken"
    assert names["https://example.org/b#Pump"] == "b_Pump"
