"""Errors raised by ``ingest.broker``: a local Mosquitto that could not be had.

::

    LocalBrokerError        a local Mosquitto could not be found, installed, started or stopped
    ├── MosquittoMissing    no ``mosquitto`` (or ``mosquitto_passwd``) executable
    ├── InstallFailed       ``apt-get`` could not install Mosquitto
    ├── PortInUse           the port asked for is taken by another process
    ├── BrokerExited        Mosquitto exited during start-up (the message quotes its log)
    └── StartTimeout        Mosquitto ran but did not answer a CONNECT in time

``LocalBrokerError`` is an :class:`ingest.errors.IngestError`. The tree belongs in
``ingest/errors.py``; it lives here until that module takes it. Callers import the classes
from ``ingest.broker``, so the move changes none of them.
"""

from __future__ import annotations

from ingest.errors import IngestError


class LocalBrokerError(IngestError):
    """The local Mosquitto could not be found, installed, started or stopped."""


class MosquittoMissing(LocalBrokerError):
    """No ``mosquitto`` (or ``mosquitto_passwd``) executable was found."""


class InstallFailed(LocalBrokerError):
    """``apt-get`` could not install Mosquitto; the message quotes its output."""


class PortInUse(LocalBrokerError):
    """The port the local broker should listen on is taken by another process."""


class BrokerExited(LocalBrokerError):
    """Mosquitto exited during start-up; the message quotes the end of its log."""


class StartTimeout(LocalBrokerError):
    """Mosquitto ran but did not answer an MQTT CONNECT in time; it has been stopped."""
