"""Errors raised by ``devkit``: a local service (Neo4j, QuestDB, an MQTT broker) that could
not be had, or a simulation with nothing to simulate.

::

    DevkitError
    ├── PortInUse           a port a local service should listen on is taken by another process
    ├── StartTimeout        a local service ran but did not answer in time (it was stopped)
    ├── LauncherError       the local Neo4j or QuestDB could not be installed, started or stopped
    │   ├── JavaMissing     no usable java (17 or newer)
    │   └── DownloadFailed  Maven could not fetch the server's artifacts
    ├── LocalBrokerError    a local MQTT broker could not be found, installed, started or stopped
    │   ├── MosquittoMissing  no ``mosquitto`` (or ``mosquitto_passwd``) executable
    │   ├── InstallFailed   ``apt-get`` could not install Mosquitto
    │   └── BrokerExited    Mosquitto exited during start-up (the message quotes its log)
    └── NothingToSimulate   a graph without the points a telemetry simulation publishes

None of them is a core error (``GraphError``, ``IngestError``, ``SimulationError``): the
core's retries and error handling never see a launcher's or a broker's failure. Each
``kgtwin`` command of the devkit prints them as ``kgtwin: error: ...`` (exit status 1).
"""

from __future__ import annotations


class DevkitError(Exception):
    """Base of every error raised by ``devkit``."""


class PortInUse(DevkitError):
    """A port a local service (Neo4j's Bolt or HTTP port, QuestDB's HTTP or PostgreSQL port,
    a broker's port) should listen on is already taken by another process."""


class StartTimeout(DevkitError):
    """A local service started but did not answer in time (Neo4j a Bolt session, QuestDB a
    query over HTTP, a broker an MQTT CONNECT); it has been stopped."""


class LauncherError(DevkitError):
    """The local Neo4j or QuestDB server could not be installed, started or stopped."""


class JavaMissing(LauncherError):
    """No usable ``java`` (17 or newer) was found."""


class DownloadFailed(LauncherError):
    """Maven could not fetch a local server's artifacts (Neo4j's, QuestDB's)."""


class LocalBrokerError(DevkitError):
    """A local MQTT broker (Mosquitto, or the embedded one) could not be found, installed,
    started or stopped."""


class MosquittoMissing(LocalBrokerError):
    """No ``mosquitto`` (or ``mosquitto_passwd``) executable was found."""


class InstallFailed(LocalBrokerError):
    """``apt-get`` could not install Mosquitto; the message quotes its output."""


class BrokerExited(LocalBrokerError):
    """Mosquitto exited during start-up; the message quotes the end of its log."""


class NothingToSimulate(DevkitError):
    """The graph holds no point with an MQTT topic: no model is loaded yet."""
