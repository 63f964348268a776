"""The ingestion's paho client (``ingest.client.IngestClient``): its buffered reads, its
own PUBLISH decoding and its batched acknowledgements.

Most tests talk to a :class:`FakeBroker`, a socket that plays the broker's side byte for
byte (plain TCP or TLS), so a test decides how the bytes are cut into reads: all packets
in one write, one byte per write, or chunks that split packets anywhere. The last tests
run against the real Mosquitto: acknowledged messages are not redelivered to a resumed
session, the others are.
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

import paho.mqtt.client as mqtt
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.client import IngestClient
from ingest.errors import UnsupportedPaho
from tests.ingest.mqtt_clients import Publisher, wait_until
from tests.mqtt_service import MqttService, unique

TIMEOUT = 10.0
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
    ) -> None:
        self.client = IngestClient(
            CallbackAPIVersion.VERSION2,
            client_id=unique("client"),
            protocol=protocol,
            manual_ack=True,
            reconnect_on_failure=reconnect,
        )
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
    broker: FakeBroker, transport: tuple[ssl.SSLContext | None, ssl.SSLContext | None]
) -> Iterator[Recorder]:
    with Recorder(broker.port, context=transport[1]) as recorder:
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
    """The same packets through the client's own decoding and through paho's (which it
    takes while a paho logger is set): the messages are alike, field by field."""
    packets = [
        publish(7, "a/b", b"12.5"),
        publish(0, "a/qos0", b"x", qos=0),
        publish(8, "a/dup", b"", dup=True, retain=True),
        publish(9, "a/props", b"p", properties=user_property("k", "v")),
        publish(10, "", b"alias-less empty topic"),
    ]

    def delivered(paho_path: bool) -> list[tuple[Any, ...]]:
        fake = FakeBroker(CONNACK_V5)
        try:
            with Recorder(fake.port) as recorder:
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


def test_a_topic_callback_gets_its_messages_and_on_message_the_rest() -> None:
    fake = FakeBroker(CONNACK_V5)
    special: list[mqtt.MQTTMessage] = []
    try:
        with Recorder(fake.port) as recorder:
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


def test_mqtt_3_messages_are_delivered_too() -> None:
    fake = FakeBroker(CONNACK_V311)
    try:
        with Recorder(fake.port, protocol=mqtt.MQTTv311) as recorder:
            data, expected = stream(500, v5=False)
            fake.connection().send(data)
            messages = recorder.wait_for(len(expected))
    finally:
        fake.close()
    assert arrived(messages) == expected
    assert all(m.properties is None for m in messages)


def test_bytes_of_a_dropped_connection_do_not_reach_the_next() -> None:
    """A connection that ends halfway through a packet: after the reconnect, the next
    connection's packets arrive whole, not glued to the leftover."""
    fake = FakeBroker(CONNACK_V5)
    try:
        with Recorder(fake.port, reconnect=True) as recorder:
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


def test_ack_many_acknowledges_a_large_batch(broker: FakeBroker, recorder: Recorder) -> None:
    connection = broker.connection()
    data, expected = stream(20000)
    connection.send(data)
    messages = recorder.wait_for(len(expected))
    recorder.client.ack_many((m.mid, m.qos) for m in messages)
    acks = connection.read(4 * len(messages))
    assert acks == b"".join(struct.pack("!BBH", 0x40, 2, mid) for mid, _, _ in expected)


def test_without_manual_ack_the_client_acknowledges_itself_and_ack_many_adds_nothing() -> None:
    fake = FakeBroker(CONNACK_V5)
    client = IngestClient(
        CallbackAPIVersion.VERSION2, client_id=unique("auto"), protocol=mqtt.MQTTv5
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


def test_a_paho_without_the_overridden_internals_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(mqtt.Client, "_handle_on_message")
    with pytest.raises(UnsupportedPaho, match="_handle_on_message"):
        IngestClient(CallbackAPIVersion.VERSION2, client_id=unique("old"))


# ------------------------------------------------------------- the real broker


class Session:
    """An :class:`IngestClient` with a persistent MQTT 5 session, subscribed to ``topic``."""

    def __init__(self, mqtt_broker: MqttService, client_id: str, topic: str) -> None:
        self.address = mqtt_broker.address
        self.topic = topic
        self.client = IngestClient(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
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
    mqtt_broker: MqttService,
) -> None:
    topic, client_id = unique("ack-many"), unique("ack-many-session")
    with Session(mqtt_broker, client_id, topic) as first, Publisher(mqtt_broker.address) as pub:
        for i in range(10):
            pub.send(topic, f"{i}")
        messages = first.wait_for(10)
        first.client.ack_many((m.mid, m.qos) for m in messages[:6])
        first.sync()
    with Session(mqtt_broker, client_id, topic) as second:
        redelivered = second.wait_for(4)
        time.sleep(0.5)  # nothing more comes
        assert [m.payload for m in second.messages] == [b"6", b"7", b"8", b"9"]
        assert all(m.dup for m in redelivered)
        second.client.ack_many((m.mid, m.qos) for m in redelivered)
        second.sync()
    with Session(mqtt_broker, client_id, topic) as third:
        time.sleep(0.5)
        assert third.messages == []
        third.client.unsubscribe(topic)
