"""The command line and the Starlette/Strawberry app: the one place that wires
``ontology``, ``graph``, ``ingest`` and ``simulation`` together."""
