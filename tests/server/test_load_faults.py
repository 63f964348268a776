"""``kgtwin load`` under faults, run as a user would (in-process, real Neo4j): its exit
status says whether the model was saved (issue 21 finding 8: after Neo4j stopped as a load
committed, it exited 1 with "Neo4j is not reachable" although the model was saved), and
a second load of a model waits for the first, saying so (finding 5).

Exit status: 0 saved, 1 not saved, 3 unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from kgtwin.server.cli import LOAD_UNKNOWN, main
from tests.conftest import DC1
from tests.faults import BOLT_COMMIT, FaultProxy
from tests.ingest.mqtt_clients import wait_until
from tests.neo4j_service import Neo4jService

WRITES_MODEL = b"m.loadId = $loadId"  # in the statement that saves the Model node


def label_of_site(driver: Driver) -> str:
    records, _, _ = driver.execute_query(
        "MATCH (n:Twin {iri: 'https://w3id.org/kgtwin/site/dc1#dc1'}) RETURN n.label AS label"
    )
    return str(records[0]["label"])


@pytest.fixture
def changed(tmp_path: Path, driver: Driver, neo4j_env: dict[str, str]) -> Path:
    """dc1 loaded, and a copy of it with one label changed to load next."""
    assert main(["load", str(DC1)]) == 0
    path = tmp_path / "dc1.ttl"
    path.write_text(DC1.read_text().replace('rdfs:label "DC1 site"', 'rdfs:label "DC1 campus"'))
    return path


@pytest.fixture
def proxy(
    neo4j_server: Neo4jService, changed: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """The CLI's Neo4j is reached through a fault proxy from here on."""
    host, port = neo4j_server.uri.removeprefix("bolt://").split(":")
    with FaultProxy(host, int(port)) as proxy:
        monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{proxy.port}")
        yield proxy


def test_a_lost_commit_answer_that_was_saved_exits_0(
    proxy: FaultProxy, changed: Path, driver: Driver, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.cut_at(BOLT_COMMIT, armed_by=WRITES_MODEL)
    assert main(["load", str(changed), "--model", "dc1"]) == 0
    assert proxy.cuts == 1
    assert "model 'dc1' loaded" in capsys.readouterr().out
    assert label_of_site(driver) == "DC1 campus"


def test_a_lost_commit_that_was_not_saved_exits_1(
    proxy: FaultProxy, changed: Path, driver: Driver, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.cut_at(BOLT_COMMIT, armed_by=WRITES_MODEL, forward=False)
    assert main(["load", str(changed), "--model", "dc1"]) == 1
    assert "the model was not saved; load it again" in capsys.readouterr().err
    assert label_of_site(driver) == "DC1 site"


def test_a_lost_commit_that_cannot_be_told_exits_3_saying_so(
    proxy: FaultProxy, changed: Path, driver: Driver, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.cut_at(BOLT_COMMIT, armed_by=WRITES_MODEL, refuse=True)
    assert main(["load", str(changed), "--model", "dc1"]) == LOAD_UNKNOWN == 3
    err = capsys.readouterr().err
    assert "whether model 'dc1' was saved is unknown" in err
    assert "load it again" in err


def test_a_second_load_of_a_model_waits_for_the_first_and_says_so(
    changed: Path, driver: Driver, capsys: pytest.CaptureFixture[str]
) -> None:
    codes: list[int] = []
    with driver.session() as session:
        other = session.begin_transaction()  # as another load would: the model's lock
        other.run("MATCH (m:Model {name: 'dc1'}) SET m.locked = true").consume()
        load = threading.Thread(
            target=lambda: codes.append(main(["load", str(changed), "--model", "dc1"]))
        )
        load.start()
        seen: list[str] = []

        def told() -> bool:
            seen.append(capsys.readouterr().err)
            return "waiting for another load of model 'dc1' to finish" in "".join(seen)

        wait_until(told, 60, lambda: "".join(seen)[-500:])
        assert label_of_site(driver) == "DC1 site"  # nothing written while it waits
        other.rollback()
    load.join(60)
    assert codes == [0]
    assert label_of_site(driver) == "DC1 campus"
