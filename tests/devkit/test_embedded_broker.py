"""The embedded broker against real paho clients, MQTT 5 and 3.1.1, and raw sockets for
what no well-behaved client sends; and the ingestion worker end to end through it."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kgtwin.devkit.broker import EmbeddedBroker, PortInUse
from kgtwin.devkit.broker.probe import connack_code, connect_packet, mqtt_string, remaining_length
from kgtwin.devkit.broker.sessions import topic_matches, valid_topic_filter
from kgtwin.ingest.address import BrokerAddress, configure
from tests.ingest.mqtt_clients import TIMEOUT, running_worker, wait_until
from tests.mqtt_service import unique

V5, V311 = mqtt.MQTTv5, mqtt.MQTTv311
BOTH = pytest.mark.parametrize("protocol", [V5, V311], ids=["v5", "v311"])
BAD_CREDENTIALS = 0x86  # MQTT 5 reason code; paho maps the 3.1.1 return code 4 to it


class Peer:
    """A paho client of either protocol that records the messages it receives."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        protocol: MQTTProtocolVersion,
        *,
        clean: bool = True,
        manual_ack: bool = False,
    ) -> None:
        self.address = address
        self.protocol = protocol
        self.clean = clean
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            clean_session=clean if protocol == V311 else None,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
        )
        configure(self.client, address)
        self.messages: list[mqtt.MQTTMessage] = []
        self.reason: int | None = None
        self.session_present = False
        self.disconnected = threading.Event()
        self._connack = threading.Event()
        self._suback = threading.Event()
        self._granted: list[int] = []
        self._lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *_args: self.disconnected.set()

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        self.reason, self.session_present = reason.value, flags.session_present
        self._connack.set()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        self._granted = [r.value for r in reasons]
        self._suback.set()

    def connect(self) -> Peer:
        """Connect and wait for the CONNACK (a refusal too: see ``reason``)."""
        if self.protocol == V5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 0 if self.clean else 3600
            self.client.connect(
                self.address.host, self.address.port, clean_start=self.clean, properties=properties
            )
        else:
            self.client.connect(self.address.host, self.address.port)
        self.client.loop_start()
        assert self._connack.wait(TIMEOUT), "no CONNACK"
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, topic_filter: str, qos: int = 1) -> list[int]:
        self._suback.clear()
        self.client.subscribe(topic_filter, qos)
        assert self._suback.wait(TIMEOUT), f"no SUBACK for {topic_filter}"
        return self._granted

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()

    def wait_for(self, count: int) -> list[mqtt.MQTTMessage]:
        wait_until(
            lambda: len(self.messages) >= count,
            TIMEOUT,
            lambda: f"{len(self.messages)} of {count}: {[m.payload for m in self.messages]}",
        )
        with self._lock:
            return list(self.messages)

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [bytes(m.payload) for m in self.messages]


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def peers(broker: EmbeddedBroker) -> Iterator[Any]:
    """``peers(protocol, client_id=None, **options)``: a connected :class:`Peer`, closed
    after the test."""
    made: list[Peer] = []

    def make(protocol: MQTTProtocolVersion, client_id: str | None = None, **options: Any) -> Peer:
        peer = Peer(broker.address, client_id or unique("peer"), protocol, **options)
        made.append(peer)
        return peer.connect()

    yield make
    for peer in made:
        peer.close()


# --------------------------------------------------------------------- topics


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("dc1/#", "dc1/ups-a1/power", True),
        ("dc1/#", "dc1", True),  # '#' matches the parent level too
        ("dc1/#", "dc2/ups", False),
        ("dc1/+/power", "dc1/ups-a1/power", True),
        ("dc1/+/power", "dc1/ups-a1/x/power", False),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("a/b", "a/b", True),
        ("a/b", "a/b/c", False),
        ("#", "$SYS/broker", False),  # '$' topics escape first-level wildcards
        ("+/broker", "$SYS/broker", False),
        ("$SYS/#", "$SYS/broker", True),
        ("a/+", "a/", True),  # an empty level is a level
    ],
)
def test_topic_filters_match_as_the_standard_says(
    topic_filter: str, topic: str, expected: bool
) -> None:
    assert topic_matches(tuple(topic_filter.split("/")), topic.split("/")) is expected


