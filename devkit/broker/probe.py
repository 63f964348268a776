"""Asking a broker whether it serves MQTT: one CONNECT, one CONNACK, over a plain socket.

A broker counts as ready when it answers an MQTT 3.1.1 CONNECT (clean session, with the
configured credentials) with CONNACK "accepted". The handful of bytes are written here by
hand: a probe needs no client library, no network thread and no callbacks, and every step
is bounded by the socket's timeout.
"""

from __future__ import annotations

import socket
import struct

_PROTOCOL = b"\x00\x04MQTT\x04"  # protocol name "MQTT", level 4 (3.1.1)
_CLEAN_SESSION = 0x02
_PASSWORD_FLAG = 0x40
_USERNAME_FLAG = 0x80
_KEEPALIVE = 10
_CONNACK = b"\x20\x02"
_DISCONNECT = b"\xe0\x00"

# CONNACK return codes of MQTT 3.1.1, for messages.
CONNACK_CODES = {
    0: "accepted",
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class ProbeFailed(Exception):
    """Nothing answered MQTT on the port yet (refused, reset, timed out, or not MQTT)."""


def connack_code(
    host: str, port: int, username: str | None, password: str | None, timeout: float
) -> int:
    """Send a CONNECT to ``host:port``; return the CONNACK's return code (0 = accepted).

    Raises :class:`ProbeFailed` if no CONNACK comes back within ``timeout`` seconds.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(connect_packet(username, password))
            answer = _read_exactly(sock, 4)
            if answer[:2] != _CONNACK:
                raise ProbeFailed(f"answered {answer!r} instead of a CONNACK")
            code = answer[3]
            if code == 0:
                sock.sendall(_DISCONNECT)
            return code
    except OSError as exc:
        raise ProbeFailed(f"{type(exc).__name__}: {exc}") from exc


def connect_packet(
    username: str | None,
    password: str | None,
    *,
    client_id: str = "",  # empty: the broker assigns one
    keepalive: int = _KEEPALIVE,
) -> bytes:
    """An MQTT 3.1.1 CONNECT with clean session, the client id and the credentials."""
    flags = _CLEAN_SESSION
    payload = mqtt_string(client_id.encode())
    if username is not None:
        flags |= _USERNAME_FLAG
        payload += mqtt_string(username.encode())
        if password is not None:
            flags |= _PASSWORD_FLAG
            payload += mqtt_string(password.encode())
    body = _PROTOCOL + struct.pack("!BH", flags, keepalive) + payload
    return b"\x10" + remaining_length(len(body)) + body


def mqtt_string(data: bytes) -> bytes:
    """``data`` as an MQTT string: its length in two bytes, then the bytes."""
    if len(data) > 0xFFFF:
        raise ValueError("an MQTT string holds at most 65535 bytes")
    return struct.pack("!H", len(data)) + data


def remaining_length(length: int) -> bytes:
    """A fixed header's remaining length: the MQTT variable-length integer."""
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ProbeFailed("the connection closed before a CONNACK")
        data += chunk
    return data
