"""kgtwin's development and demo tooling, apart from the core packages.

What a production deployment never runs. The core (``graph``, ``ingest``, ``ontology``,
``simulation``, ``server``) never imports it; devkit uses the core (``tests/test_layers.py``
and ruff's banned-api rule check that).

- ``launcher``   a local Neo4j Community server from Maven Central jars (``kgtwin neo4j``),
  and the parts every local Java server shares (Maven, java, processes, pid files)
- ``questdb``    a local QuestDB for telemetry history, from its Maven Central jar
  (``kgtwin questdb``)
- ``broker``     local MQTT brokers: Mosquitto where installed, else the embedded one
- ``plant``      the demo data centre's physical state under failures (pure)
- ``telemetry``  a plausible value for every point of a site from it (pure)
- ``simulator``  publishing that telemetry over MQTT (``kgtwin simulate-telemetry``)
- ``demo``       everything at once (``kgtwin demo``)
- ``commands``   those ``kgtwin`` commands, declared as ``kgtwin.commands`` entry points in
  pyproject.toml: the core's CLI finds them there, and lists none where devkit is missing
- ``errors``     the :class:`DevkitError` tree

Its own dependencies, if it ever has any, go in the ``demo`` extra (``kgtwin[demo]``).
How the core stays apart from it, and why it has a broker of its own: docs/devkit.md.
"""
