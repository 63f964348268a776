"""``kgtwin demo --site office`` by its pieces, as the demo runs them (``tests/devkit/
test_demo.py`` runs the whole dc1 demo as a subprocess): the office site loaded with the
Brick vocabulary the site table adds, the telemetry simulator publishing every office
point through the real broker to the real ingestion worker, ``--fault chwp-1`` reported
failed through the fault point's ``kgt:failedWhen``, and the welcome text's GraphQL
examples answering what their comments say. Waits are bounded; nothing is timed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from neo4j import Driver

from kgtwin.devkit.demo import _examples, load_site
from kgtwin.devkit.demo_sites import DEFAULT_SITE, SITES
from kgtwin.devkit.simulator import SimulatorOptions, TelemetrySimulator, read_site
from kgtwin.graph.dependencies import read_reported_failures
from kgtwin.graph.live import read_points
from kgtwin.graph.reader import Reader
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.standards import vocabulary_files
from kgtwin.ontology.units import Units
from kgtwin.ontology.validate import Ontology
from kgtwin.server.cli import main
from kgtwin.server.graph_cache import GraphCache
from kgtwin.server.settings import Settings
from tests.ingest.mqtt_clients import Running, Subscriber, running_worker, wait_until
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import clean_database
from tests.server.schema.conftest import READ_ANYONE, Api

OFFICE = SITES["office"]
SPEED = 10.0  # every office point reports at least every 6 s
TIMEOUT = 60.0
ZONES = {f"zone-{i}" for i in range(1, 7)}
FAULTS = {"ahu-1", "ahu-2", "ch-1", "chwp-1", "chwp-2"}  # the assets with a fault point


@pytest.fixture(scope="module")
def office_settings() -> Settings:
    return OFFICE.settings(Settings.from_env({}))


@pytest.fixture(scope="module")
def office_ontology(office_settings: Settings) -> Ontology:
    return Ontology.load(office_settings.ontology_files)


@pytest.fixture(scope="module")
def office(_session_driver: Driver, office_settings: Settings) -> Driver:
    """The office site loaded into an emptied database, once for the module, as the demo
    loads it."""
    clean_database(_session_driver)
    said: list[str] = []
    assert load_site(_session_driver, OFFICE, office_settings, said.append), said
    assert said == [
        "loading the example site office.ttl: an office building's chilled water and air "
        "handling, written in Brick (validated with brick first)"
    ]
    return _session_driver


@pytest.fixture
def ingesting(
    office: Driver, mqtt_broker: MqttService, office_ontology: Ontology
) -> Iterator[Running]:
    office.execute_query(
        "MATCH (p:Point) REMOVE p.value, p.observedAt, p.receivedAt, p.quality, p.stale"
    )
    with running_worker(
        office, mqtt_broker.address, units=Units.of(office_ontology.graph)
    ) as running:
        yield running


@pytest.fixture
def api(office: Driver, office_ontology: Ontology, office_settings: Settings) -> Api:
    """The GraphQL schema as the demo serves it: the office ontology's catalogue and units."""
    ontology = office_ontology
    served = office_settings.override(anonymous_read=READ_ANYONE.anonymous_read)
    return Api(
        office,
        Catalogue.build(ontology.graph, ontology.vocabulary),
        Units.of(ontology.graph),
        served,
    )


@pytest.fixture(scope="module")
def cache(office: Driver) -> GraphCache:
    """The office's dependency snapshot, as the served API keeps it."""
    cache = GraphCache()
    assert cache.refresh(Reader(office))
    return cache


def simulator(driver: Driver, broker: MqttService, *faults: str) -> TelemetrySimulator:
    options = SimulatorOptions(speed=SPEED, faults=faults, client_id=unique("simulator"), seed=1)
    return TelemetrySimulator(broker.address, Reader(driver), options)


def missing_values(driver: Driver) -> list[str]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Point) WHERE p.mqttTopic IS NOT NULL AND p.value IS NULL RETURN p.id AS id"
    )
    return sorted(r["id"] for r in records)


def values(driver: Driver, suffix: str) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Point) WHERE p.id ENDS WITH $suffix RETURN p.id AS id, p.value AS value",
        suffix=suffix,
    )
    return {r["id"]: r["value"] for r in records}