@pytest.mark.parametrize("bad", ["", "a/#/b", "a#", "a/b+", "+a/b"])
def test_malformed_topic_filters_are_invalid(bad: str) -> None:
    assert not valid_topic_filter(bad)


# ------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("sub_protocol", "pub_protocol"),
    [(V5, V5), (V5, V311), (V311, V5), (V311, V311)],
    ids=["v5-v5", "v5-v311", "v311-v5", "v311-v311"],
)
def test_messages_flow_between_protocols_through_wildcards(
    peers: Any, sub_protocol: MQTTProtocolVersion, pub_protocol: MQTTProtocolVersion
) -> None:
    site = unique("site")
    subscriber = peers(sub_protocol)
    assert subscriber.subscribe(f"{site}/+/power", qos=1) == [1]
    assert subscriber.subscribe(f"{site}/alarms/#", qos=2) == [1]  # QoS 2 granted as 1
    publisher = peers(pub_protocol)
    publisher.publish(f"{site}/ups-a1/power", b"97.5", qos=1)  # waits for the PUBACK
    publisher.publish(f"{site}/ups-a1/voltage", b"no", qos=1)  # matches no filter
    publisher.publish(f"{site}/alarms", b"a0", qos=0)
    publisher.publish(f"{site}/alarms/room-1/smoke", b"a1", qos=2)  # passed on at QoS 1
    received = subscriber.wait_for(3)
    assert [(m.topic, m.payload, m.qos) for m in received] == [
        (f"{site}/ups-a1/power", b"97.5", 1),
        (f"{site}/alarms", b"a0", 0),
        (f"{site}/alarms/room-1/smoke", b"a1", 1),
    ]
    assert not any(m.retain or m.dup for m in received)


def test_user_properties_of_mqtt5_are_passed_on(peers: Any) -> None:
    topic = unique("props")
    subscriber = peers(V5)
    subscriber.subscribe(topic)
    publisher = peers(V5)
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.UserProperty = ("source", "gateway-7")
    properties.ContentType = "application/json"
    publisher.client.publish(topic, b"{}", qos=1, properties=properties).wait_for_publish(TIMEOUT)
    (message,) = subscriber.wait_for(1)
    assert message.properties.UserProperty == [("source", "gateway-7")]
    assert message.properties.ContentType == "application/json"


def test_unsubscribed_filters_get_nothing_more(peers: Any) -> None:
    topic = unique("unsub")
    subscriber = peers(V5)
    subscriber.subscribe(f"{topic}/#")
    subscriber.subscribe(f"{topic}/marker")
    publisher = peers(V311)
    publisher.publish(f"{topic}/a", b"1")
    subscriber.wait_for(1)
    unsubscribed = threading.Event()
    subscriber.client.on_unsubscribe = lambda *_args: unsubscribed.set()
    subscriber.client.unsubscribe(f"{topic}/#")
    assert unsubscribed.wait(TIMEOUT)
    publisher.publish(f"{topic}/a", b"2")
    publisher.publish(f"{topic}/marker", b"marker")  # delivered in order after "2", if it were
    subscriber.wait_for(2)
    assert subscriber.payloads() == [b"1", b"marker"]


# ------------------------------------------------------------------- sessions


@BOTH
def test_a_persistent_session_keeps_its_subscription_and_queues_while_away(
    peers: Any, protocol: MQTTProtocolVersion
) -> None:
    topic, client_id = unique("queued"), unique("worker")
    first = peers(protocol, client_id, clean=False)
    assert not first.session_present
    first.subscribe(f"{topic}/#")
    first.close()
    publisher = peers(V311)
    for i in range(5):
        publisher.publish(f"{topic}/p", str(i).encode())
    again = peers(protocol, client_id, clean=False)  # subscribes to nothing itself
    assert again.session_present
    again.wait_for(5)
    assert again.payloads() == [b"0", b"1", b"2", b"3", b"4"]


