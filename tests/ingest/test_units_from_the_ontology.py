"""Issue 15: a unit a domain expert adds to ``ontology/core/units.ttl`` is ingested with no
code change, through the real path. A copy of the ontology files with a kilo-BTU per hour
unit validates a model whose point is in that unit and loads it into Neo4j; the worker,
its units read from those files at start (as ``kgtwin ingest`` reads ``Settings.ontology``,
or as the server builds them from the ontology it loads), takes MQTT values in the new unit
on a kW point, and in kW on the new unit's point."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from kgtwin.ingest.errors import Reason
from kgtwin.ontology.files import PACKAGE_DIR, default_ontology_files
from kgtwin.ontology.units import Units
from kgtwin.ontology.validate import Ontology
from kgtwin.server.app import create_app
from kgtwin.server.loading import load_model
from tests.conftest import DC1
from tests.ingest.mqtt_clients import Publisher, Subscriber, running_worker, wait_until
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import Neo4jService, clean_database
from tests.server.serving import serving, settings_for
from tests.units import ontology_units

KILO_BTU_PER_HOUR = """
unit:KiloBTU_IT-PER-HR
    a qudt:Unit ;
    rdfs:label "kilo British thermal unit (international table) per hour"@en ;
    qudt:symbol "kBtu/h" ;
    qudt:hasQuantityKind quantitykind:Power ;
    qudt:conversionMultiplier 293.0710701722222 .
"""
KW_PER_KBTU_H = 0.2930710701722222

POWER, POWER_ID = "dc1/ups-a1/output-power", "ups-a1.output-power"  # KiloW, 0..440


def plant(prefix: str) -> str:
    """A chiller whose cooling output is metered in the new unit."""
    return f"""
@prefix site: <https://w3id.org/kgtwin/site/{prefix}#> .
@prefix kgt:  <https://w3id.org/kgtwin/core#> .
@prefix dc:   <https://w3id.org/kgtwin/datacentre#> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

site:plant
    a kgt:Site ;
    rdfs:label "Plant" .

site:chiller-9
    a dc:Chiller ;
    rdfs:label "Chiller 9" ;
    kgt:locatedIn site:plant ;
    kgt:ratedCapacity 350.0 ;
    kgt:capacityUnit unit:KiloW ;
    kgt:hasPoint site:chiller-9.cooling .

site:chiller-9.cooling
    a kgt:Point ;
    rdfs:label "Chiller 9 cooling output" ;
    kgt:unit unit:KiloBTU_IT-PER-HR ;
    kgt:datatype "double" ;
    kgt:minValue 0.0 ;
    kgt:maxValue 2000.0 ;
    kgt:expectedInterval 30.0 ;
    kgt:mqttTopic "{prefix}/chiller-9/cooling" .
"""


@pytest.fixture(scope="module")
def edited_ontology(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The ontology files, copied, with the new unit added to units.ttl."""
    folder = tmp_path_factory.mktemp("ontology")
    copies = []
    for path in default_ontology_files():
        copy = folder / path.relative_to(PACKAGE_DIR)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copies.append(copy)
    units_ttl = folder / "core" / "units.ttl"
    units_ttl.write_text(units_ttl.read_text(encoding="utf-8") + KILO_BTU_PER_HOUR)
    return copies


@pytest.fixture(scope="module")
def prefix() -> str:
    return unique("btu")


@pytest.fixture(scope="module")
def with_chiller(
    _session_driver: Driver,
    edited_ontology: list[Path],
    prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Driver]:
    """The example site and the chiller, validated against the edited ontology and loaded."""
    clean_database(_session_driver)
    ontology = Ontology.load(edited_ontology)
    model = tmp_path_factory.mktemp("model") / "plant.ttl"
    model.write_text(plant(prefix))
    for files, name in (([DC1], "dc1"), ([model], "btu")):
        result = load_model(_session_driver, files, name, ontology)
        assert result.report.ok, [p.render() for p in result.report.problems]
    yield _session_driver
    clean_database(_session_driver)


def value(driver: Driver, point_id: str) -> object:
    records, _, _ = driver.execute_query(
        "MATCH (p:Point {id: $id}) RETURN p.value AS value", id=point_id
    )
    return records[0]["value"]


def test_a_unit_added_to_units_ttl_is_ingested_with_no_code_change(
    with_chiller: Driver, mqtt_broker: MqttService, edited_ontology: list[Path], prefix: str
) -> None:
    units = Units.read(edited_ontology)  # what `kgtwin ingest` does at start
    cooling = f"{prefix}/chiller-9/cooling"
    with (
        running_worker(with_chiller, mqtt_broker.address, units=units) as running,
        Publisher(mqtt_broker.address) as publisher,
    ):
        assert cooling in running.worker.table.by_topic  # its unit is the ontology's
        publisher.send(POWER, json.dumps({"value": 1000, "unit": "kBtu/h"}))
        publisher.send(cooling, json.dumps([{"n": cooling, "v": 50, "u": "kW"}]))  # SenML
        assert running.settled(2) == {"applied": 2, "outdated": 0, "deadlettered": 0, "ignored": 0}
    assert value(with_chiller, POWER_ID) == pytest.approx(1000 * KW_PER_KBTU_H)
    assert value(with_chiller, "chiller-9.cooling") == pytest.approx(50 / KW_PER_KBTU_H)


def test_without_the_unit_in_units_ttl_the_same_messages_are_refused(
    with_chiller: Driver, mqtt_broker: MqttService, prefix: str
) -> None:
    """The control: the bundled units.ttl lacks the unit, so the chiller's point is not
    ingested (its unit is not declared) and a value in kBtu/h is dead-lettered."""
    with (
        running_worker(with_chiller, mqtt_broker.address, units=ontology_units()) as running,
        Publisher(mqtt_broker.address) as publisher,
        Subscriber(mqtt_broker.address, f"kgtwin/deadletter/{POWER}") as dead_letters,
    ):
        skipped = [why for why in running.worker.table.skipped if "chiller-9" in why]
        assert skipped
        assert "point unit 'KiloBTU_IT-PER-HR' is not declared in ontology/core" in skipped[0]
        publisher.send(POWER, json.dumps({"value": 1000, "unit": "kBtu/h"}))
        assert running.settled(1)["deadlettered"] == 1
        (letter,) = dead_letters.wait_for(1)
    assert json.loads(letter.payload)["reason"] == Reason.UNKNOWN_UNIT


def test_the_server_gives_what_if_and_its_worker_the_units_of_its_ontology(
    with_chiller: Driver,
    neo4j_server: Neo4jService,
    mqtt_broker: MqttService,
    edited_ontology: list[Path],
    prefix: str,
) -> None:
    settings = settings_for(
        neo4j_server.uri,
        neo4j_server.user,
        neo4j_server.password,
        ingest=True,
        mqtt_url=mqtt_broker.url,
        mqtt_client_id=unique("server"),
    ).with_ontology(edited_ontology)
    app = create_app(settings)
    with serving(app), Publisher(mqtt_broker.address) as publisher:
        assert app.state.ingest.wait_ready(30)
        assert app.state.ingest.units is app.state.services.units  # one table
        publisher.send(f"{prefix}/chiller-9/cooling", json.dumps({"value": 100, "unit": "kW"}))
        wait_until(
            lambda: value(with_chiller, "chiller-9.cooling") == pytest.approx(100 / KW_PER_KBTU_H),
            20,
            lambda: f"chiller-9.cooling = {value(with_chiller, 'chiller-9.cooling')}",
        )
