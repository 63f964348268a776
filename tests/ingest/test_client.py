"""The ingestion's paho client (``ingest.client.IngestClient``): its buffered reads, its
own PUBLISH decoding and its batched acknowledgements, and paho's own receive path it
takes on another paho release. Most tests run on both paths (``fast`` and ``paho``) and
expect the same.

Most tests talk to a :class:`FakeBroker`, a socket that plays the broker's side byte for
byte (plain TCP or TLS), so a test decides how the bytes are cut into reads: all packets
in one write, one byte per write, or chunks that split packets anywhere. The last tests
run against the real Mosquitto (and Neo4j): acknowledged messages are not redelivered to a
resumed session, the others are; and, on paho's own path through the ingestion worker,
nothing is acknowledged before it is written and what was not is delivered again after a
reconnect.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest
import trustme
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kgtwin.devkit.broker import LocalBroker
from kgtwin.ingest import client as ingest_client
from kgtwin.ingest.client import PAHO_RELEASES, IngestClient
from tests.ingest.mqtt_clients import Publisher, running_worker, wait_until
from tests.ingest.test_dead_letter_faults import nothing_left
from tests.ingest.test_poison import only_the_receive_maximum_arrives
from tests.ingest.test_worker import POWER, POWER_ID, live
from tests.mqtt_service import MqttService, unique

TIMEOUT = 10.0
OTHER_PAHO = "9.0.0"  # a paho-mqtt release the fast path was not written for
CONNACK_V5 = b"\x20\x03\x00\x00\x00"  # session not present, success, no properties
CONNACK_V311 = b"\x20\x02\x00\x00"


# --------------------------------------------------------------------- packets


def remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def publish(
    mid: int,
    topic: str,
    payload: bytes,
    *,
    qos: int = 1,
    v5: bool = True,
    properties: bytes = b"",
    dup: bool = False,
    retain: bool = False,
) -> bytes:
    """A PUBLISH packet as a broker sends it (``properties`` encoded, without length)."""
    encoded = topic.encode()
    body = struct.pack("!H", len(encoded)) + encoded
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += remaining_length(len(properties)) + properties
    body += payload
    header = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    return bytes([header]) + remaining_length(len(body)) + body


def user_property(key: str, value: str) -> bytes:
    k, v = key.encode(), value.encode()
    return b"\x26" + struct.pack("!H", len(k)) + k + struct.pack("!H", len(v)) + v


def stream(count: int, *, v5: bool = True) -> tuple[bytes, list[tuple[int, str, bytes]]]:
    """``count`` QoS 1 PUBLISH packets of various sizes (a payload past 127 bytes takes a
    two-byte remaining length), and the (mid, topic, payload) each should arrive as."""
    expected = [
        (i % 65535 + 1, f"site/rack-{i % 37}/power", b"x" * (i % 300)) for i in range(count)
    ]
    data = b"".join(publish(mid, topic, payload, v5=v5) for mid, topic, payload in expected)
    return data, expected


# ----------------------------------------------------------------- a fake broker


class Connection:
    """The broker's end of one client connection, past CONNECT and CONNACK."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes, chunk: int | None = None) -> None:
        """``data`` in one write, or in writes of ``chunk`` bytes a moment apart (so the
        client reads them apart)."""
        if chunk is None:
            self.sock.sendall(data)
            return
        for start in range(0, len(data), chunk):
            self.sock.sendall(data[start : start + chunk])
            time.sleep(0.001)

    def read(self, count: int, timeout: float = TIMEOUT) -> bytes:
        self.sock.settimeout(timeout)
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise AssertionError(f"the client closed the connection after {data!r}")
            data += chunk
        return data

    def read_packet(self) -> bytes:
        """The next whole packet the client sent."""
        data = self.read(2)
        length = data[1] & 0x7F
        shift = 7
        while data[-1] & 0x80:
            data += self.read(1)
            length |= (data[-1] & 0x7F) << shift
            shift += 7
        return data + self.read(length)

    def close(self) -> None:
        self.sock.close()


