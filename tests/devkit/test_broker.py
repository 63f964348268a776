"""The local Mosquitto (devkit.broker) against the real broker, with paho as the client.

Every wait has a timeout and every broker listens on 127.0.0.1 only. Tests that restart
or reconfigure a broker use one of their own (``own_broker``, ``own_brokers``).
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import CleanStartOption
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kgtwin.devkit.broker import (
    BrokerExited,
    LocalBroker,
    LocalBrokerConfig,
    LocalBrokerError,
    PortInUse,
    StartTimeout,
    render_config,
    stop_leftover,
)
from kgtwin.devkit.launcher import free_ports
from kgtwin.ingest.address import BrokerAddress, configure, parse_broker_url
from tests.mqtt_service import LocalBrokers, MqttService, session_folder, unique

REPO = Path(__file__).resolve().parent.parent.parent

TIMEOUT = 10.0  # for every wait on the broker; the happy paths take milliseconds
SECRET = "s3cr3t-pw"
MQTTv5 = MQTTProtocolVersion.MQTTv5
MQTTv311 = MQTTProtocolVersion.MQTTv311
PROTOCOLS = pytest.mark.parametrize("protocol", [MQTTv5, MQTTv311], ids=["mqtt5", "mqtt311"])


class Connection:
    """A paho client on its own network thread that records its CONNACK and messages."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        protocol: MQTTProtocolVersion,
        *,
        persistent: bool,
    ) -> None:
        self.address = address
        self.protocol = protocol
        self.persistent = persistent
        # MQTT 3.1.1 asks for a persistent session in the client, MQTT 5 in each CONNECT.
        clean_session = None if protocol == MQTTv5 else not persistent
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            clean_session=clean_session,
            # Refused or dropped, a test's client stays down: paho would otherwise sleep in
            # its reconnect back-off, which delays loop_stop() by up to a second.
            reconnect_on_failure=False,
        )
        configure(self.client, address)
        self.connack = threading.Event()
        self.reason: ReasonCode | None = None
        self.session_present: bool | None = None
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self.reason = reason
        self.session_present = flags.session_present
        self.connack.set()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        self.subacks.put(codes)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    def open(self) -> ReasonCode:
        """Connect and return the CONNACK's reason code (success or not)."""
        properties = None
        clean_start: CleanStartOption = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if self.protocol == MQTTv5:
            clean_start = not self.persistent
            if self.persistent:
                properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                properties.SessionExpiryInterval = 3600
        self.client.connect(
            self.address.host, self.address.port, clean_start=clean_start, properties=properties
        )
        self.client.loop_start()
        assert self.connack.wait(TIMEOUT), f"no CONNACK from {self.address.safe_url}"
        assert self.reason is not None
        return self.reason

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        codes = self.subacks.get(timeout=TIMEOUT)
        assert [code.value for code in codes] == [1], f"SUBACK {codes}"  # granted QoS 1

    def publish_all(self, topic: str, payloads: list[bytes]) -> None:
        infos = [self.client.publish(topic, payload, qos=1) for payload in payloads]
        deadline = time.monotonic() + TIMEOUT
        for info in infos:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        assert all(info.is_published() for info in infos), "the broker did not PUBACK them all"

    def receive(self, count: int) -> list[mqtt.MQTTMessage]:
        deadline = time.monotonic() + TIMEOUT
        received: list[mqtt.MQTTMessage] = []
        try:
            while len(received) < count:
                received.append(self.messages.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"received {len(received)} of {count} messages in {TIMEOUT} s")
        return received


@contextmanager
def connected(
    address: BrokerAddress,
    client_id: str | None = None,
    protocol: MQTTProtocolVersion = MQTTv5,
    *,
    persistent: bool = False,
) -> Iterator[Connection]:
    """A connection whose CONNACK said success; closed on exit."""
    connection = Connection(
        address, client_id or unique("kgtwin-test"), protocol, persistent=persistent
    )
    try:
        reason = connection.open()
        assert not reason.is_failure, f"{address.safe_url} refused the connection: {reason}"
        yield connection
    finally:
        connection.close()


def refusal(address: BrokerAddress, protocol: MQTTProtocolVersion) -> ReasonCode:
    """The CONNACK reason code the broker answers ``address``'s credentials with."""
    connection = Connection(address, unique("kgtwin-test"), protocol, persistent=False)
    try:
        return connection.open()
    finally:
        connection.close()


def payloads(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(count)]


