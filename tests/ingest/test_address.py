"""Broker URLs: parsing, defaults, the errors a person sees, and a hidden password."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kgtwin.ingest.address import (
    BrokerAddress,
    InvalidBrokerUrl,
    configure,
    parse_broker_url,
    redact_url,
)
from kgtwin.ingest.errors import IngestError

SECRET = "s3cr3t-pw"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://localhost", BrokerAddress("localhost", 1883)),
        ("mqtt://broker.example:1884", BrokerAddress("broker.example", 1884)),
        ("mqtts://broker.example", BrokerAddress("broker.example", 8883, tls=True)),
        ("MQTTS://Broker.Example:443/", BrokerAddress("broker.example", 443, tls=True)),
        ("mqtt://127.0.0.1:1", BrokerAddress("127.0.0.1", 1)),
        ("mqtt://[::1]:65535", BrokerAddress("::1", 65535)),
        ("mqtt://ingest@localhost", BrokerAddress("localhost", 1883, False, "ingest", None)),
        ("mqtt://ingest:pw@localhost:1", BrokerAddress("localhost", 1, False, "ingest", "pw")),
        ("mqtt://ingest:@localhost", BrokerAddress("localhost", 1883, False, "ingest", "")),
        (
            "mqtts://a%40b:p%3Aw%2F%40%20x@h",
            BrokerAddress("h", 8883, True, "a@b", "p:w/@ x"),
        ),
    ],
)
def test_parse(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected
    assert BrokerAddress.parse(url) == expected


@pytest.mark.parametrize(
    "address",
    [
        BrokerAddress("localhost", 1883),
        BrokerAddress("::1", 8883, tls=True),
        BrokerAddress("h", 1, False, "user name", "p@ss:w/rd?#%"),
        BrokerAddress("h", 1, True, "only-user"),
    ],
)
def test_url_reads_back_to_the_same_address(address: BrokerAddress) -> None:
    assert parse_broker_url(address.url) == address


def test_repr_and_safe_url_hide_the_password() -> None:
    address = parse_broker_url(f"mqtt://ingest:{SECRET}@localhost:1884")
    assert SECRET not in repr(address)
    assert SECRET not in str(address)
    assert address.safe_url == "mqtt://ingest:***@localhost:1884"
    assert address.url == f"mqtt://ingest:{SECRET}@localhost:1884"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"http://u:{SECRET}@localhost", "must start with 'mqtt://'"),
        (f"tcp://u:{SECRET}@localhost:1883", "must start with 'mqtt://'"),
        (f"ws://u:{SECRET}@localhost", "must start with 'mqtt://'"),
        (f"u:{SECRET}@localhost:1883", "must start with 'mqtt://'"),
        (f"mqtt:u:{SECRET}@localhost", "must start with 'mqtt://'"),
        ("", "must start with 'mqtt://'"),
        (f"mqtt://u:{SECRET}@localhost/telemetry", "must not have a path"),
        (f"mqtt://u:{SECRET}@localhost?x=1", "must not have a path"),
        (f"mqtt://u:{SECRET}@localhost#x", "must not have a path"),
        (f"mqtt://u:{SECRET}@", "has no host"),
        (f"mqtt://u:{SECRET}@:1883", "has no host"),
        ("mqtt://", "has no host"),
        (f"mqtt://u:{SECRET}@localhost:http", "malformed"),
        (f"mqtt://u:{SECRET}@localhost:70000", "malformed"),
        (f"mqtt://u:{SECRET}@localhost:0", "port 0"),
        (f"mqtt://u:{SECRET}@[::1", "malformed"),
        (f"mqtt://:{SECRET}@localhost", "empty user name"),
        (f"mqtt://u:{SECRET}@my host", "space in its host"),
        # An unencoded '/' in the password makes the rest look like a path: still hidden.
        (f"mqtt://u:{SECRET}/x@localhost", "malformed"),
    ],
)
def test_invalid_urls_say_why_and_hide_the_password(url: str, says: str) -> None:
    with pytest.raises(InvalidBrokerUrl, match=says) as caught:
        parse_broker_url(url)
    assert SECRET not in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, IngestError)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtt://u:pw@h:1", "mqtt://u:***@h:1"),
        ("mqtt://u@h:1", "mqtt://u@h:1"),
        ("mqtt://h:1", "mqtt://h:1"),
        ("mqtt://u:p@w/x@h", "mqtt://u:***@h"),
        ("u:pw@h", "u:***@h"),
        ("", ""),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"host": "", "port": 1883}, "host"),
        ({"host": "h", "port": 0}, "port"),
        ({"host": "h", "port": 65536}, "port"),
        ({"host": "h", "port": 1, "password": "pw"}, "needs a username"),
    ],
)
def test_address_validates_itself(kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        BrokerAddress(**kwargs)  # type: ignore[arg-type]


def _client() -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id="address-test")


def test_configure_sets_credentials_and_tls_with_the_system_store() -> None:
    client = _client()
    configure(client, BrokerAddress("broker.example", 8883, True, "ingest", SECRET))
    assert client.username == "ingest"
    assert client.password == SECRET
    context = client._ssl_context  # paho keeps the context it will wrap the socket with
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0 or ssl.get_default_verify_paths().cafile


def test_configure_plain_and_anonymous_changes_nothing() -> None:
    client = _client()
    configure(client, BrokerAddress("localhost", 1883))
    assert client.username is None
    assert client.password is None
    assert client._ssl_context is None
