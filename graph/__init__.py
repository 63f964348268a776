"""Neo4j: connection, schema, RDF -> property-graph sync, and a local Neo4j launcher.

Imports nothing from ``server``, ``ingest`` or ``simulation``; it reads the value types of
``ontology`` (the layer beneath it).
"""
