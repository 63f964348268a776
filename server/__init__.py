"""The command line and (later) the Starlette/Strawberry app: the one place that wires
``ontology``, ``graph``, ``ingest`` and ``simulation`` together."""