class FakeBroker:
    """A listening socket on 127.0.0.1 (TLS with ``context``) that answers each CONNECT
    with ``connack`` and hands the connection to the test (:meth:`connection`)."""

    def __init__(self, connack: bytes, context: ssl.SSLContext | None = None) -> None:
        self.connack = connack
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connects: list[bytes] = []
        self._connections: queue.Queue[Connection] = queue.Queue()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # closed
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_side=True)
            connection = Connection(sock)
            self.connects.append(connection.read_packet())
            sock.sendall(self.connack)
            self._connections.put(connection)

    def connection(self, timeout: float = TIMEOUT) -> Connection:
        return self._connections.get(timeout=timeout)

    def close(self) -> None:
        self.listener.close()


class Recorder:
    """An :class:`IngestClient` (manual acknowledgement) connected to a fake broker,
    keeping every message it is given."""

    def __init__(
        self,
        port: int,
        *,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        context: ssl.SSLContext | None = None,
        reconnect: bool = False,
        paho_receive: bool = False,
    ) -> None:
        self.client = IngestClient(
            CallbackAPIVersion.VERSION2,
            client_id=unique("client"),
            protocol=protocol,
            manual_ack=True,
            reconnect_on_failure=reconnect,
            paho_receive=paho_receive,
        )
        fast = not paho_receive and paho.mqtt.__version__ in PAHO_RELEASES
        assert self.client.fast_receive is fast
        if context is not None:
            self.client.tls_set_context(context)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.port = port
        self.messages: list[mqtt.MQTTMessage] = []
        self.client.on_message = lambda _client, _userdata, message: self.messages.append(message)

    def __enter__(self) -> Recorder:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        return self

    def __exit__(self, *_: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, count: int) -> list[mqtt.MQTTMessage]:
        wait_until(
            lambda: len(self.messages) >= count,
            TIMEOUT,
            lambda: f"{len(self.messages)} of {count} messages",
        )
        return self.messages[:count]


def arrived(messages: list[mqtt.MQTTMessage]) -> list[tuple[int, str, bytes]]:
    return [(m.mid, m.topic, bytes(m.payload)) for m in messages]


@pytest.fixture(
    params=[
        pytest.param(
            False,
            id="fast",
            marks=pytest.mark.skipif(
                paho.mqtt.__version__ not in PAHO_RELEASES,
                reason=f"paho-mqtt {paho.mqtt.__version__}: the fast path is only for "
                f"{', '.join(PAHO_RELEASES)}",
            ),
        ),
        pytest.param(True, id="paho"),
    ]
)
def paho_receive(request: pytest.FixtureRequest) -> bool:
    """Whether the client takes paho's own receive path (``paho``) or its own (``fast``)."""
    return bool(request.param)


@pytest.fixture
def other_paho(monkeypatch: pytest.MonkeyPatch) -> str:
    """paho-mqtt claims to be a release the fast path was not written for: every
    :class:`IngestClient` made meanwhile takes paho's own path, and the process has not
    warned yet."""
    monkeypatch.setattr(paho.mqtt, "__version__", OTHER_PAHO)
    ingest_client._other_paho.cache_clear()
    return OTHER_PAHO


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """A throwaway certificate authority; it issues the fake broker's certificate."""
    return trustme.CA()


@pytest.fixture(params=["tcp", "tls"])
def transport(
    request: pytest.FixtureRequest, authority: trustme.CA
) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """(the fake broker's TLS context, the client's), both None for plain TCP."""
    if request.param == "tcp":
        return None, None
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return server, client


@pytest.fixture
def broker(transport: tuple[ssl.SSLContext | None, ssl.SSLContext | None]) -> Iterator[FakeBroker]:
    fake = FakeBroker(CONNACK_V5, transport[0])
    yield fake
    fake.close()


@pytest.fixture
def recorder(
    broker: FakeBroker,
    transport: tuple[ssl.SSLContext | None, ssl.SSLContext | None],
    paho_receive: bool,
) -> Iterator[Recorder]:
    with Recorder(broker.port, context=transport[1], paho_receive=paho_receive) as recorder:
        yield recorder


# ------------------------------------------------------------------------ reading


def test_many_packets_in_one_write_are_all_delivered_in_order(
    broker: FakeBroker, recorder: Recorder
) -> None:
    data, expected = stream(3000)
    broker.connection().send(data)
    assert arrived(recorder.wait_for(len(expected))) == expected


