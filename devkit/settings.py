"""The devkit's reading of kgtwin's settings: the local Neo4j that ``kgtwin neo4j`` and
``kgtwin demo`` run, from the ``[local]`` section (``KGTWIN_HOME``, ``KGTWIN_NEO4J_BOLT_PORT``,
``KGTWIN_NEO4J_HTTP_PORT``, ``KGTWIN_NEO4J_HEAP``, ``KGTWIN_NEO4J_PAGECACHE``), and the local
QuestDB that ``kgtwin questdb`` runs (``KGTWIN_QUESTDB_HTTP_PORT``, ``KGTWIN_QUESTDB_PG_PORT``).

Their instance folders are ``KGTWIN_HOME/neo4j`` and ``KGTWIN_HOME/questdb``, where the
launchers keep the password of user ``neo4j`` and of user ``admin`` (``password``): the very
files the core reads when ``NEO4J_URI`` and ``QUESTDB_URL`` are unset
(:attr:`server.settings.Settings.local_password_file`, ``local_questdb_password_file``), so
that ``kgtwin load`` after ``kgtwin neo4j start`` connects without importing the devkit, and
history finds ``kgtwin questdb start``'s server the same way. A heap or page cache size not
set is sized from the machine's memory (:func:`devkit.launcher.machine_sizes`).
"""

from __future__ import annotations

from collections.abc import Callable

from kgtwin.devkit.launcher import LocalNeo4jConfig, machine_memory, machine_sizes
from kgtwin.devkit.launcher.memory import format_size
from kgtwin.devkit.questdb import LocalQuestDBConfig
from kgtwin.server.settings import LOCAL_NEO4J_INSTANCE, LOCAL_QUESTDB_INSTANCE, Settings


def local_neo4j(settings: Settings, memory: Callable[[], int] = machine_memory) -> LocalNeo4jConfig:
    """The local Neo4j, its Browser set up with the guide and style the server serves
    (``/browser/``). ``memory`` tells the machine's memory in bytes; it is asked only when
    the heap or the page cache is not set."""
    heap, pagecache = settings.local_heap, settings.local_pagecache
    if heap is None or pagecache is None:
        sized_heap, sized_pagecache = machine_sizes(memory())
        heap = heap or format_size(sized_heap)
        pagecache = pagecache or format_size(sized_pagecache)
    return LocalNeo4jConfig(
        root=settings.home,
        name=LOCAL_NEO4J_INSTANCE,
        bolt_port=settings.local_bolt_port,
        http_port=settings.local_http_port,
        heap=heap,
        pagecache=pagecache,
        heap_origin="machine" if settings.local_heap is None else "setting",
        pagecache_origin="machine" if settings.local_pagecache is None else "setting",
        browser_content=f"{settings.base_url}/browser",
    )


def local_questdb(settings: Settings) -> LocalQuestDBConfig:
    """The local QuestDB, on the ports of the ``[local]`` section."""
    return LocalQuestDBConfig(
        root=settings.home,
        name=LOCAL_QUESTDB_INSTANCE,
        http_port=settings.local_questdb_http_port,
        pg_port=settings.local_questdb_pg_port,
    )
