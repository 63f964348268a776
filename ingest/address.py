"""Where an MQTT broker is: ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...``.

:func:`parse_broker_url` turns such a URL into a :class:`BrokerAddress` (default ports 1883
and 8883; user name and password percent-decoded), and :func:`configure` applies its
credentials and TLS to a paho client before it connects. The password never shows in a
repr or an error message: :attr:`BrokerAddress.safe_url` replaces it with ``***``.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import paho.mqtt.client as mqtt

from kgtwin.ingest.errors import IngestError

MQTT_PORT = 1883
MQTTS_PORT = 8883
_SCHEMES = {"mqtt": False, "mqtts": True}  # scheme -> TLS
_PREFIX = re.compile(r"\s*(mqtts?)://", re.IGNORECASE)
_HIDDEN = "***"
_ENCODE_HINT = (
    " A '/', '?', '#', '@' or ':' inside the user name or password must be percent-encoded"
    " ('%2F', '%3F', '%23', '%40', '%3A')."
)


class InvalidBrokerUrl(IngestError, ValueError):
    """A broker URL that cannot be used; the message shows it with its password hidden.

    (Belongs in ``ingest/errors.py``; it lives here until that module takes it, and is
    imported from ``ingest.address``.)
    """


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """A broker's host and port, whether to use TLS, and the credentials to log in with."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be between 1 and 65535, got {self.port}")
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username")

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Same as :func:`parse_broker_url`."""
        return parse_broker_url(url)

    @property
    def url(self) -> str:
        """The URL of this address, password included: :func:`parse_broker_url` reads it back."""
        return self._url(self.password)

    @property
    def safe_url(self) -> str:
        """The URL with the password replaced by ``***``: for logs and messages."""
        return self._url(None if self.password is None else _HIDDEN)

    def _url(self, password: str | None) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        host = f"[{self.host}]" if ":" in self.host else self.host
        userinfo = ""
        if self.username is not None:
            userinfo = quote(self.username, safe="")
            if password is not None:
                shown = password if password == _HIDDEN else quote(password, safe="")
                userinfo += f":{shown}"
            userinfo += "@"
        return f"{scheme}://{userinfo}{host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Read ``mqtt://[user[:password]@]host[:port]`` (or ``mqtts://``) into an address.

    Raises :class:`InvalidBrokerUrl` (a ``ValueError``) naming what is wrong, with the URL
    shown with its password hidden.
    """
    shown = redact_url(url)
    prefix = _PREFIX.match(url)
    if prefix is None:
        raise InvalidBrokerUrl(
            f"Broker URL {shown!r} must start with 'mqtt://' (plain TCP) or 'mqtts://' "
            "(TLS), as in mqtt://localhost:1883."
        )
    # urlsplit's own messages quote parts of the URL (a password, even), so none is shown.
    hint = _ENCODE_HINT if "@" in url else ""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidBrokerUrl(
            f"Broker URL {shown!r} is malformed: an IPv6 host goes in brackets, as in "
            f"mqtt://[::1]:1883.{hint}"
        ) from exc
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidBrokerUrl(
            f"Broker URL {shown!r} is malformed: its port is not a number from 1 to 65535.{hint}"
        ) from exc
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidBrokerUrl(
            f"Broker URL {shown!r} must not have a path, query or fragment; it is only "
            "mqtt://[user[:password]@]host[:port]."
        )
    host = parts.hostname
    if not host:
        raise InvalidBrokerUrl(
            f"Broker URL {shown!r} has no host; write one, as in mqtt://localhost:1883."
        )
    if any(c.isspace() for c in host):
        raise InvalidBrokerUrl(f"Broker URL {shown!r} has a space in its host {host!r}.")
    if port == 0:
        raise InvalidBrokerUrl(f"Broker URL {shown!r} has port 0; use a port from 1 to 65535.")
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    if username == "":
        raise InvalidBrokerUrl(
            f"Broker URL {shown!r} has an empty user name; write 'user:password@host', or "
            "leave out the credentials."
        )
    tls = _SCHEMES[prefix.group(1).lower()]
    default_port = MQTTS_PORT if tls else MQTT_PORT
    return BrokerAddress(host, port or default_port, tls, username, password)


def redact_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``.

    Works on malformed URLs too, since it is what their error messages show.
    """
    start = url.find("//")
    start = 0 if start < 0 else start + 2
    # The last '@' ends the user info even when an unencoded '/', '?' or '#' in the
    # password makes a URL parser see a path: hiding too much is the safe mistake.
    at = url.rfind("@", start)
    if at < 0:
        return url
    colon = url.find(":", start, at)
    if colon < 0:
        return url
    return f"{url[: colon + 1]}{_HIDDEN}{url[at:]}"


def configure(client: mqtt.Client, address: BrokerAddress) -> None:
    """Apply the address's credentials and TLS to a fresh paho client, before it connects.

    TLS verifies the broker's certificate and host name against the system's CA store.
    The caller still connects with ``client.connect(address.host, address.port)``.
    """
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set_context(ssl.create_default_context())
