"""The relationships kgtwin's engine reads by meaning rather than by name.

``kgt:hasPoint`` gives ``HAS_POINT``; a vocabulary aligned to it (``brick:hasPoint kgt:means
kgt:hasPoint``) gives its own type (``BRICK_HAS_POINT``), and its ``(:Relationship)`` node
lists ``HAS_POINT`` in ``means``; ``brick:isPointOf kgt:meansInverseOf kgt:hasPoint`` gives
``BRICK_IS_POINT_OF``, listed in ``meansInverse``, an edge from the point to its asset. A
statement that follows points starts with one of these calls, which bind the types the
graph's ontology says mean the engine's (``pointTypes`` one way, ``pointOfTypes`` the other),
then matches :data:`HAS_POINT_EDGE`: the types come from kgtwin's own nodes, never from a
request.
"""

from __future__ import annotations

from typing import LiteralString

POINT_TYPES: LiteralString = """
CALL () {
  MATCH (t:Relationship) WHERE NOT t:Twin
  WITH collect(t) AS terms
  RETURN [t IN terms WHERE 'HAS_POINT' IN coalesce(t.means, []) | t.type] + ['HAS_POINT']
           AS pointTypes,
         [t IN terms WHERE 'HAS_POINT' IN coalesce(t.meansInverse, []) | t.type] AS pointOfTypes
}
"""
# an edge r between asset a and point p that says "a has point p", either way round
HAS_POINT_EDGE: LiteralString = """
  (type(r) IN pointTypes AND startNode(r) = a) OR (type(r) IN pointOfTypes AND endNode(r) = a)
"""

LOAD_POINT_TYPES: LiteralString = """
CALL () {
  MATCH (t:Relationship) WHERE NOT t:Twin
  WITH collect(t) AS terms
  RETURN [t IN terms WHERE 'LOAD_POINT' IN coalesce(t.means, []) | t.type] + ['LOAD_POINT']
           AS loadPointTypes,
         [t IN terms WHERE 'LOAD_POINT' IN coalesce(t.meansInverse, []) | t.type]
           AS loadPointOfTypes
}
"""