@BOTH
def test_clean_start_discards_the_session(peers: Any, protocol: MQTTProtocolVersion) -> None:
    topic, client_id = unique("discarded"), unique("client")
    peers(protocol, client_id, clean=False).subscribe(topic)
    peers(protocol, client_id, clean=False).close()  # takes the session over, then leaves
    publisher = peers(V311)
    publisher.publish(topic, b"lost to the clean start")
    fresh = peers(protocol, client_id, clean=True)
    assert not fresh.session_present
    fresh.subscribe(f"{topic}/marker")
    publisher.publish(f"{topic}/marker", b"marker")
    fresh.wait_for(1)
    assert fresh.payloads() == [b"marker"]


@BOTH
def test_an_unacknowledged_message_is_sent_again_with_dup_after_a_reconnect(
    peers: Any, protocol: MQTTProtocolVersion
) -> None:
    topic, client_id = unique("unacked"), unique("worker")
    taker = peers(protocol, client_id, clean=False, manual_ack=True)
    taker.subscribe(topic)
    publisher = peers(V311)
    publisher.publish(topic, b"first")
    (message,) = taker.wait_for(1)
    assert not message.dup
    taker.close()  # never acknowledged
    again = peers(protocol, client_id, clean=False, manual_ack=True)
    (redelivered,) = again.wait_for(1)
    assert (redelivered.payload, redelivered.dup) == (b"first", True)
    again.client.ack(redelivered.mid, redelivered.qos)
    publisher.publish(topic, b"acked?")  # the PUBACK went before this one's PUBLISH came
    again.wait_for(2)
    again.close()
    third = peers(protocol, client_id, clean=False, manual_ack=True)
    publisher.publish(topic, b"marker")
    third.wait_for(1)  # a redelivery of "first" would come before anything new
    assert third.payloads()[0] == b"acked?"  # left unacknowledged, so sent again
    assert b"first" not in third.payloads()


def test_the_inflight_window_holds_back_qos1_until_acknowledged(peers: Any) -> None:
    with EmbeddedBroker(max_inflight_messages=2) as small:
        topic = unique("window")
        taker = Peer(small.address, unique("taker"), V5, manual_ack=True).connect()
        publisher = Peer(small.address, unique("pub"), V311).connect()
        try:
            taker.subscribe(topic)
            for i in range(5):
                publisher.publish(topic, str(i).encode(), qos=1)
            publisher.publish(topic, b"qos0", qos=0)  # not held: overtakes the held ones
            received = taker.wait_for(3)
            assert [m.payload for m in received] == [b"0", b"1", b"qos0"]
            for message in received[:2]:
                taker.client.ack(message.mid, message.qos)
            for message in taker.wait_for(5)[3:5]:  # two more fit the window, not three
                taker.client.ack(message.mid, message.qos)
            taker.wait_for(6)
            assert taker.payloads()[3:] == [b"2", b"3", b"4"]
        finally:
            taker.close()
            publisher.close()


def test_a_full_queue_drops_its_oldest_messages_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with EmbeddedBroker(max_queued_messages=3) as small:
        topic, client_id = unique("full"), unique("slow")
        away = Peer(small.address, client_id, V5, clean=False).connect()
        away.subscribe(topic)
        away.close()
        publisher = Peer(small.address, unique("pub"), V311).connect()
        try:
            for i in range(5):
                publisher.publish(topic, str(i).encode())
        finally:
            publisher.close()
        back = Peer(small.address, client_id, V5, clean=False).connect()
        try:
            back.wait_for(3)
            assert back.payloads() == [b"2", b"3", b"4"]
        finally:
            back.close()
    assert "queue of MQTT client" in caplog.text