@pytest.mark.parametrize(("chunk", "count"), [(1, 12), (7, 40), (100, 400), (5000, 400)])
def test_packets_cut_anywhere_are_reassembled(
    broker: FakeBroker, recorder: Recorder, chunk: int, count: int
) -> None:
    """Written ``chunk`` bytes at a time, so that the client's reads end anywhere in a
    packet: in its fixed header, its remaining length, its body."""
    data, expected = stream(count)
    broker.connection().send(data, chunk)
    assert arrived(recorder.wait_for(len(expected))) == expected


def test_a_message_is_what_paho_itself_would_deliver() -> None:
    """The same packets through the client's own decoding, through paho's while a paho
    logger is set (the fast path hands such messages to paho) and on paho's own receive
    path: the messages are alike, field by field."""
    packets = [
        publish(7, "a/b", b"12.5"),
        publish(0, "a/qos0", b"x", qos=0),
        publish(8, "a/dup", b"", dup=True, retain=True),
        publish(9, "a/props", b"p", properties=user_property("k", "v")),
        publish(10, "", b"alias-less empty topic"),
    ]

    def delivered(paho_path: bool, paho_receive: bool = False) -> list[tuple[Any, ...]]:
        fake = FakeBroker(CONNACK_V5)
        try:
            with Recorder(fake.port, paho_receive=paho_receive) as recorder:
                if paho_path:
                    recorder.client.enable_logger(logging.getLogger("test-client"))
                fake.connection().send(b"".join(packets))
                messages = recorder.wait_for(len(packets))
        finally:
            fake.close()
        return [
            (
                m.mid,
                m.topic,
                bytes(m.payload),
                m.qos,
                m.dup,
                m.retain,
                type(m.properties),
                None if m.properties is None else m.properties.json(),  # type: ignore[no-untyped-call]
                type(m.payload),
            )
            for m in messages
        ]

    ours = delivered(paho_path=False)
    assert ours == delivered(paho_path=True)
    assert ours == delivered(paho_path=False, paho_receive=True)
    assert ours[3][7] == {"UserProperty": [("k", "v")]}
    assert ours[0][7] == {}


def test_messages_with_properties_keep_their_place_among_plain_ones(
    broker: FakeBroker, recorder: Recorder
) -> None:
    plain, expected = stream(50)
    special = publish(60000, "site/special", b"s", properties=user_property("k", "v"))
    broker.connection().send(plain + special + plain)
    messages = recorder.wait_for(101)
    assert arrived(messages) == [*expected, (60000, "site/special", b"s"), *expected]
    properties = messages[50].properties
    assert properties is not None
    assert properties.json() == {"UserProperty": [("k", "v")]}  # type: ignore[no-untyped-call]


def test_a_topic_callback_gets_its_messages_and_on_message_the_rest(paho_receive: bool) -> None:
    fake = FakeBroker(CONNACK_V5)
    special: list[mqtt.MQTTMessage] = []
    try:
        with Recorder(fake.port, paho_receive=paho_receive) as recorder:
            recorder.client.message_callback_add(
                "site/special/#", lambda _client, _userdata, message: special.append(message)
            )
            plain, expected = stream(20)
            fake.connection().send(plain + publish(500, "site/special/x", b"s") + plain)
            messages = recorder.wait_for(40)
            wait_until(lambda: len(special) == 1, TIMEOUT)
    finally:
        fake.close()
    assert arrived(messages) == expected + expected
    assert arrived(special) == [(500, "site/special/x", b"s")]


def test_mqtt_3_messages_are_delivered_too(paho_receive: bool) -> None:
    fake = FakeBroker(CONNACK_V311)
    try:
        with Recorder(fake.port, protocol=mqtt.MQTTv311, paho_receive=paho_receive) as recorder:
            data, expected = stream(500, v5=False)
            fake.connection().send(data)
            messages = recorder.wait_for(len(expected))
    finally:
        fake.close()
    assert arrived(messages) == expected
    assert all(m.properties is None for m in messages)


def test_bytes_of_a_dropped_connection_do_not_reach_the_next(paho_receive: bool) -> None:
    """A connection that ends halfway through a packet: after the reconnect, the next
    connection's packets arrive whole, not glued to the leftover."""
    fake = FakeBroker(CONNACK_V5)
    try:
        with Recorder(fake.port, reconnect=True, paho_receive=paho_receive) as recorder:
            first = fake.connection()
            data, expected = stream(10)
            cut = publish(999, "site/cut", b"never whole")
            first.send(data + cut[:9])
            recorder.wait_for(10)
            first.close()
            second = fake.connection()
            second.send(data)
            messages = recorder.wait_for(20)
    finally:
        fake.close()
    assert arrived(messages) == expected + expected


