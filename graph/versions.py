"""Which version of the twin graph is loaded: a digest of every model's name and digest.

A load that changes a model changes its digest (``(:Model {name, digest})``, written by
the sync), so caches built from the graph (the ontology's terms, the dependency snapshot,
the ingestion's topic map) compare this one short read with the version they were built
at, and rebuild only when it differs. Edits made by hand in Neo4j Browser do not change
it: they are seen by what reads Neo4j per request, and by the caches after the next load.
"""

from __future__ import annotations

import hashlib
from typing import LiteralString

from kgtwin.graph.reader import Reader

MODEL_DIGESTS: LiteralString = """
MATCH (m:Model) WHERE NOT m:Twin RETURN collect([m.name, coalesce(m.digest, '')]) AS models
"""


def graph_version(reader: Reader) -> str:
    """A short digest of the loaded models (``"empty"`` when none is)."""
    (row,) = reader.rows(MODEL_DIGESTS, "reading the models' versions")
    models = sorted(f"{name}={digest}" for name, digest in row["models"])
    if not models:
        return "empty"
    return hashlib.sha256("\n".join(models).encode()).hexdigest()[:16]
