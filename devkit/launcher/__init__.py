"""A project-local Neo4j Community server for development and tests, without Docker.

Maven fetches the Neo4j server and Neo4j Browser jars once into ``root/lib/neo4j-VERSION``
(shared by every instance); each instance lives in ``root/NAME`` (conf, data, logs, pid file,
password) and runs as a detached JVM on ``org.neo4j.server.CommunityEntryPoint``. Bolt and
HTTP listen on 127.0.0.1 only. Auth is on: the first start replaces the default password
with a random one stored in ``root/NAME/password`` (mode 600).

Linux first (``/proc`` identifies our process); ``ps`` is the fallback elsewhere.

The modules, in the order a start uses them:

- ``config``     :class:`LocalNeo4jConfig` (validated) and :class:`Neo4jStatus`
- ``memory``     sizes (``512m``, ``4g``), the machine's memory, heap and page cache for it
- ``lifecycle``  ``start``, ``stop``, ``status``, ``credentials``
- ``java``       finding java 17+ and the JVM command line
- ``install``    fetching the jars with Maven, once per version
- ``home``       the instance folder: ``neo4j.conf``, pid file, password file, logs
- ``readiness``  waiting for a Bolt session and replacing the default password

and the parts the local QuestDB (``devkit.questdb``) uses too: the checks and progress
lines of ``config``, ``find_java`` in ``java``, and

- ``maven``      fetching a server's jars with Maven, once per folder
- ``instance``   launching a server's JVM and waiting until it serves; its pid file
- ``process``    spawning, recognising and terminating a JVM; port checks
- ``files``      atomic writes, tolerant reads, log tails, ``flock`` locks

Everything a caller needs is importable from ``devkit.launcher`` itself.
"""

from __future__ import annotations

from kgtwin.devkit.launcher.config import NEO4J_VERSION, LocalNeo4jConfig, Neo4jStatus
from kgtwin.devkit.launcher.install import BROWSER_VERSION, install
from kgtwin.devkit.launcher.lifecycle import credentials, start, status, stop
from kgtwin.devkit.launcher.memory import Memory, machine_memory, machine_sizes
from kgtwin.devkit.launcher.process import free_ports

__all__ = [
    "BROWSER_VERSION",
    "NEO4J_VERSION",
    "LocalNeo4jConfig",
    "Memory",
    "Neo4jStatus",
    "credentials",
    "free_ports",
    "install",
    "machine_memory",
    "machine_sizes",
    "start",
    "status",
    "stop",
]
