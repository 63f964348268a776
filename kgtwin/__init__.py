"""kgtwin: a digital twin server built around a knowledge graph.

The installed import names are ``kgtwin.graph``, ``kgtwin.ontology``, ``kgtwin.ingest``,
``kgtwin.simulation``, ``kgtwin.server`` and ``kgtwin.devkit`` (development tooling). In
the repository each is a top-level folder, and ``kgtwin/`` holds a link to each.
"""