def test_the_site_table_gives_the_office_brick_and_dc1_the_configured_ontology(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = Settings.from_env({})
    office = OFFICE.settings(base)
    assert office.vocabularies == ("brick",)
    assert office.ontology_files == base.ontology_files + tuple(vocabulary_files(["brick"]))
    assert SITES[DEFAULT_SITE].settings(base) == base
    assert DEFAULT_SITE == "dc1"
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--site {dc1,office}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--site", "campus"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'campus'" in capsys.readouterr().err


def test_every_office_point_gets_a_value_through_ingestion(
    office: Driver, mqtt_broker: MqttService, ingesting: Running
) -> None:
    reader = Reader(office)
    topics = {p.topic for p in read_points(reader)}
    assert len(topics) == 30
    assert all(re.fullmatch(r"office/[a-z0-9-]+/[a-z-]+", t) for t in topics), topics
    # brick:hasLocation means kgt:locatedIn: the simulator places the assets
    assert (
        read_site(reader)
        .locations["https://w3id.org/kgtwin/site/office#ch-1"]
        .endswith("#mech-room")
    )
    with (
        Subscriber(mqtt_broker.address, "office/#") as telemetry,
        Subscriber(mqtt_broker.address, "kgtwin/deadletter/#") as dead_letters,
        simulator(office, mqtt_broker),
    ):
        wait_until(
            lambda: topics <= {m.topic for m in telemetry.messages},
            TIMEOUT,
            lambda: f"no message yet on {sorted(topics - {m.topic for m in telemetry.messages})}",
        )
        wait_until(
            lambda: not missing_values(office),
            TIMEOUT,
            lambda: f"no live value yet on {missing_values(office)}",
        )
    assert ingesting.outcomes()["deadlettered"] == 0
    assert dead_letters.messages == []
    assert set(values(office, ".fault").values()) == {False}  # nothing failed
    assert read_reported_failures(reader) == []


def test_a_failed_pump_is_reported_and_the_live_what_if_starts_from_it(
    office: Driver, mqtt_broker: MqttService, ingesting: Running, api: Api, cache: GraphCache
) -> None:
    reader = Reader(office)
    with simulator(office, mqtt_broker, "chwp-1"):
        wait_until(
            lambda: (
                len(values(office, ".fault")) == len(FAULTS)
                and None not in values(office, ".fault").values()
            ),
            TIMEOUT,
            lambda: f"fault points: {values(office, '.fault')}",
        )
    assert values(office, ".fault") == {f"{a}.fault": a == "chwp-1" for a in FAULTS}
    reported = read_reported_failures(reader)
    assert [(r.asset_id, r.point_id, r.value) for r in reported] == [
        ("chwp-1", "chwp-1.fault", True)
    ]
    assert ingesting.outcomes()["deadlettered"] == 0
    (reported_example, live_what_if) = OFFICE.live_examples
    assert api.data(reported_example.query, cache=cache)["reportedFailures"][0]["id"] == "chwp-1"
    answer = api.data(live_what_if.query, cache=cache)["whatIf"]
    assert {a["id"] for a in answer["impacted"]} >= ZONES  # pump 2 was the last one


def test_the_welcome_examples_answer_what_they_say(api: Api, cache: GraphCache) -> None:
    asset, pump, chiller = (api.data(e.query, cache=cache) for e in OFFICE.examples)
    assert len(asset["asset"]["points"]) == 2
    assert pump["whatIf"]["impactedCount"] == 0  # no zone loses cooling
    assert {a["id"] for a in pump["whatIf"]["degraded"]} == {"ahu-1-coil", "ahu-2-coil"}
    assert all(a["spare"] == 0 for a in pump["whatIf"]["degraded"])
    assert {a["id"] for a in chiller["whatIf"]["impacted"]} >= ZONES  # every zone


def test_the_welcome_text_pastes_as_graphql() -> None:
    for site in SITES.values():
        text = _examples(site.examples + site.live_examples)
        assert text.count("  # ") == len(site.examples) + len(site.live_examples)
        assert all(line.startswith("  ") for line in text.splitlines())
