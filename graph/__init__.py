"""Neo4j: connection, schema, RDF -> property-graph sync, and a local Neo4j launcher.

The read side: ``reader`` (the one way read queries are sent), ``ontology_read`` (the closed
set of classes and relationship types), ``nodes`` (nodes and their neighbourhood, batched),
``listing`` (instances of a class, keyset pages), ``topology`` (walks and paths).

Imports nothing from the other packages: ``ontology`` maps models to the records of
``graph.records``, which ``graph.sync`` writes, so data flows ontology -> graph while
``graph`` stays at the bottom of the layers.
"""