# ------------------------------------------------------------------ acknowledging


def test_ack_many_sends_each_acknowledgement_in_the_order_given(
    broker: FakeBroker, recorder: Recorder
) -> None:
    connection = broker.connection()
    recorder.client.ack_many([(5, 1), (3, 1), (9, 0), (70000 % 65536, 2), (1, 1)])
    assert connection.read(16) == (
        b"\x40\x02\x00\x05" + b"\x40\x02\x00\x03" + b"\x70\x02\x11\x70" + b"\x40\x02\x00\x01"
    )


def test_ack_many_acknowledges_a_large_batch(
    broker: FakeBroker, recorder: Recorder, paho_receive: bool
) -> None:
    """One write far larger than a socket buffer (20,000 PUBACKs); on paho's own path,
    whose receiving costs several times more, 4,000 queued one by one."""
    connection = broker.connection()
    data, expected = stream(4000 if paho_receive else 20000)
    connection.send(data)
    messages = recorder.wait_for(len(expected))
    recorder.client.ack_many((m.mid, m.qos) for m in messages)
    acks = connection.read(4 * len(messages))
    assert acks == b"".join(struct.pack("!BBH", 0x40, 2, mid) for mid, _, _ in expected)


def test_without_manual_ack_the_client_acknowledges_itself_and_ack_many_adds_nothing(
    paho_receive: bool,
) -> None:
    fake = FakeBroker(CONNACK_V5)
    client = IngestClient(
        CallbackAPIVersion.VERSION2,
        client_id=unique("auto"),
        protocol=mqtt.MQTTv5,
        paho_receive=paho_receive,
    )
    client.on_message = lambda *_args: None
    try:
        client.connect("127.0.0.1", fake.port)
        client.loop_start()
        connection = fake.connection()
        connection.send(publish(4, "a", b"1") + publish(6, "b", b"2"))
        assert connection.read(8) == b"\x40\x02\x00\x04\x40\x02\x00\x06"
        client.ack_many([(4, 1)])
        client.publish("c", b"3", qos=0)  # the next thing the broker sees
        assert connection.read_packet() == b"\x30\x05\x00\x01c\x003"
    finally:
        client.disconnect()
        client.loop_stop()
        fake.close()


# ------------------------------------------------------------- which path


def client_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kgtwin.ingest.client"]


