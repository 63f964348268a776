"""Neo4j: connection, schema, RDF -> property-graph sync, and a local Neo4j launcher.

The read side: ``reader`` (the one way read queries are sent), ``ontology_read`` (the closed
set of classes and relationship types), ``nodes`` (nodes and their neighbourhood, batched),
``listing`` (instances of a class, keyset pages), ``topology`` (walks and paths).

Imports nothing from ``server``, ``ingest`` or ``simulation``; it reads the value types of
``ontology`` (the layer beneath it).
"""
