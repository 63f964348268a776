"""The Brick example site (ontology/sites/office.ttl) end to end on the real Neo4j, beside
dc1 in one graph: Brick's shapes, alignment labels and keys, what-if checked against a
brute-force oracle over the Turtle itself, and telemetry in through MQTT."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from neo4j import Driver
from rdflib import Graph, Literal, Namespace

from kgtwin.graph.errors import OntologyConflict
from kgtwin.graph.reader import Reader
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.units import Units
from kgtwin.ontology.validate import Ontology
from kgtwin.server.graph_cache import GraphCache
from kgtwin.server.loading import load_model
from tests.conftest import DC1, OFFICE
from tests.ingest.mqtt_clients import Publisher, running_worker, wait_until
from tests.mqtt_service import MqttService
from tests.neo4j_service import clean_database
from tests.server.schema.conftest import READ_ANYONE, Api

BRICK = Namespace("https://brickschema.org/schema/Brick#")
KGT = Namespace("https://w3id.org/kgtwin/core#")
HQ = "https://w3id.org/kgtwin/site/office#"


def model_nodes(driver: Driver, model: str) -> list[tuple[Any, ...]]:
    records, _, _ = driver.execute_query(
        "MATCH (n:Twin {model: $model}) RETURN n.iri, labels(n), properties(n) ORDER BY n.iri",
        model=model,
    )
    return [(r[0], sorted(r[1]), r[2]) for r in records]


@pytest.fixture(scope="module")
def both(_session_driver: Driver, brick_ontology: Ontology) -> Driver:
    """dc1, then the Brick office, in one emptied database."""
    clean_database(_session_driver)
    assert load_model(_session_driver, [DC1], "dc1", brick_ontology).report.ok
    dc1_before = model_nodes(_session_driver, "dc1")
    office = load_model(_session_driver, [OFFICE], "office", brick_ontology)
    assert office.report.ok, office.report.problems
    assert model_nodes(_session_driver, "dc1") == dc1_before  # the office touched nothing
    return _session_driver


@pytest.fixture(scope="module")
def api(both: Driver, brick_ontology: Ontology) -> Api:
    catalogue = Catalogue.build(brick_ontology.graph, brick_ontology.vocabulary)
    return Api(both, catalogue, Units.of(brick_ontology.graph), READ_ANYONE)


@pytest.fixture(scope="module")
def cache(both: Driver) -> GraphCache:
    cache = GraphCache()
    assert cache.refresh(Reader(both))
    return cache


def test_a_reload_of_the_office_changes_nothing(both: Driver, brick_ontology: Ontology) -> None:
    assert load_model(both, [OFFICE], "office", brick_ontology).unchanged is not None
    result = load_model(both, [OFFICE], "office", brick_ontology, verify=True)
    assert result.model is not None
    assert result.model.nodes_created == result.model.nodes_updated == 0
    assert result.model.rels_created == result.model.rels_removed == 0


def test_brick_nodes_carry_their_own_labels_and_the_engines(both: Driver) -> None:
    ((_, labels, props),) = [n for n in model_nodes(both, "office") if n[0] == HQ + "chwp-1.flow"]
    assert {"Twin", "Point", "brick_Point", "Chilled_Water_Flow_Sensor"} <= set(labels)
    assert props["alignedLabels"] == ["Point"]
    assert props["unit"] == props["hasUnit"] == "L-PER-SEC"
    assert props["mqttTopic"] == "office/chwp-1/flow"
    assert props["alignedKeys"] == ["mqttTopic", "unit"]
    # the blank timeseries reference is a node of its own, with an IRI from its path
    records, _, _ = both.execute_query(
        "MATCH (:Twin {iri: $iri})-[:HAS_EXTERNAL_REFERENCE]->(r:Twin) "
        "RETURN r.iri AS iri, r.hasTimeseriesId AS topic, labels(r) AS labels",
        iri=HQ + "chwp-1.flow",
    )
    (ref,) = records
    assert ref["iri"] == HQ + "chwp-1.flow_hasExternalReference_1"
    assert ref["topic"] == "office/chwp-1/flow"
    assert "TimeseriesReference" in ref["labels"]


def test_names_given_to_colliding_terms_show_in_the_graph_and_the_api(
    both: Driver, api: Api
) -> None:
    records, _, _ = both.execute_query(
        "MATCH (c:Class {iri: $iri}) WHERE NOT c:Twin RETURN c.name AS name",
        iri=str(BRICK.Point),
    )
    assert [r["name"] for r in records] == ["brick_Point"]
    data = api.data('{ ontology { class(name: "brick_Point") { iri name } } }')
    assert data["ontology"]["class"] == {"iri": str(BRICK.Point), "name": "brick_Point"}
    types = api.data("{ ontology { relationshipTypes { iri type dependencyDirection } } }")
    by_iri = {t["iri"]: t for t in types["ontology"]["relationshipTypes"]}
    assert by_iri[str(BRICK.feeds)]["type"] == "BRICK_FEEDS"
    assert by_iri[str(BRICK.feeds)]["dependencyDirection"] == "SupplierToConsumer"


# --- what-if against a brute-force oracle ---------------------------------------------


def oracle() -> tuple[dict[str, set[str]], dict[str, str]]:
    """Suppliers and policies of the office's assets, read from the Turtle with rdflib."""
    graph = Graph().parse(OFFICE, format="turtle")
    suppliers: dict[str, set[str]] = {}
    for supplier, consumer in graph.subject_objects(BRICK.feeds):
        suppliers.setdefault(str(consumer), set()).add(str(supplier))
    policies = {
        str(s): str(o)
        for s, o in graph.subject_objects(KGT.redundancyPolicy)
        if isinstance(o, Literal)
    }
    return suppliers, policies


