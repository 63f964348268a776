"""A local Mosquitto broker for development, tests, benchmarks and the demo, without Docker.

Each broker lives in a folder of its own (config, password file, persistence, log, pid
file) and listens on 127.0.0.1 only. Persistence is on, so sessions and their queued QoS 1
messages survive a restart, and the queue limits are raised so that a slow subscriber
loses nothing. Nothing here installs anything unless asked: :func:`install_mosquitto` is
for test set-up and the demo.

The modules, in the order a start uses them:

- ``install``  finding ``mosquitto`` and ``mosquitto_passwd``; installing them with apt-get
- ``config``   :class:`LocalBrokerConfig` (validated) and the ``mosquitto.conf`` it renders
- ``local``    :class:`LocalBroker`: start, stop, restart; :func:`stop_leftover`
- ``probe``    one MQTT CONNECT over a plain socket: is the broker serving yet?
- ``errors``   the :class:`LocalBrokerError` tree

Everything a caller needs is importable from ``ingest.broker`` itself.
"""

from __future__ import annotations

from ingest.broker.config import (
    DEFAULT_MAX_INFLIGHT_MESSAGES,
    DEFAULT_MAX_QUEUED_MESSAGES,
    LocalBrokerConfig,
    render_config,
)
from ingest.broker.errors import (
    BrokerExited,
    InstallFailed,
    LocalBrokerError,
    MosquittoMissing,
    PortInUse,
    StartTimeout,
)
from ingest.broker.install import (
    find_mosquitto,
    find_mosquitto_passwd,
    install_mosquitto,
    require_mosquitto,
)
from ingest.broker.local import LocalBroker, stop_leftover

__all__ = [
    "DEFAULT_MAX_INFLIGHT_MESSAGES",
    "DEFAULT_MAX_QUEUED_MESSAGES",
    "BrokerExited",
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