def test_sessions_and_retained_messages_survive_a_restart(broker: EmbeddedBroker) -> None:
    topic, client_id = unique("restart"), unique("worker")
    away = Peer(broker.address, client_id, V5, clean=False).connect()
    away.subscribe(topic)
    away.close()
    publisher = Peer(broker.address, unique("pub"), V311).connect()
    publisher.publish(topic, b"queued")
    publisher.publish(f"{topic}/state", b"on", retain=True)
    publisher.close()
    port = broker.port
    broker.restart()
    assert broker.port == port
    back = Peer(broker.address, client_id, V5, clean=False).connect()
    try:
        assert back.session_present
        back.subscribe(f"{topic}/state")
        back.wait_for(2)
        assert back.payloads() == [b"queued", b"on"]
    finally:
        back.close()


@BOTH
def test_a_retained_message_reaches_later_subscribers_until_cleared(
    peers: Any, protocol: MQTTProtocolVersion
) -> None:
    topic = unique("retained")
    publisher = peers(V5)
    publisher.publish(f"{topic}/mode", b"auto", retain=True)
    publisher.publish(f"{topic}/mode", b"manual", retain=True)  # the last one is kept
    late = peers(protocol)
    late.subscribe(f"{topic}/#")
    (message,) = late.wait_for(1)
    assert (message.payload, message.retain) == (b"manual", True)
    publisher.publish(f"{topic}/mode", b"", retain=True)  # clears it (and is delivered)
    later = peers(protocol)
    later.subscribe(f"{topic}/#")
    publisher.publish(f"{topic}/marker", b"marker")
    later.wait_for(1)
    assert later.payloads() == [b"marker"]


# ------------------------------------------------------------ refusals, errors


@BOTH
def test_wrong_credentials_are_refused_and_right_ones_accepted(
    protocol: MQTTProtocolVersion,
) -> None:
    with EmbeddedBroker(username="ingest", password="s3cret") as guarded:
        good = guarded.address
        assert good.username == "ingest"
        for address in (
            BrokerAddress(good.host, good.port, username="ingest", password="wrong"),
            BrokerAddress(good.host, good.port, username="intruder", password="s3cret"),
        ):
            refused = Peer(address, unique("bad"), protocol).connect()
            refused.close()
            assert refused.reason == BAD_CREDENTIALS
        accepted = Peer(good, unique("good"), protocol).connect()
        accepted.close()
        assert accepted.reason == 0
        assert connack_code(good.host, good.port, "ingest", "nope", TIMEOUT) == 4
        assert connack_code(good.host, good.port, None, None, TIMEOUT) == 5  # not authorised
        assert connack_code(good.host, good.port, "ingest", "s3cret", TIMEOUT) == 0


def _connect_body(flags: int, payload: bytes, level: int = 4, keepalive: int = 30) -> bytes:
    body = mqtt_string(b"MQTT") + bytes([level, flags]) + struct.pack("!H", keepalive) + payload
    return b"\x10" + remaining_length(len(body)) + body


