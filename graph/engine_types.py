"""The relationships kgtwin's engine reads by meaning rather than by name.

``kgt:hasPoint`` gives ``HAS_POINT``; a vocabulary aligned to it (``brick:hasPoint kgt:means
kgt:hasPoint``) gives its own type (``BRICK_HAS_POINT``), and its ``(:Relationship)`` node
lists ``HAS_POINT`` in ``means``. A statement that follows points starts with one of these
calls, which bind the types the graph's ontology says mean the engine's, then matches
``type(r) IN pointTypes``: the types come from kgtwin's own nodes, never from a request.
"""

from __future__ import annotations

from typing import LiteralString

POINT_TYPES: LiteralString = """
CALL () {
  MATCH (t:Relationship) WHERE NOT t:Twin AND 'HAS_POINT' IN coalesce(t.means, [])
  RETURN collect(t.type) + ['HAS_POINT'] AS pointTypes
}
"""

LOAD_POINT_TYPES: LiteralString = """
CALL () {
  MATCH (t:Relationship) WHERE NOT t:Twin AND 'LOAD_POINT' IN coalesce(t.means, [])
  RETURN collect(t.type) + ['LOAD_POINT'] AS loadPointTypes
}
"""
