"""MQTT 3.1.1 and 5.0 packets for the embedded broker: framing, decoding and encoding.

Pure functions over bytes, except :func:`read_packet`, which takes one packet off an
asyncio stream. A packet that breaks the format raises :class:`MalformedPacket`, with the
MQTT 5 reason code the broker sends back (if the client speaks MQTT 5) before it closes
that connection. Only what a broker receives is decoded and only what it sends is encoded.

MQTT 5 properties are kept as ``(identifier, value)`` pairs, in order (a user property may
repeat). Every property the standard defines is decoded, so one the broker does not use is
read past and ignored, or forwarded with the message it came with.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from kgtwin.devkit.broker.probe import mqtt_string, remaining_length

# Packet types: the high four bits of the first byte.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)

MQTT311 = 4  # protocol levels
MQTT5 = 5

# MQTT 5 reason codes the broker uses (see ``CONNACK_RETURN_CODES`` for MQTT 3.1.1).
SUCCESS = 0x00
DISCONNECT_WITH_WILL = 0x04
NO_SUBSCRIPTION_EXISTED = 0x11
UNSPECIFIED_ERROR = 0x80
MALFORMED = 0x81
PROTOCOL_ERROR = 0x82
UNSUPPORTED_VERSION = 0x84
CLIENT_ID_NOT_VALID = 0x85
BAD_CREDENTIALS = 0x86
NOT_AUTHORIZED = 0x87
SERVER_SHUTTING_DOWN = 0x8B
BAD_AUTH_METHOD = 0x8C
KEEPALIVE_TIMEOUT = 0x8D
SESSION_TAKEN_OVER = 0x8E
TOPIC_FILTER_INVALID = 0x8F
TOPIC_NAME_INVALID = 0x90
TOPIC_ALIAS_INVALID = 0x94
PACKET_TOO_LARGE = 0x95
SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E

# An MQTT 3.1.1 CONNACK has a return code instead of a reason code.
CONNACK_RETURN_CODES = {
    SUCCESS: 0,
    UNSUPPORTED_VERSION: 1,
    CLIENT_ID_NOT_VALID: 2,
    BAD_CREDENTIALS: 4,
    NOT_AUTHORIZED: 5,
}
_SERVER_UNAVAILABLE = 3
SUBACK_FAILURE_311 = 0x80

# MQTT 5 properties the broker reads or writes.
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
AUTHENTICATION_METHOD = 0x15
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS = 0x23
MAXIMUM_PACKET_SIZE = 0x27
SUBSCRIPTION_IDENTIFIERS_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

# What a PUBLISH from a client may carry on to subscribers: payload format indicator,
# message expiry interval, content type, response topic, correlation data, user property.
PASSED_ON_PROPERTIES = frozenset({0x01, 0x02, 0x03, 0x08, 0x09, 0x26})

_BYTE, _U16, _U32, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE,  # payload format indicator
    0x02: _U32,  # message expiry interval
    0x03: _STRING,  # content type
    0x08: _STRING,  # response topic
    0x09: _BINARY,  # correlation data
    SUBSCRIPTION_IDENTIFIER: _VARINT,
    SESSION_EXPIRY_INTERVAL: _U32,
    ASSIGNED_CLIENT_IDENTIFIER: _STRING,
    0x13: _U16,  # server keep alive
    AUTHENTICATION_METHOD: _STRING,
    0x16: _BINARY,  # authentication data
    0x17: _BYTE,  # request problem information
    0x18: _U32,  # will delay interval
    0x19: _BYTE,  # request response information
    0x1A: _STRING,  # response information
    0x1C: _STRING,  # server reference
    0x1F: _STRING,  # reason string
    RECEIVE_MAXIMUM: _U16,
    0x22: _U16,  # topic alias maximum
    TOPIC_ALIAS: _U16,
    0x24: _BYTE,  # maximum QoS
    0x25: _BYTE,  # retain available
    0x26: _PAIR,  # user property
    MAXIMUM_PACKET_SIZE: _U32,
    0x28: _BYTE,  # wildcard subscription available
    SUBSCRIPTION_IDENTIFIERS_AVAILABLE: _BYTE,
    SHARED_SUBSCRIPTION_AVAILABLE: _BYTE,
}

PropertyValue = int | str | bytes | tuple[str, str]
Property = tuple[int, PropertyValue]

PINGRESP_PACKET = bytes([PINGRESP << 4, 0])
_PROTOCOL_NAMES = {b"MQTT": (MQTT311, MQTT5), b"MQIsdp": (3,)}


class MalformedPacket(Exception):
    """A packet that breaks MQTT: the broker closes the connection it came on."""

    def __init__(self, message: str, reason: int = MALFORMED) -> None:
        super().__init__(message)
        self.reason = reason


class UnsupportedVersion(MalformedPacket):
    """A CONNECT for a protocol level other than 4 (3.1.1) or 5."""

    def __init__(self, level: int) -> None:
        super().__init__(f"MQTT protocol level {level} is not supported", UNSUPPORTED_VERSION)
        self.level = level


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: tuple[Property, ...]


@dataclass(frozen=True, slots=True)
class Connect:
    version: int
    clean_start: bool
    keepalive: int
    client_id: str
    username: str | None
    password: bytes | None
    will: Will | None
    properties: tuple[Property, ...]


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int | None
    properties: tuple[Property, ...]


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    filters: tuple[tuple[str, int], ...]  # (topic filter, subscription options byte)


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    packet_id: int
    filters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason: int
    properties: tuple[Property, ...]


def prop(properties: tuple[Property, ...], identifier: int) -> PropertyValue | None:
    """The first value of property ``identifier``, or ``None`` if it is absent."""
    for key, value in properties:
        if key == identifier:
            return value
    return None


# ------------------------------------------------------------------ framing


async def read_packet(reader: asyncio.StreamReader, max_size: int) -> tuple[int, int, bytes]:
    """The next packet's type, fixed-header flags and body (the bytes after the header).

    Raises ``asyncio.IncompleteReadError`` when the stream ends and
    :class:`MalformedPacket` when the header is wrong or the packet larger than
    ``max_size``.
    """
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        digit = (await reader.readexactly(1))[0]
        length |= (digit & 0x7F) << shift
        if digit < 0x80:
            break
        shift += 7
        if shift > 21:
            raise MalformedPacket("the remaining length has more than four bytes")
    kind, flags = first >> 4, first & 0x0F
    if kind == 0:
        raise MalformedPacket("packet type 0 is reserved")
    if kind in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) and flags != 0b0010:
        raise MalformedPacket(f"packet type {kind} must have flags 0010, got {flags:04b}")
    if kind not in (PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE) and flags:
        raise MalformedPacket(f"packet type {kind} must have flags 0000, got {flags:04b}")
    if length > max_size:
        raise MalformedPacket(
            f"a packet of {length} bytes exceeds the limit of {max_size}", PACKET_TOO_LARGE
        )
    body = await reader.readexactly(length) if length else b""
    return kind, flags, body


class _Reader:
    """Reads MQTT's data types off a packet body, front to back."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, count: int) -> bytes:
        end = self._pos + count
        if end > len(self._data):
            raise MalformedPacket("the packet ends in the middle of a field")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def rest(self) -> bytes:
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk

    @property
    def done(self) -> bool:
        return self._pos >= len(self._data)

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("!I", self.take(4))[0]
        return value

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            digit = self.byte()
            value |= (digit & 0x7F) << shift
            if digit < 0x80:
                return value
            shift += 7
            if shift > 21:
                raise MalformedPacket("a variable byte integer has more than four bytes")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPacket(f"a string is not valid UTF-8: {raw[:40]!r}") from exc
        if "\x00" in text:
            raise MalformedPacket("a string contains U+0000")
        return text

    def properties(self) -> tuple[Property, ...]:
        block = _Reader(self.take(self.varint()))
        found: list[Property] = []
        while not block.done:
            identifier = block.varint()
            kind = _PROPERTY_TYPES.get(identifier)
            if kind is None:
                raise MalformedPacket(f"unknown MQTT 5 property 0x{identifier:02x}")
            found.append((identifier, block.value(kind)))
        return tuple(found)

    def value(self, kind: int) -> PropertyValue:
        if kind == _BYTE:
            return self.byte()
        if kind == _U16:
            return self.u16()
        if kind == _U32:
            return self.u32()
        if kind == _VARINT:
            return self.varint()
        if kind == _STRING:
            return self.string()
        if kind == _BINARY:
            return self.binary()
        return (self.string(), self.string())