_CONNECTED = connect_packet(None, None, client_id="raw")
GARBAGE = {
    "http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "reserved-type": b"\x00\x00",
    "length-too-long": b"\x10\xff\xff\xff\xff\xff",
    "publish-first": b"\x30\x04\x00\x01ax",
    "bad-utf8-client-id": _connect_body(0x02, mqtt_string(b"\xff\xfe")),
    "reserved-flag": _connect_body(0x03, mqtt_string(b"x")),
    "wildcard-publish": _CONNECTED + b"\x30\x06\x00\x03a/#x",
    "qos3-publish": _CONNECTED + b"\x36\x05\x00\x01a\x00\x01",
    "truncated-subscribe": _CONNECTED + b"\x82\x04\x00\x01\x00\x09",
    "second-connect": _CONNECTED + _CONNECTED,
}


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the broker sends until it closes the connection (bounded by TIMEOUT)."""
    sock.settimeout(TIMEOUT)
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_closes_only_its_own_connection(peers: Any, garbage: bytes) -> None:
    topic = unique("survivor")
    bystander = peers(V5)
    bystander.subscribe(topic)
    with socket.create_connection((bystander.address.host, bystander.address.port)) as sock:
        sock.sendall(garbage)
        answer = _read_until_closed(sock)
    if garbage.startswith(_CONNECTED):
        assert answer.startswith(b"\x20\x02\x00\x00")  # accepted, then closed
    peers(V311).publish(topic, b"still serving")
    bystander.wait_for(1)
    assert not bystander.disconnected.is_set()


def test_an_unsupported_protocol_version_is_refused_with_connack_1(broker: EmbeddedBroker) -> None:
    with socket.create_connection(("127.0.0.1", broker.port)) as sock:
        sock.sendall(_connect_body(0x02, mqtt_string(b"x"), level=6))
        assert _read_until_closed(sock) == b"\x20\x02\x00\x01"


def test_a_client_silent_past_its_keepalive_is_disconnected(broker: EmbeddedBroker) -> None:
    with socket.create_connection(("127.0.0.1", broker.port)) as sock:
        sock.sendall(connect_packet(None, None, client_id=unique("quiet"), keepalive=1))
        assert _read_until_closed(sock) == b"\x20\x02\x00\x00"  # CONNACK, then closed


def test_a_will_is_published_when_a_client_vanishes_but_not_after_disconnect(
    peers: Any, broker: EmbeddedBroker
) -> None:
    topic = unique("will")
    watcher = peers(V5)
    watcher.subscribe(f"{topic}/#")
    for name, ending in (("polite", b"\xe0\x00"), ("vanished", b"")):
        will = mqtt_string(f"{topic}/{name}".encode()) + mqtt_string(b"gone")
        client_id = mqtt_string(unique(name).encode())
        with socket.create_connection(("127.0.0.1", broker.port)) as sock:
            sock.sendall(_connect_body(0x02 | 0x04 | 0x08, client_id + will))  # will QoS 1
            sock.settimeout(TIMEOUT)
            assert sock.recv(4) == b"\x20\x02\x00\x00"
            sock.sendall(ending)
    (message,) = watcher.wait_for(1)
    assert (message.topic, message.payload) == (f"{topic}/vanished", b"gone")
    peers(V311).publish(f"{topic}/marker", b"marker")
    watcher.wait_for(2)
    assert watcher.payloads() == [b"gone", b"marker"]  # no will from the polite one


def test_a_second_connection_with_the_same_client_id_takes_over(peers: Any) -> None:
    client_id = unique("twice")
    first = peers(V5, client_id)
    second = peers(V5, client_id)
    assert first.disconnected.wait(TIMEOUT)
    assert not second.disconnected.is_set()


def test_a_taken_port_is_reported(broker: EmbeddedBroker) -> None:
    with pytest.raises(PortInUse, match=str(broker.port)):
        EmbeddedBroker(broker.port).start()


# ------------------------------------------------------------ the ingest worker


POWER, POWER_ID = "dc1/ups-a1/output-power", "ups-a1.output-power"


def test_the_ingestion_worker_runs_on_the_embedded_broker(
    dc1: Driver, broker: EmbeddedBroker
) -> None:
    """MQTT 5, persistent session, manual acknowledgement and QoS 1 dead letters: a dc1
    value lands on its point, a bad one comes back as a dead letter."""
    letters = Peer(broker.address, unique("letters"), V311).connect()
    publisher = Peer(broker.address, unique("pub"), V311).connect()
    letters.subscribe("kgtwin/deadletter/#")
    with running_worker(dc1, broker.address):
        publisher.publish(POWER, b"97.5")
        publisher.publish(POWER, b"{not json")

        def value() -> object:
            records, _, _ = dc1.execute_query(
                "MATCH (p:Point {id: $id}) RETURN p.value AS value", id=POWER_ID
            )
            return records[0]["value"]

        wait_until(lambda: value() == 97.5, 20, lambda: f"{POWER_ID} = {value()!r}")
        (letter,) = letters.wait_for(1)
        assert letter.topic == f"kgtwin/deadletter/{POWER}"
        assert json.loads(letter.payload)["reason"] == "unparseable"
        letters.close()
        publisher.close()