def down_after(
    failed: set[str], suppliers: dict[str, set[str]], policies: dict[str, str]
) -> set[str]:
    down = set(failed)
    changed = True
    while changed:
        changed = False
        for node, feeds in suppliers.items():
            if node in down:
                continue
            lost = feeds & down
            policy = policies.get(node, "all")
            if (policy == "all" and lost) or (policy == "any" and lost == feeds):
                down.add(node)
                changed = True
    return down - failed


def test_what_if_on_the_brick_site_matches_a_brute_force_oracle(
    api: Api, cache: GraphCache
) -> None:
    suppliers, policies = oracle()
    assets = sorted({*suppliers, *(s for feeds in suppliers.values() for s in feeds)})
    cases = [{a} for a in assets] + [set(p) for p in itertools.combinations(assets[:8], 2)]
    query = "query($fail: [String!]!) { whatIf(fail: $fail) { impacted(first: 100) { iri } } }"
    for failed in cases:
        data = api.data(query, {"fail": sorted(failed)}, cache=cache)
        got = {item["iri"] for item in data["whatIf"]["impacted"]}
        assert got == down_after(failed, suppliers, policies), sorted(failed)


def test_one_pump_fails_and_every_zone_keeps_its_cooling(api: Api, cache: GraphCache) -> None:
    data = api.data(
        '{ whatIf(fail: ["' + HQ + 'chwp-1"]) { impactedCount degraded { id } } }',
        cache=cache,
    )
    assert data["whatIf"]["impactedCount"] == 0
    assert {d["id"] for d in data["whatIf"]["degraded"]} == {"ahu-1-coil", "ahu-2-coil"}


# --- telemetry --------------------------------------------------------------------------


@pytest.fixture
def publisher(mqtt_broker: MqttService) -> Iterator[Publisher]:
    with Publisher(mqtt_broker.address) as publisher:
        yield publisher


def value_of(driver: Driver, iri: str) -> Any:
    records, _, _ = driver.execute_query("MATCH (p:Twin {iri: $iri}) RETURN p.value", iri=iri)
    return records[0][0]


def test_brick_points_take_telemetry_through_mqtt_with_unit_conversion(
    both: Driver, mqtt_broker: MqttService, publisher: Publisher, api: Api, cache: GraphCache
) -> None:
    both.execute_query("MATCH (p:Point {model: 'office'}) REMOVE p.value, p.observedAt")
    try:
        with running_worker(both, mqtt_broker.address) as running:
            publisher.send("office/vav-1/zone-temp", json.dumps({"value": 71.6, "unit": "degF"}))
            publisher.send("office/chwp-1/fault", b"true")
            assert running.settled(2)["applied"] == 2
        wait_until(
            lambda: value_of(both, HQ + "chwp-1.fault") is True, 10, lambda: "fault not applied"
        )
        assert value_of(both, HQ + "vav-1.zone-temp") == pytest.approx(22.0)
        data = api.data("{ reportedFailures { id point value } }")
        assert {"id": "chwp-1", "point": "chwp-1.fault", "value": True} in data["reportedFailures"]
        live = api.data("{ whatIf(fromLiveState: true) { failed degraded { id } } }", cache=cache)
        assert HQ + "chwp-1" in live["whatIf"]["failed"] or "chwp-1" in live["whatIf"]["failed"]
        assert {d["id"] for d in live["whatIf"]["degraded"]} == {"ahu-1-coil", "ahu-2-coil"}
    finally:
        both.execute_query("MATCH (p:Point {model: 'office'}) REMOVE p.value, p.observedAt")