# ------------------------------------------------------------------ decoding


def decode_connect(body: bytes) -> Connect:
    """A CONNECT's fields; :class:`UnsupportedVersion` for protocol levels other than 4, 5."""
    r = _Reader(body)
    name = r.binary()
    level = r.byte()
    if name not in _PROTOCOL_NAMES:
        raise MalformedPacket(f"protocol name {name[:20]!r} is not MQTT")
    if level not in (MQTT311, MQTT5) or level not in _PROTOCOL_NAMES[name]:
        raise UnsupportedVersion(level)
    flags = r.byte()
    if flags & 0x01:
        raise MalformedPacket("the CONNECT flags' reserved bit is set")
    keepalive = r.u16()
    v5 = level == MQTT5
    properties = r.properties() if v5 else ()
    client_id = r.string()
    will = None
    will_qos = (flags >> 3) & 0x03
    if flags & 0x04:
        if will_qos == 3:
            raise MalformedPacket("the will's QoS is 3")
        will_properties = r.properties() if v5 else ()
        topic, payload = r.string(), r.binary()
        will = Will(topic, payload, will_qos, bool(flags & 0x20), will_properties)
    elif flags & 0x38:
        raise MalformedPacket("will QoS or retain set without a will")
    username = r.string() if flags & 0x80 else None
    password = r.binary() if flags & 0x40 else None
    if not r.done:
        raise MalformedPacket("bytes left over after the CONNECT payload")
    return Connect(
        level, bool(flags & 0x02), keepalive, client_id, username, password, will, properties
    )


