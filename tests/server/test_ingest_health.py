"""The ingestion worker's health as the server reports it (issue 21): ``/healthz`` answers
503 while ingestion is stalled (messages received, none finished for ``stall_after``
seconds) and 200 again once it moves; a worker that gives up shuts the server down with
exit status 1."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType

import anyio
import pytest
from httpx import Response
from neo4j import Driver
from starlette.datastructures import State

from kgtwin.graph.tokens import create_token
from kgtwin.server.app import create_app
from kgtwin.server.ingest_health import shut_down_when_failed
from tests.ingest.mqtt_clients import Publisher, wait_until
from tests.mqtt_service import MqttService, unique
from tests.neo4j_service import Neo4jService
from tests.server.serving import serving, settings_for

POWER, POWER_ID = "dc1/ups-a1/output-power", "ups-a1.output-power"


def test_healthz_says_stalled_while_nothing_can_be_written_and_ok_after(
    dc1: Driver, neo4j_server: Neo4jService, mqtt_broker: MqttService
) -> None:
    settings = settings_for(
        neo4j_server.uri,
        neo4j_server.user,
        neo4j_server.password,
        ingest=True,
        mqtt_url=mqtt_broker.url,
        mqtt_client_id=unique("health"),
        stall_after=1,
    )
    token = create_token(dc1, "viewer").token
    with (
        serving(create_app(settings)) as http,
        Publisher(mqtt_broker.address) as publisher,
        dc1.session() as session,
    ):

        def health() -> Response:  # a stranger hears only up or down
            return http.get("/healthz", headers={"authorization": f"Bearer {token}"})

        wait_until(lambda: health().json()["ingest"]["connected"], 30)
        healthy = health()
        assert healthy.status_code == 200
        assert healthy.json()["ingest"]["status"] == "ok"
        lock = session.begin_transaction()  # the point cannot be written meanwhile
        lock.run("MATCH (p:Point {id: $id}) SET p.locked = true", id=POWER_ID).consume()
        publisher.send(POWER, b"42.0")
        wait_until(lambda: health().status_code == 503, 30)
        stalled = health().json()
        assert stalled["status"] == "unavailable"
        assert stalled["ingest"]["status"] == "stalled"
        assert stalled["ingest"]["pending"] == 1
        assert stalled["ingest"]["secondsWithoutProgress"] >= 1.0  # stall_after
        stranger = http.get("/healthz")
        assert (stranger.status_code, stranger.json()) == (503, {"status": "unavailable"})
        metrics = http.get("/metrics").text
        assert "kgtwin_ingest_stalled 1.0" in metrics
        lock.rollback()
        wait_until(lambda: health().status_code == 200, 30)
        assert health().json()["ingest"]["pending"] == 0


class GivenUp:
    """A worker that has given up (all :func:`shut_down_when_failed` reads of it)."""

    failure = "6 unexpected errors in a row with nothing acknowledged in between"


@pytest.fixture
def sigterm() -> Iterator[threading.Event]:
    """SIGTERM caught for the test (uvicorn's handler would shut the server down)."""
    caught = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        caught.set()

    previous = signal.signal(signal.SIGTERM, handler)
    yield caught
    signal.signal(signal.SIGTERM, previous)


def test_a_worker_that_gives_up_shuts_the_server_down(sigterm: threading.Event) -> None:
    state = State()
    anyio.run(shut_down_when_failed, GivenUp(), state, 0.01)
    assert sigterm.is_set()
    assert state.ingest_failure == GivenUp.failure  # cmd_serve exits with status 1 on it