def test_the_office_validates_against_brick_shapes_and_a_broken_copy_does_not(
    brick_ontology: Ontology, tmp_path: Any
) -> None:
    from kgtwin.ontology.validate import validate

    assert validate([OFFICE], brick_ontology).ok
    broken = tmp_path / "broken.ttl"
    # Brick's shape for a timeseries reference wants its id (ref:TimeseriesReference)
    text = OFFICE.read_text(encoding="utf-8")
    cut = '\n        ref:hasTimeseriesId "office/vav-1/zone-temp" ]'
    assert cut in text
    broken.write_text(text.replace(cut, " ]"), encoding="utf-8")
    report = validate([broken], brick_ontology)
    assert not report.ok
    (problem,) = report.problems
    assert problem.file == broken
    assert problem.property == "ref:hasTimeseriesId"
    assert problem.expected == "at least 1 value(s)"
    assert problem.message == "too few values"  # Brick's shape gives no sh:message


ANNEX = """
@prefix brick: <https://brickschema.org/schema/Brick#> .
@prefix ref:   <https://brickschema.org/schema/Brick/ref#> .
@prefix kgt:   <https://w3id.org/kgtwin/core#> .
@prefix unit:  <http://qudt.org/vocab/unit/> .
@prefix an:    <https://example.org/annex#> .
an:annex-pump a brick:Pump .
an:annex-ahu a brick:AHU ; brick:isFedBy an:annex-pump .
an:annex-pump.fault a brick:Fault_Status ; brick:isPointOf an:annex-pump ;
    brick:hasUnit unit:UNITLESS ; kgt:datatype "boolean" ; kgt:expectedInterval 10 ;
    kgt:failedWhen true ;
    ref:hasExternalReference [ a ref:TimeseriesReference ;
        ref:hasTimeseriesId "annex/pump/fault" ] .
"""


def test_points_and_dependencies_written_the_other_way_round(
    both: Driver, brick_ontology: Ontology, api: Api, tmp_path: Any
) -> None:
    """brick:isPointOf and brick:isFedBy, the way many Brick models are written: the
    point is the equipment's, its failure is reported, and the AHU depends on the pump."""
    annex = tmp_path / "annex.ttl"
    annex.write_text(ANNEX, encoding="utf-8")
    result = load_model(both, [annex], "annex", brick_ontology)
    assert result.report.ok, result.report.problems
    try:
        data = api.data('{ asset(id: "annex-pump") { points { id mqttTopic } } }')
        assert data["asset"]["points"] == [
            {"id": "annex-pump.fault", "mqttTopic": "annex/pump/fault"}
        ]
        cache = GraphCache()
        assert cache.refresh(Reader(both))
        impacted = api.data('{ whatIf(fail: ["annex-pump"]) { impacted { id } } }', cache=cache)
        assert impacted["whatIf"]["impacted"] == [{"id": "annex-ahu"}]
        both.execute_query(
            "MATCH (p:Twin {id: 'annex-pump.fault'}) SET p.value = true, p.stale = false"
        )
        failures = api.data("{ reportedFailures { id point } }")["reportedFailures"]
        assert {"id": "annex-pump", "point": "annex-pump.fault"} in failures
    finally:
        both.execute_query("MATCH (n:Twin {model: 'annex'}) DETACH DELETE n")


def test_a_load_with_an_ontology_lacking_the_office_terms_is_refused(
    both: Driver, ontology: Ontology
) -> None:
    """Loading dc1 without Brick would drop Brick's Class and Relationship nodes, and with
    them the meanings the engine follows on the office: refused, nothing written."""
    before, _, _ = both.execute_query("MATCH (t:OntologyTerm) RETURN count(t) AS n")
    with pytest.raises(OntologyConflict, match="model\\(s\\) 'office' in the graph carry"):
        load_model(both, [DC1], "dc1", ontology)
    after, _, _ = both.execute_query("MATCH (t:OntologyTerm) RETURN count(t) AS n")
    assert after[0]["n"] == before[0]["n"]


def test_availability_of_a_zone_follows_its_plant(api: Api, cache: GraphCache) -> None:
    """kgt:mtbfHours and kgt:mttrHours on Brick equipment: a zone behind the chiller, the
    panel and its air handler (single points of failure) is available less than always."""
    data = api.data(
        '{ availability(targets: ["' + HQ + 'zone-4"], trials: 4000, seed: 1) {'
        " targets { availability } } }",
        cache=cache,
    )
    (zone,) = data["availability"]["targets"]
    assert 0.9 < zone["availability"] < 1.0
