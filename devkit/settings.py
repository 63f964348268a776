"""The devkit's reading of kgtwin's settings: the local Neo4j that ``kgtwin neo4j`` and
``kgtwin demo`` run, from the ``[local]`` section (``KGTWIN_HOME``, ``KGTWIN_NEO4J_BOLT_PORT``,
``KGTWIN_NEO4J_HTTP_PORT``).

Its instance folder is ``KGTWIN_HOME/neo4j``, where the launcher keeps the password of user
``neo4j`` (``password``): the very file the core reads when ``NEO4J_URI`` is unset
(:attr:`server.settings.Settings.local_password_file`), so that ``kgtwin load`` after
``kgtwin neo4j start`` connects without importing the devkit.
"""

from __future__ import annotations

from kgtwin.devkit.launcher import LocalNeo4jConfig
from kgtwin.server.settings import LOCAL_NEO4J_INSTANCE, Settings


def local_neo4j(settings: Settings) -> LocalNeo4jConfig:
    """The local Neo4j, its Browser set up with the guide and style the server serves
    (``/browser/``)."""
    return LocalNeo4jConfig(
        root=settings.home,
        name=LOCAL_NEO4J_INSTANCE,
        bolt_port=settings.local_bolt_port,
        http_port=settings.local_http_port,
        browser_content=f"{settings.base_url}/browser",
    )
