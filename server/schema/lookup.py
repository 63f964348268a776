"""Turning root-field arguments into graph values: the node an id or IRI names, and the
relationship types (checked) and directions a walk follows."""

from __future__ import annotations

from kgtwin.graph.errors import NotFound
from kgtwin.graph.nodes import TwinNode, nodes_by_id
from kgtwin.graph.topology import Direction, direction_for
from kgtwin.server.schema.context import GraphInfo, loaders, reader
from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.schema.loaders import in_thread
from kgtwin.simulation.snapshot import AMBIGUOUS, Snapshot


async def find_node(
    info: GraphInfo, node_id: str | None, iri: str | None, *, what: str = "asset"
) -> TwinNode:
    """The node with ``node_id`` or ``iri`` (exactly one given); ``NotFound`` if none."""
    check_one(node_id, iri, what)
    if iri is not None:
        node = await loaders(info).nodes.load(iri)
        if node is None:
            raise NotFound(f"no {what} has the IRI {iri!r}")
        return node
    assert node_id is not None
    found = (await in_thread(nodes_by_id, reader(info), [node_id]))[node_id]
    if not found:
        raise NotFound(f"no {what} has the id {node_id!r}")
    if len(found) > 1:
        raise BadUserInput(
            f"the id {node_id!r} is used by {len(found)} models; give the {what}'s `iri`: "
            + ", ".join(n.iri for n in found)
        )
    return found[0]


def check_one(node_id: str | None, iri: str | None, what: str = "asset") -> None:
    if (node_id is None) == (iri is None):
        raise BadUserInput(f"give the {what} by exactly one of `id` and `iri`")


def snapshot_iri(snapshot: Snapshot, node_id: str | None, iri: str | None) -> str | None:
    """The IRI of the snapshot's node with ``node_id`` or ``iri`` (exactly one given, see
    :func:`check_one`); None if the snapshot has none, or several with the id (Neo4j then
    says which, or that there is none, as :func:`find_node`)."""
    node = snapshot.index.get(iri) if iri is not None else snapshot.by_id.get(node_id or "")
    return None if node is None or node == AMBIGUOUS else snapshot.iris[node]


async def walk_direction(
    info: GraphInfo, via: list[str] | None, *, downstream: bool
) -> tuple[tuple[str, ...], Direction]:
    """The relationship types to follow (default: those with a dependency direction), and
    which way: downstream goes from supplier to consumer."""
    terms = await loaders(info).terms()
    types = terms.dependency_types if via is None else terms.check_relationships(via)
    if not types:
        raise BadUserInput(
            "via: give at least one relationship type"
            if via is not None
            else "the ontology in the graph declares no dependency relationships; give `via`"
        )
    return types, direction_for(types, terms.reversed_types(types), downstream=downstream)
