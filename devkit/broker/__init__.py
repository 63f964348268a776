"""A local MQTT broker for development, tests, benchmarks and the demo, without Docker:
Mosquitto where it is installed, otherwise :class:`EmbeddedBroker`, a broker in pure Python
bound to 127.0.0.1 (no root, nothing to install).

Each Mosquitto broker lives in a folder of its own (config, password file, persistence,
log, pid file) and listens on 127.0.0.1 only. Persistence is on, so sessions and their
queued QoS 1 messages survive a restart, and the queue limits are raised so that a slow
subscriber loses nothing. The embedded broker keeps its sessions in memory, for as long
as the process lives. Nothing here installs anything unless asked: :func:`install_mosquitto` is
for test set-up and the demo.

The modules, in the order a start uses them:

- ``install``  finding ``mosquitto`` and ``mosquitto_passwd``; installing them with apt-get
- ``config``   :class:`LocalBrokerConfig` (validated) and the ``mosquitto.conf`` it renders
- ``local``    :class:`LocalBroker`: start, stop, restart; :func:`stop_leftover`
- ``probe``    one MQTT CONNECT over a plain socket: is the broker serving yet?
- ``embedded`` :class:`EmbeddedBroker`: MQTT 3.1.1 and 5 in an asyncio thread, no Mosquitto
- ``sessions`` the embedded broker's sessions, queues, retained messages and routing
- ``packets``  the embedded broker's MQTT packet decoding and encoding

Its errors (:class:`LocalBrokerError`, :class:`PortInUse`, ...) are ``devkit.errors``'; they
and everything else a caller needs are importable from ``devkit.broker`` itself.
"""

from __future__ import annotations

from kgtwin.devkit.broker.config import (
    DEFAULT_MAX_INFLIGHT_MESSAGES,
    DEFAULT_MAX_QUEUED_MESSAGES,
    LocalBrokerConfig,
    render_config,
)
from kgtwin.devkit.broker.embedded import EmbeddedBroker
from kgtwin.devkit.broker.install import (
    find_mosquitto,
    find_mosquitto_passwd,
    install_mosquitto,
    require_mosquitto,
)
from kgtwin.devkit.broker.local import LocalBroker, stop_leftover
from kgtwin.devkit.errors import (
    BrokerExited,
    InstallFailed,
    LocalBrokerError,
    MosquittoMissing,
    PortInUse,
    StartTimeout,
)

__all__ = [
    "DEFAULT_MAX_INFLIGHT_MESSAGES",
    "DEFAULT_MAX_QUEUED_MESSAGES",
    "BrokerExited",
    "EmbeddedBroker",
    "InstallFailed",
    "LocalBroker",
    "LocalBrokerConfig",
    "LocalBrokerError",
    "MosquittoMissing",
    "PortInUse",
    "StartTimeout",
    "find_mosquitto",
    "find_mosquitto_passwd",
    "install_mosquitto",
    "render_config",
    "require_mosquitto",
    "stop_leftover",
]