def processes_of(conf_file: Path) -> list[int]:
    """Live processes whose command line names ``conf_file``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(conf_file).encode() in cmdline.read_bytes().split(b"\0"):
                found.append(int(cmdline.parent.name))
        except OSError:  # gone meanwhile
            pass
    return found


def assert_gone(pid: int, conf_file: Path) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert processes_of(conf_file) == []


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- the session's broker ---------------------------------------------------------------


def test_publish_subscribe_round_trip_at_qos_1(mqtt_broker: MqttService) -> None:
    topic = unique("kgtwin/test/round-trip")
    sent = payloads("reading", 50)
    with connected(mqtt_broker.address) as subscriber, connected(mqtt_broker.address) as publisher:
        subscriber.subscribe(topic)
        publisher.publish_all(topic, sent)
        received = subscriber.receive(len(sent))
    assert [message.payload for message in received] == sent
    assert {(message.topic, message.qos) for message in received} == {(topic, 1)}


def test_restart_of_an_external_broker_fails_with_a_reason() -> None:
    service = MqttService(parse_broker_url(f"mqtt://u:{SECRET}@broker.example"), "env")
    with pytest.raises(RuntimeError, match="MQTT_URL is set") as caught:
        service.restart()
    assert SECRET not in str(caught.value)


# --- brokers of the test's own -----------------------------------------------------------


@PROTOCOLS
def test_persistent_session_keeps_qos1_messages_while_offline_and_across_a_restart(
    own_broker: LocalBroker, protocol: MQTTProtocolVersion
) -> None:
    topic = unique("kgtwin/test/persistent")
    subscriber_id = unique("kgtwin-test-subscriber")
    # More than Mosquitto's default max_queued_messages (1000), which would drop the rest.
    before_restart = payloads("before", 1500)
    after_restart = payloads("after", 20)

    with connected(own_broker.address, subscriber_id, protocol, persistent=True) as subscriber:
        assert subscriber.session_present is False
        subscriber.subscribe(topic)
    with connected(own_broker.address) as publisher:
        publisher.publish_all(topic, before_restart)

    port = own_broker.config.port
    own_broker.restart()
    assert own_broker.config.port == port
    assert (own_broker.config.data_dir / "mosquitto.db").is_file()

    with connected(own_broker.address) as publisher:  # the session's subscription survived
        publisher.publish_all(topic, after_restart)
    with connected(own_broker.address, subscriber_id, protocol, persistent=True) as subscriber:
        assert subscriber.session_present is True
        received = subscriber.receive(len(before_restart) + len(after_restart))
    assert [message.payload for message in received] == before_restart + after_restart
    assert {message.qos for message in received} == {1}


@PROTOCOLS
def test_with_a_password_only_the_right_one_is_accepted(
    own_brokers: LocalBrokers, protocol: MQTTProtocolVersion
) -> None:
    broker = own_brokers.start(username="ingest", password=SECRET)
    host, port = broker.address.host, broker.address.port

    with connected(broker.address, protocol=protocol):
        pass  # the right password
    wrong = refusal(BrokerAddress(host, port, False, "ingest", "wrong-password"), protocol)
    anonymous = refusal(BrokerAddress(host, port), protocol)
    unknown_user = refusal(BrokerAddress(host, port, False, "nobody", SECRET), protocol)

    for reason in (wrong, anonymous, unknown_user):
        assert reason.is_failure
        assert reason.getName() in {"Bad user name or password", "Not authorized"}
    assert SECRET not in repr(broker)
    assert SECRET not in broker.config.conf_file.read_text()
    assert broker.config.passwd_file.stat().st_mode & 0o077 == 0


def test_stop_leaves_no_process(own_broker: LocalBroker) -> None:
    pid = own_broker.pid
    assert pid is not None
    conf_file = own_broker.config.conf_file
    assert processes_of(conf_file) == [pid]
    # It kept the rights it was started with (no drop to the 'mosquitto' user).
    uid_line = next(
        line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line[:4] == "Uid:"
    )
    assert uid_line.split()[1:] == [str(os.geteuid())] * 4

    assert own_broker.stop() is True
    assert_gone(pid, conf_file)
    assert own_broker.pid is None
    assert not own_broker.running
    assert not own_broker.config.pid_file.exists()
    assert port_free(own_broker.config.port)
    assert (own_broker.config.data_dir / "mosquitto.db").is_file()  # saved on SIGTERM
    assert own_broker.stop() is False


def test_stop_kills_a_broker_that_does_not_exit_on_sigterm(own_broker: LocalBroker) -> None:
    pid = own_broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process leaves SIGTERM pending; SIGKILL works
    assert own_broker.stop(timeout=0.5) is True
    assert_gone(pid, own_broker.config.conf_file)


def test_context_manager_starts_and_stops(own_brokers: LocalBrokers) -> None:
    broker = own_brokers.new()
    assert broker.pid is None
    with broker:
        pid = broker.pid
        assert pid is not None
        assert broker.url == f"mqtt://127.0.0.1:{broker.config.port}"
        with connected(parse_broker_url(broker.url)):
            pass
    assert_gone(pid, broker.config.conf_file)


def test_a_leftover_broker_blocks_a_second_start_and_stop_leftover_ends_it(
    own_broker: LocalBroker,
) -> None:
    directory = own_broker.config.directory
    pid = own_broker.pid
    assert pid is not None
    twin = LocalBroker(directory, free_ports(1)[0])
    with pytest.raises(LocalBrokerError, match=f"still runs \\(pid {pid}\\)"):
        twin.start()
    assert twin.pid is None

    assert stop_leftover(directory) is True  # as if its owner had died
    assert own_broker.pid is None  # it exited (and is reaped by the check)
    assert_gone(pid, own_broker.config.conf_file)
    assert stop_leftover(directory) is False


def test_start_refuses_a_port_in_use(own_brokers: LocalBrokers) -> None:
    broker = own_brokers.new()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", broker.config.port))
        holder.listen()
        with pytest.raises(PortInUse, match=f"Port {broker.config.port} on 127.0.0.1"):
            broker.start()
    assert broker.pid is None
    assert processes_of(broker.config.conf_file) == []


_DYING_SESSION = """
import os, sys
from pathlib import Path
from kgtwin.devkit.broker import LocalBroker
broker = LocalBroker(Path(sys.argv[1]) / f"mqtt-test-{os.getpid()}" / "session", int(sys.argv[2]))
broker.start()
print(broker.pid, broker.config.conf_file, flush=True)
os._exit(0)  # dies without stopping its broker
"""


def test_the_broker_of_a_session_that_died_is_stopped_by_the_next(
    own_brokers: LocalBrokers, tmp_path: Path
) -> None:
    own_brokers.new()  # only for its checks: Mosquitto installed and no MQTT_URL
    done = subprocess.run(
        [sys.executable, "-c", _DYING_SESSION, str(tmp_path), str(free_ports(1)[0])],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    pid, conf_file = done.stdout.split()
    assert processes_of(Path(conf_file)) == [int(pid)]  # left running, its parent gone

    with session_folder(tmp_path) as folder:
        assert processes_of(Path(conf_file)) == []  # (a zombie until init reaps it)
        assert [path.name for path in tmp_path.iterdir()] == [folder.name]
    assert list(tmp_path.iterdir()) == []


# --- fakes of the mosquitto executable: start-up failures ---------------------------------


def fake_mosquitto(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-mosquitto"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o755)
    return script


def test_a_broker_that_exits_during_start_reports_its_log(tmp_path: Path) -> None:
    fake = fake_mosquitto(
        tmp_path, "print('Error: Unable to open pwfile (fake).', file=sys.stderr)\nsys.exit(3)"
    )
    broker = LocalBroker(tmp_path / "broker", free_ports(1)[0], mosquitto=fake)
    with pytest.raises(BrokerExited, match=r"exited with code 3(.|\n)*Unable to open pwfile"):
        broker.start()
    assert broker.pid is None
    assert not broker.config.pid_file.exists()


def test_a_broker_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    fake = fake_mosquitto(tmp_path, "print('starting (fake)', flush=True)\ntime.sleep(60)")
    broker = LocalBroker(tmp_path / "broker", free_ports(1)[0], mosquitto=fake)
    with pytest.raises(StartTimeout, match=r"did not answer(.|\n)*starting \(fake\)"):
        broker.start(timeout=0.5)
    assert broker.pid is None
    assert processes_of(broker.config.conf_file) == []


# --- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"username": "ingest"}, "both"),
        ({"password": "pw"}, "both"),
        ({"username": "a:b", "password": "pw"}, "without ':'"),
        ({"username": "", "password": "pw"}, "non-empty"),
        ({"username": "u", "password": ""}, "non-empty"),
        ({"max_queued_messages": -1}, "max_queued_messages"),
        ({"max_inflight_messages": -1}, "max_inflight_messages"),
    ],
)
def test_config_is_validated(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        LocalBrokerConfig(**{"directory": Path("/tmp/b"), "port": 1883, **kwargs})


def test_config_text(tmp_path: Path) -> None:
    text = render_config(LocalBrokerConfig(tmp_path, 1884, max_queued_messages=0))
    lines = {line for line in text.splitlines() if line and not line.startswith("#")}
    assert {
        "listener 1884 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {tmp_path.resolve()}/data/",
        "max_queued_messages 0",
        "max_inflight_messages 10000",
    } <= lines
    assert ("user root" in lines) == (os.geteuid() == 0)