def decode_publish(flags: int, body: bytes, version: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("a PUBLISH with QoS 3")
    r = _Reader(body)
    topic = r.string()
    packet_id = None
    if qos:
        packet_id = r.u16()
        if packet_id == 0:
            raise MalformedPacket("a QoS 1 or 2 PUBLISH with packet identifier 0")
    properties = r.properties() if version == MQTT5 else ()
    return Publish(
        topic, r.rest(), qos, bool(flags & 0x01), bool(flags & 0x08), packet_id, properties
    )


def decode_subscribe(body: bytes, version: int) -> Subscribe:
    r = _Reader(body)
    packet_id = r.u16()
    if version == MQTT5:
        r.properties()  # a subscription identifier or user properties: not used
    filters: list[tuple[str, int]] = []
    while not r.done:
        topic_filter = r.string()
        options = r.byte()
        reserved = 0xC0 if version == MQTT5 else 0xFC
        if options & reserved or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise MalformedPacket(f"subscription options 0x{options:02x} for {topic_filter!r}")
        filters.append((topic_filter, options))
    if not filters:
        raise MalformedPacket("a SUBSCRIBE without topic filters", PROTOCOL_ERROR)
    return Subscribe(packet_id, tuple(filters))


def decode_unsubscribe(body: bytes, version: int) -> Unsubscribe:
    r = _Reader(body)
    packet_id = r.u16()
    if version == MQTT5:
        r.properties()
    filters: list[str] = []
    while not r.done:
        filters.append(r.string())
    if not filters:
        raise MalformedPacket("an UNSUBSCRIBE without topic filters", PROTOCOL_ERROR)
    return Unsubscribe(packet_id, tuple(filters))


def decode_packet_id(body: bytes) -> int:
    """The packet identifier of a PUBACK, PUBREC, PUBREL or PUBCOMP (reason code ignored)."""
    return _Reader(body).u16()


def decode_disconnect(body: bytes, version: int) -> Disconnect:
    if version != MQTT5 or not body:
        return Disconnect(SUCCESS, ())
    r = _Reader(body)
    reason = r.byte()
    return Disconnect(reason, () if r.done else r.properties())


# ------------------------------------------------------------------ encoding


def encode_properties(properties: tuple[Property, ...]) -> bytes:
    out = bytearray()
    for identifier, value in properties:
        kind = _PROPERTY_TYPES[identifier]
        out += remaining_length(identifier)
        if kind == _BYTE:
            out.append(_int(value))
        elif kind == _U16:
            out += struct.pack("!H", _int(value))
        elif kind == _U32:
            out += struct.pack("!I", _int(value))
        elif kind == _VARINT:
            out += remaining_length(_int(value))
        elif kind == _STRING:
            out += mqtt_string(str(value).encode())
        elif kind == _BINARY:
            out += mqtt_string(value if isinstance(value, bytes) else str(value).encode())
        else:
            key, text = value if isinstance(value, tuple) else ("", "")
            out += mqtt_string(key.encode()) + mqtt_string(text.encode())
    return remaining_length(len(out)) + bytes(out)


def _int(value: PropertyValue) -> int:
    if not isinstance(value, int):
        raise TypeError(f"an integer property got {value!r}")
    return value


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + remaining_length(len(body)) + body


def encode_connack(
    version: int, session_present: bool, reason: int, properties: tuple[Property, ...] = ()
) -> bytes:
    """A CONNACK; ``reason`` is an MQTT 5 reason code, mapped to a return code for 3.1.1."""
    if version == MQTT5:
        body = bytes([int(session_present), reason]) + encode_properties(properties)
    else:
        code = CONNACK_RETURN_CODES.get(reason, _SERVER_UNAVAILABLE)
        body = bytes([int(session_present and code == 0), code])
    return _packet(CONNACK, 0, body)


def encode_publish(
    version: int,
    topic: str,
    payload: bytes,
    *,
    qos: int,
    retain: bool,
    dup: bool = False,
    packet_id: int | None = None,
    properties: tuple[Property, ...] = (),
) -> bytes:
    body = bytearray(mqtt_string(topic.encode()))
    if qos:
        body += struct.pack("!H", packet_id or 0)
    if version == MQTT5:
        body += encode_properties(properties)
    body += payload
    return _packet(PUBLISH, int(dup) << 3 | qos << 1 | int(retain), bytes(body))


def encode_ack(kind: int, packet_id: int) -> bytes:
    """A PUBACK, PUBREC, PUBREL or PUBCOMP meaning success (the same in 3.1.1 and 5)."""
    return _packet(kind, 0b0010 if kind == PUBREL else 0, struct.pack("!H", packet_id))


def encode_suback(version: int, packet_id: int, codes: list[int]) -> bytes:
    props = encode_properties(()) if version == MQTT5 else b""
    return _packet(SUBACK, 0, struct.pack("!H", packet_id) + props + bytes(codes))


def encode_unsuback(version: int, packet_id: int, codes: list[int]) -> bytes:
    if version != MQTT5:
        return _packet(UNSUBACK, 0, struct.pack("!H", packet_id))
    body = struct.pack("!H", packet_id) + encode_properties(()) + bytes(codes)
    return _packet(UNSUBACK, 0, body)


def encode_disconnect(reason: int) -> bytes:
    """An MQTT 5 DISCONNECT from the server (3.1.1 servers just close the connection)."""
    return _packet(DISCONNECT, 0, bytes([reason, 0]))
