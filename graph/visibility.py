"""Which models readers see: every one but those a load has marked as loading.

A load too large for one transaction marks its model (``(:Model).loading``) before its
first batch and clears the mark in its last (:mod:`graph.sync`); a load that died midway
leaves it. Read statements that find twin nodes by themselves (by id, IRI or class, and
the dependency snapshot's reads) start with :data:`HIDDEN_MODELS` and keep only nodes
whose model is not among ``hiddenModels`` (:func:`visible`). Statements that start from
nodes found so need no filter: relationships link nodes of one model.

Not filtered: live telemetry, which goes on during a load (the ingestion's writes and topic
map, so the points are fresh when the load completes; the failures and loads a what-if
reads live, matched to the assets of the snapshot it runs on), and the ontology (loaded in
one transaction).
"""

from __future__ import annotations

from typing import LiteralString

# one row, whatever the number of models (OPTIONAL MATCH + collect); a few Model nodes
HIDDEN_MODELS: LiteralString = """
OPTIONAL MATCH (hidden:Model) WHERE hidden.loading IS NOT NULL AND NOT hidden:Twin
WITH collect(hidden.name) AS hiddenModels
"""


def visible(node: LiteralString) -> LiteralString:
    """The condition that the node bound to ``node`` belongs to a model readers see."""
    return "NOT " + node + ".model IN hiddenModels"