def test_another_paho_release_takes_paho_s_own_path_and_says_so_once(
    other_paho: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: ``UnsupportedPaho`` at start-up, so paho-mqtt was pinned below 2.3."""
    caplog.set_level(logging.WARNING, logger="kgtwin.ingest.client")
    clients = [IngestClient(CallbackAPIVersion.VERSION2, client_id=unique("other")) for _ in "abc"]
    assert [c.fast_receive for c in clients] == [False, False, False]
    (warning,) = client_warnings(caplog)
    assert f"paho-mqtt {other_paho} is installed" in warning
    assert f"only for paho-mqtt {' or '.join(PAHO_RELEASES)}" in warning
    assert "paho's own receive path" in warning


@pytest.mark.skipif(
    paho.mqtt.__version__ not in PAHO_RELEASES,
    reason=f"paho-mqtt {paho.mqtt.__version__} takes paho's own path anyway",
)
def test_the_release_it_was_written_for_takes_the_fast_path_unless_told_and_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="kgtwin.ingest.client")
    fast = IngestClient(CallbackAPIVersion.VERSION2, client_id=unique("fast"))
    told = IngestClient(CallbackAPIVersion.VERSION2, client_id=unique("told"), paho_receive=True)
    assert (fast.fast_receive, told.fast_receive) == (True, False)
    assert client_warnings(caplog) == []


# ------------------------------------------------------------- the real broker


class Session:
    """An :class:`IngestClient` with a persistent MQTT 5 session, subscribed to ``topic``."""

    def __init__(
        self, mqtt_broker: MqttService, client_id: str, topic: str, paho_receive: bool
    ) -> None:
        self.address = mqtt_broker.address
        self.topic = topic
        self.client = IngestClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            paho_receive=paho_receive,
        )
        self.messages: list[mqtt.MQTTMessage] = []
        self.subscribed = threading.Event()
        self.client.on_message = lambda _client, _userdata, message: self.messages.append(message)
        self.client.on_subscribe = lambda *_args: self.subscribed.set()

    def __enter__(self) -> Session:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 300
        self.client.connect(
            self.address.host, self.address.port, clean_start=False, properties=properties
        )
        self.client.loop_start()
        self.client.subscribe(self.topic, qos=1)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"
        return self

    def __exit__(self, *_: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, count: int) -> list[mqtt.MQTTMessage]:
        wait_until(lambda: len(self.messages) >= count, TIMEOUT)
        return self.messages[:count]

    def sync(self) -> None:
        """Return once the broker has processed what was sent before (a SUBACK comes after
        it): a new connection under the same client id would otherwise take the session
        over first, and the broker would drop what this one still had in flight."""
        self.subscribed.clear()
        self.client.subscribe(unique("sync"), qos=1)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"


def test_acknowledged_messages_are_not_redelivered_and_the_others_are(
    mqtt_broker: MqttService, paho_receive: bool
) -> None:
    topic, client_id = unique("ack-many"), unique("ack-many-session")
    with (
        Session(mqtt_broker, client_id, topic, paho_receive) as first,
        Publisher(mqtt_broker.address) as pub,
    ):
        for i in range(10):
            pub.send(topic, f"{i}")
        messages = first.wait_for(10)
        first.client.ack_many((m.mid, m.qos) for m in messages[:6])
        first.sync()
    with Session(mqtt_broker, client_id, topic, paho_receive) as second:
        redelivered = second.wait_for(4)
        time.sleep(0.5)  # nothing more comes
        assert [m.payload for m in second.messages] == [b"6", b"7", b"8", b"9"]
        assert all(m.dup for m in redelivered)
        second.client.ack_many((m.mid, m.qos) for m in redelivered)
        second.sync()
    with Session(mqtt_broker, client_id, topic, paho_receive) as third:
        time.sleep(0.5)
        assert third.messages == []
        third.client.unsubscribe(topic)


# ------------------------------------- paho's own path, through the ingestion worker


def test_on_paho_s_own_path_nothing_is_acknowledged_before_it_is_written(
    other_paho: str, site: Driver, mqtt_broker: MqttService
) -> None:
    """The point is write-locked by another transaction: the worker receives, cannot write
    and acknowledges nothing, so the broker sends no more than the Receive Maximum (5) of
    the 50 messages; once the lock goes, all 50 are written and acknowledged."""
    with (
        running_worker(site, mqtt_broker.address, receive_maximum=5) as running,
        Publisher(mqtt_broker.address) as publisher,
        site.session() as session,
    ):
        assert not running.worker.client.fast_receive
        only_the_receive_maximum_arrives(running, session, publisher, 5)
    assert live(site, POWER_ID)["value"] == 49.0


def test_on_paho_s_own_path_what_was_not_acknowledged_comes_again_after_a_reconnect(
    other_paho: str, own_broker: LocalBroker, site: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """20 messages received and not yet written (the point is write-locked) when the
    broker restarts: paho reconnects, the worker drops what came on the old connection,
    the broker delivers the 20 again, and each settles once; nothing stays with the broker.
    Two clients made, one warning."""
    caplog.set_level(logging.WARNING, logger="kgtwin.ingest.client")
    client_id = unique("paho-restart")
    with (
        running_worker(site, own_broker.address, client_id=client_id) as running,
        site.session() as session,
    ):
        assert not running.worker.client.fast_receive
        lock = session.begin_transaction()
        lock.run("MATCH (p:Point {id: $id}) SET p.locked = true", id=POWER_ID).consume()
        with Publisher(own_broker.address) as publisher:
            for n in range(20):
                publisher.send(POWER, str(n))

        def received() -> float:
            return running.count("kgtwin_ingest_messages_received_total")

        wait_until(lambda: received() >= 20, TIMEOUT, lambda: f"{received()} of 20 arrived")
        own_broker.restart()
        wait_until(lambda: received() >= 40, 30, lambda: f"{received()} of 20 + 20 arrived")
        lock.rollback()
        outcomes = running.settled(20, timeout=60)
        assert outcomes["applied"] + outcomes["outdated"] == 20
        assert running.dropped() >= 20  # the first deliveries, never acknowledged
    assert live(site, POWER_ID)["value"] == 19.0
    nothing_left(site, own_broker.address, client_id)
    assert len(client_warnings(caplog)) == 1
