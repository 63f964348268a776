"""The MQTT broker the test suite runs against, and brokers of their own for tests that
restart or reconfigure one.

Where the session's broker comes from, first match wins:

1. ``MQTT_URL`` is set (``mqtt://[user:password@]host[:port]`` or ``mqtts://...``): that
   broker. It cannot be restarted or reconfigured from here, so tests that need to do so
   fail with a message saying why (they are never skipped).
2. Otherwise Mosquitto, installed with apt-get if missing (this is the test set-up's job,
   never the library's), runs as an :class:`devkit.broker.LocalBroker` in
   ``root/mqtt-test-PID/session`` on a free loopback port, stopped and deleted at the end.

Brokers of their own (:class:`LocalBrokers`) live next to it in ``root/mqtt-test-PID``.
Folders of sessions that died without cleaning up are removed first, their brokers
stopped. A broker that cannot be had is an error, never a skip.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from kgtwin.devkit.broker import LocalBroker, install_mosquitto, stop_leftover
from kgtwin.devkit.launcher import free_ports
from kgtwin.ingest.address import BrokerAddress, configure, parse_broker_url
from tests.neo4j_service import alive

logger = logging.getLogger(__name__)

SESSION_PREFIX = "mqtt-test"
CONNECT_TIMEOUT = 10.0
# Mosquitto's own defaults: QoS 1 messages in flight to a client, and queued behind them in
# its session (past that Mosquitto drops the client's messages, even while it is offline).
MOSQUITTO_MAX_INFLIGHT = 20
MOSQUITTO_MAX_QUEUED = 1_000

NO_OWN_BROKER = (
    "MQTT_URL is set ({url}), so the tests use that broker, which they cannot restart or "
    "reconfigure; this test needs a broker of its own. Unset MQTT_URL to let the tests "
    "start Mosquitto themselves."
)


@dataclass(frozen=True, slots=True)
class MqttService:
    """How to reach the session's broker; ``kind`` is ``env`` or ``local``.

    ``broker`` is the :class:`LocalBroker` behind a ``local`` service, ``None`` otherwise.
    """

    address: BrokerAddress
    kind: str
    broker: LocalBroker | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.address.url

    def restart(self, timeout: float = 10.0) -> None:
        """Restart the broker, keeping its persistence; impossible with ``MQTT_URL``."""
        if self.broker is None:
            raise RuntimeError(NO_OWN_BROKER.format(url=self.address.safe_url))
        self.broker.restart(timeout)


@contextmanager
def session_folder(root: Path) -> Iterator[Path]:
    """``root/mqtt-test-PID`` for this session's brokers, deleted (brokers stopped) at the end.

    Folders of earlier sessions whose process is gone are cleaned up first.
    """
    _remove_orphans(root)
    folder = root / f"{SESSION_PREFIX}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        _remove(folder)


@contextmanager
def mqtt_service(folder: Path) -> Iterator[MqttService]:
    """Yield a broker for the session: ``MQTT_URL``'s, or a local Mosquitto in ``folder``."""
    url = os.environ.get("MQTT_URL")
    if url:
        address = parse_broker_url(url)
        check_reachable(address)
        yield MqttService(address, "env")
        return
    install_mosquitto()
    with LocalBroker(folder / "session", free_ports(1)[0]) as broker:
        yield MqttService(broker.address, "local", broker)


class LocalBrokers:
    """Starts brokers of their own for tests, each in a fresh folder on a fresh port, and
    stops (and deletes) every one of them on :meth:`close`. Works with ``MQTT_URL`` set
    too; the fixtures check :func:`own_brokers_refused` first."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._stack = ExitStack()

    def new(
        self, *, username: str | None = None, password: str | None = None, **limits: Any
    ) -> LocalBroker:
        """A broker in a fresh folder on a free port, not started yet (stopped on close);
        ``limits`` are :class:`LocalBroker`'s queue limits and ``acl``."""
        install_mosquitto()
        broker = LocalBroker(
            self._folder / f"own-{uuid.uuid4().hex[:8]}",
            free_ports(1)[0],
            username=username,
            password=password,
            **limits,
        )
        self._stack.callback(shutil.rmtree, broker.config.directory, ignore_errors=True)
        self._stack.callback(broker.stop)
        return broker

    def start(
        self, *, username: str | None = None, password: str | None = None, **limits: Any
    ) -> LocalBroker:
        """A started broker; with a username and password, only that user may connect."""
        broker = self.new(username=username, password=password, **limits)
        broker.start()
        return broker

    def start_default(self) -> LocalBroker:
        """A started broker with Mosquitto's own defaults: 20 messages in flight and 1,000
        queued per client (kgtwin's local brokers raise both)."""
        return self.start(
            max_inflight_messages=MOSQUITTO_MAX_INFLIGHT, max_queued_messages=MOSQUITTO_MAX_QUEUED
        )

    def close(self) -> None:
        self._stack.close()


def own_brokers_refused() -> str | None:
    """Why a test cannot have brokers of its own (``MQTT_URL`` is set), or ``None``."""
    url = os.environ.get("MQTT_URL")
    return NO_OWN_BROKER.format(url=parse_broker_url(url).safe_url) if url else None


def unique(prefix: str) -> str:
    """``prefix`` with a random suffix: a topic or client id that no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def check_reachable(address: BrokerAddress, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ``RuntimeError`` unless the broker accepts an MQTT connection within ``timeout``."""
    answered = threading.Event()
    outcome: list[ReasonCode] = []

    def on_connect(
        client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        outcome.append(reason)
        answered.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"kgtwin-test-check-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,  # one attempt; its answer is all we want
    )
    client.on_connect = on_connect
    configure(client, address)
    try:
        client.connect(address.host, address.port)
        client.loop_start()
        if not answered.wait(timeout):
            raise RuntimeError(f"The broker {address.safe_url} sent no CONNACK in {timeout} s.")
        if outcome[0].is_failure:
            raise RuntimeError(f"The broker {address.safe_url} refused us: {outcome[0]}.")
    except OSError as exc:
        raise RuntimeError(f"Cannot reach the broker {address.safe_url}: {exc}") from exc
    finally:
        client.disconnect()
        client.loop_stop()


def _remove_orphans(root: Path) -> None:
    for folder in root.glob(f"{SESSION_PREFIX}-*"):
        owner = folder.name.removeprefix(f"{SESSION_PREFIX}-")
        if not owner.isdigit() or alive(int(owner)):
            continue
        logger.warning("removing the MQTT test folder %s of a session that died", folder)
        _remove(folder)


def _remove(folder: Path) -> None:
    for broker_folder in folder.iterdir() if folder.is_dir() else ():
        if broker_folder.is_dir():
            stop_leftover(broker_folder)
    shutil.rmtree(folder, ignore_errors=True)
