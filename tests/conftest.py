"""Session services for the suite: a real Neo4j (see tests/neo4j_service.py), a real MQTT
broker (see tests/mqtt_service.py) and a real QuestDB (see tests/questdb_service.py), each
started once; every test that asks for ``driver`` starts from an empty database.

MQTT: ``mqtt_broker`` (session) is the broker every test shares; tests keep out of each
other's way with topics and client ids of their own (``tests.mqtt_service.unique``).
``own_brokers`` / ``own_broker`` (per test) are brokers of the test's own, to restart or
reconfigure without disturbing the others; stopped and deleted after the test. They fail
(never skip) when ``MQTT_URL`` points the suite at an external broker.

QuestDB: ``questdb_server`` (session) is ``QUESTDB_URL``'s server, else a local QuestDB
started for the session, as a :class:`QuestDBService` (``url``, ``user``, ``password``,
``pg_host``, ``pg_port``, ``kind``). ``questdb`` (per test) is the same service, emptied
first: every table and materialized view dropped, QuestDB's own kept. ``own_questdb`` (per
test) is a local QuestDB of the test's own on free ports (an :class:`OwnQuestDB`: its
``service``, and ``stop()`` / ``start()`` to take it away and bring it back with its data);
stopped and deleted after the test.

Markers say what a test needs beyond Python: ``neo4j``, ``mqtt``, ``questdb``, ``node``,
``browser``, ``docker``. They are set here from the fixtures a test uses
(``SERVICE_FIXTURES``), and by hand on the few tests that start a service themselves.
``make test-fast`` deselects them all. A test may start only the services it is marked
for (``SERVICE_PROGRAMS``): anything else fails the test, in every run, so a missing marker
shows at once.

Hypothesis profiles: ``ci`` (the default, the full counts) and ``fast`` (a twentieth,
``--hypothesis-profile=fast``); a test that wants more than the profile's count asks for
``examples(n)``: ``n`` under ``ci``, scaled down like the rest under ``fast``."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from neo4j import Driver

from kgtwin.devkit.broker import LocalBroker
from kgtwin.devkit.launcher import LocalNeo4jConfig, Neo4jStatus, start
from kgtwin.graph.connection import open_driver
from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.standards import vocabulary_files
from kgtwin.ontology.validate import Ontology
from tests.mqtt_service import (
    LocalBrokers,
    MqttService,
    mqtt_service,
    own_brokers_refused,
    session_folder,
)
from tests.neo4j_service import Neo4jService, clean_database, neo4j_service, private_neo4j
from tests.questdb_service import OwnQuestDB, QuestDBService, clean_questdb, questdb_service

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
OFFICE = REPO / "ontology" / "sites" / "office.ttl"
DC1 = REPO / "ontology" / "sites" / "dc1.ttl"

# --- Hypothesis profiles -----------------------------------------------------------------

CI_EXAMPLES = 100  # Hypothesis's own default
settings.register_profile("ci", max_examples=CI_EXAMPLES)
settings.register_profile("fast", max_examples=CI_EXAMPLES // 20)
settings.load_profile("ci")  # --hypothesis-profile=fast (make test-fast) loads the other


def examples(ci: int) -> int:
    """``ci`` examples under the ``ci`` profile, as many fewer under a smaller profile."""
    return max(1, ci * settings.default.max_examples // CI_EXAMPLES)


# --- markers: the services a test needs ---------------------------------------------------

SERVICES = ("neo4j", "mqtt", "questdb", "node", "browser", "docker")  # see pyproject.toml

# A test that uses one of these fixtures, directly or through another, needs the service.
SERVICE_FIXTURES = {
    "neo4j_server": "neo4j",
    "_spare_neo4j": "neo4j",
    "mqtt_folder": "mqtt",  # the session's broker and the tests' own
    "questdb_server": "questdb",
    "own_questdb": "questdb",
    "questdb_from_deploy": "questdb",  # tests/test_compose.py
    "mosquitto_from_deploy": "mqtt",  # tests/test_compose.py
    "docker_compose": "docker",  # tests/test_compose.py
    "audit_script": "node",  # tests/server/test_graphql_http_audit.py
}

# The programs that are (or bring up) a service, and the markers that allow starting them.
SERVICE_PROGRAMS = {
    "java": {"neo4j", "questdb"},
    "mvn": {"neo4j", "questdb"},  # fetches Neo4j's jars, QuestDB's jar
    "docker": {"docker", "neo4j"},  # the Neo4j service asks Docker for testcontainers first
    "mosquitto": {"mqtt"},
    "node": {"node"},
    "npm": {"node"},
    "chromium": {"browser"},
}
# Audit events that start a program: where their arguments hold the path and the argv.
_SPAWNS = {
    "subprocess.Popen": (0, 1),
    "os.exec": (0, 1),
    "os.posix_spawn": (0, 1),
    "os.spawn": (1, 2),
}
_TEMPORARY = Path(tempfile.gettempdir()).resolve()

# The service markers of the test being set up or run (None between tests), and the
# programs it was refused.
_allowed: frozenset[str] | None = None
_refused: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker in sorted({SERVICE_FIXTURES[name] for name in used & SERVICE_FIXTURES.keys()}):
            item.add_marker(marker)


def pytest_configure(config: pytest.Config) -> None:
    sys.addaudithook(_refuse_unmarked_services)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _services_of(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _services_of(item):
        return (yield)


@contextmanager
def _services_of(item: pytest.Item) -> Iterator[None]:
    """While a test is set up or run: allow the services it is marked for. Starting another
    fails the test, even where it catches exceptions."""
    global _allowed
    _allowed = frozenset(m.name for m in item.iter_markers() if m.name in SERVICES)
    _refused.clear()
    try:
        yield
    finally:
        _allowed = None
        refused = "; ".join(dict.fromkeys(_refused))
        _refused.clear()
    if refused:  # the refusal was caught and swallowed
        pytest.fail(refused, pytrace=False)


def require_service(marker: str) -> None:
    """Refuse a service's fixture to a test not marked for the service: one that asks for
    it with ``request.getfixturevalue``, which its markers cannot see."""
    if _allowed is not None and marker not in _allowed:
        pytest.fail(
            f"this test needs {marker} but is not marked for it: add its fixture to "
            f"SERVICE_FIXTURES in tests/conftest.py, or mark it @pytest.mark.{marker}",
            pytrace=False,
        )


def _refuse_unmarked_services(event: str, args: tuple[Any, ...]) -> None:
    """An audit hook: refuse to start a service program the running test is not marked for."""
    if _allowed is None or event not in _SPAWNS:
        return
    where_path, where_argv = _SPAWNS[event]
    argv = args[where_argv]
    words = [args[where_path], *(argv if isinstance(argv, list | tuple) else [argv])]
    for word in words:
        if not isinstance(word, str | bytes | os.PathLike):
            continue
        path = Path(os.fsdecode(word))
        markers = SERVICE_PROGRAMS.get(path.name)
        if markers is None or markers & _allowed:
            continue
        if len(path.parts) > 1 and path.resolve().is_relative_to(_TEMPORARY):
            continue  # a stand-in the test wrote, not the real program
        wanted = " or ".join(f"@pytest.mark.{m}" for m in sorted(markers))
        _refused.append(
            f"this test tried to start {path.name!r} but is not marked for it: mark it {wanted} "
            "(see SERVICE_PROGRAMS in tests/conftest.py)"
        )
        pytest.fail(_refused[-1], pytrace=False)


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jService]:
    require_service("neo4j")
    with neo4j_service(REPO / ".kgtwin") as service:
        yield service


@pytest.fixture(scope="session")
def _session_driver(neo4j_server: Neo4jService) -> Iterator[Driver]:
    driver = open_driver(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    yield driver
    driver.close()


@pytest.fixture
def driver(_session_driver: Driver) -> Driver:
    """A driver on an empty database (no nodes, no constraints, no indexes)."""
    clean_database(_session_driver)
    return _session_driver


@pytest.fixture(scope="session")
def _spare_neo4j() -> Iterator[tuple[LocalNeo4jConfig, Neo4jStatus]]:
    require_service("neo4j")
    with private_neo4j(REPO / ".kgtwin", "neo4j-spare") as spare:
        yield spare


@pytest.fixture
def spare_neo4j(
    _spare_neo4j: tuple[LocalNeo4jConfig, Neo4jStatus],
) -> tuple[LocalNeo4jConfig, Neo4jStatus]:
    """A small local Neo4j beside the session's, for tests that stop and start it: running
    and empty when the test begins. One for the session, as a start costs 10-30 s."""
    cfg, _ = _spare_neo4j
    running = start(cfg, progress=lambda _line: None)  # at once if the last test restarted it
    with open_driver(running.bolt_uri, running.user, running.password) as driver:
        clean_database(driver)
    return cfg, running


@pytest.fixture
def neo4j_env(neo4j_server: Neo4jService, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment that points the CLI at the test server."""
    env = {
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.user,
        "NEO4J_PASSWORD": neo4j_server.password,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def questdb_server() -> Iterator[QuestDBService]:
    require_service("questdb")
    with questdb_service(REPO / ".kgtwin") as service:
        yield service


@pytest.fixture
def questdb(questdb_server: QuestDBService) -> QuestDBService:
    """The session's QuestDB with no table and no materialized view (QuestDB's own aside)."""
    clean_questdb(questdb_server)
    return questdb_server


@pytest.fixture
def own_questdb() -> Iterator[OwnQuestDB]:
    """A started local QuestDB for this test only: stop and start it at will."""
    require_service("questdb")
    own = OwnQuestDB(REPO / ".kgtwin")
    yield own
    own.close()


@pytest.fixture(scope="session")
def ontology() -> Ontology:
    return Ontology.load(default_ontology_files())


@pytest.fixture(scope="session")
def mqtt_folder() -> Iterator[Path]:
    """This session's folder for brokers, ``.kgtwin/mqtt-test-PID``, deleted at the end."""
    require_service("mqtt")
    with session_folder(REPO / ".kgtwin") as folder:
        yield folder


@pytest.fixture(scope="session")
def mqtt_broker(mqtt_folder: Path) -> Iterator[MqttService]:
    """The session's broker: ``MQTT_URL``'s, or a local Mosquitto started for the session."""
    with mqtt_service(mqtt_folder) as service:
        yield service


@pytest.fixture
def own_brokers(mqtt_folder: Path) -> Iterator[LocalBrokers]:
    """Starts brokers for this test only (``own_brokers.start(username=..., password=...)``)."""
    refused = own_brokers_refused()
    if refused is not None:
        pytest.fail(refused, pytrace=False)
    brokers = LocalBrokers(mqtt_folder)
    yield brokers
    brokers.close()


@pytest.fixture
def own_broker(own_brokers: LocalBrokers) -> LocalBroker:
    """A started anonymous broker for this test only: restart it at will."""
    return own_brokers.start()


@pytest.fixture(scope="session")
def brick_ontology() -> Ontology:
    """The bundled ontology with Brick 1.5 (brickschema) and its alignment added."""
    return Ontology.load([*default_ontology_files(), *vocabulary_files(["brick"])])
