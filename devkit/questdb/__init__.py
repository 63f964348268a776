"""A project-local QuestDB for telemetry history in development, demos and tests, without
Docker.

Maven fetches QuestDB's jar once into ``root/lib/questdb-VERSION`` (shared by every
instance); each instance lives in ``root/NAME`` (QuestDB's root: conf, db, web console; and
logs, pid file, password) and runs as a detached JVM on ``io.questdb.ServerMain``. HTTP
(web console, REST ``/exec``, InfluxDB line protocol writes at ``/write``) and the
PostgreSQL wire protocol listen on 127.0.0.1 only, with one user (``admin``) and a random
password generated on the first start into ``root/NAME/password`` (mode 600). No line
protocol over TCP, no health server, no telemetry.

It reuses the generic parts of the Neo4j launcher (:mod:`devkit.launcher`: config checks,
files, Maven, java, processes and pid files). Its modules, in the order a start uses them:

- ``config``     :class:`LocalQuestDBConfig` (validated) and :class:`QuestDBStatus`
- ``lifecycle``  ``start``, ``stop``, ``status``, ``credentials``
- ``jvm``        java, the command line and environment, the process's identity
- ``install``    fetching the jar with Maven, once per version
- ``home``       the instance folder: ``server.conf``, ``log.conf``, password, pid file, logs
- ``readiness``  waiting until ``SELECT 1`` answers over HTTP

Everything a caller needs is importable from ``devkit.questdb`` itself.
"""

from __future__ import annotations

from kgtwin.devkit.questdb.config import QUESTDB_VERSION, LocalQuestDBConfig, QuestDBStatus
from kgtwin.devkit.questdb.install import install
from kgtwin.devkit.questdb.lifecycle import credentials, start, status, stop

__all__ = [
    "QUESTDB_VERSION",
    "LocalQuestDBConfig",
    "QuestDBStatus",
    "credentials",
    "install",
    "start",
    "status",
    "stop",
]
