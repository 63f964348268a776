"""What-if arguments turned into snapshot terms: assets (by id or IRI) into node indices,
relationships into (supplier, consumer) pairs, and each asset's load for capacity mode.

Loads, in the asset's capacity unit, come from (first that applies): the request's
override; the live value of the asset's ``kgt:loadPoint``, converted from the point's
unit, unless it is stale; the asset's ``kgt:designLoad``; none (it carries nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import strawberry

from kgtwin.graph.dependencies import read_load_points
from kgtwin.graph.errors import NotFound
from kgtwin.graph.ontology_read import Terms
from kgtwin.server.live_loads import LoadSource, resolved_loads
from kgtwin.server.schema.as_of import load_readings_then
from kgtwin.server.schema.context import GraphInfo, loaders, reader, services
from kgtwin.server.schema.errors import BadUserInput, SnapshotNotReady
from kgtwin.server.schema.loaders import in_thread
from kgtwin.simulation.propagation import Pair
from kgtwin.simulation.snapshot import AMBIGUOUS, Snapshot

logger = logging.getLogger(__name__)


@strawberry.input(description="A relationship to fail, between two assets (id or IRI).")
class RelationshipInput:
    from_: str = strawberry.field(name="from")
    to: str
    type: str | None = strawberry.field(
        default=None,
        description="A dependency relationship type (e.g. FEEDS); default: whichever "
        "dependency joins the two.",
    )


@strawberry.input(description="An asset's load to use instead of its live or design load.")
class LoadInput:
    asset: str = strawberry.field(description="Id or IRI.")
    value: float = strawberry.field(description="In the asset's capacity unit.")


@dataclass(frozen=True, slots=True)
class Loads:
    """Each node's load (None: unknown), where it came from, and the load point read."""

    values: tuple[float | None, ...]
    sources: tuple[LoadSource, ...]
    points: dict[int, str]  # node -> the load point whose value was used


def snapshot_of(info: GraphInfo) -> Snapshot:
    cached = info.context["cached"]
    if cached is None:
        raise SnapshotNotReady(
            "the dependency snapshot is not built yet: the server builds it from Neo4j at "
            "start-up and after each model load; try again in a few seconds"
        )
    return cached.snapshot


def node_of(snapshot: Snapshot, key: str, argument: str) -> int:
    """The node an id or IRI names; ``NotFound`` or ``BadUserInput`` (ambiguous id)."""
    node = snapshot.index.get(key)
    if node is None:
        node = snapshot.by_id.get(key)
    if node is None:
        raise NotFound(f"{argument}: no asset has the id or IRI {key!r}")
    if node == AMBIGUOUS:
        raise BadUserInput(f"{argument}: the id {key!r} is used by several models; give its IRI")
    return node


def nodes_of(snapshot: Snapshot, keys: Iterable[str], argument: str) -> list[int]:
    return [node_of(snapshot, key, argument) for key in keys]


def nodes_of_class(snapshot: Snapshot, terms: Terms, class_name: str) -> list[int]:
    """The nodes of a class (and its subclasses), in id order; ``UnknownClass`` if the
    ontology has no such class."""
    name = terms.check_class(class_name).name
    return snapshot.with_label(name)


async def pairs_of(
    info: GraphInfo, snapshot: Snapshot, relationships: Sequence[RelationshipInput]
) -> list[Pair]:
    """Each relationship as a (supplier, consumer) pair of the dependency graph."""
    for relationship in relationships:
        if relationship.type is not None and not relationship.type.strip():
            raise BadUserInput(
                "failRelationships: a relationship's type is empty; give a dependency "
                "relationship type (e.g. FEEDS), or leave `type` out for whichever joins them"
            )
    terms = await loaders(info).terms() if any(r.type for r in relationships) else None
    pairs = []
    for relationship in relationships:
        a = node_of(snapshot, relationship.from_, "failRelationships.from")
        b = node_of(snapshot, relationship.to, "failRelationships.to")
        candidates = [(a, b), (b, a)]
        if relationship.type is not None and terms is not None:
            (rel_type,) = terms.check_relationships([relationship.type])
            if rel_type not in snapshot.types:
                raise BadUserInput(
                    f"failRelationships: {rel_type} carries no dependency; choose one of "
                    + ", ".join(snapshot.types)
                )
            reverse = rel_type in terms.reversed_types([rel_type])
            candidates = [(b, a) if reverse else (a, b)]
        pair = next((p for p in candidates if p[1] in snapshot.consumers[p[0]]), None)
        if pair is None:
            what = relationship.type or "dependency"
            raise NotFound(
                f"failRelationships: no {what} relationship joins {relationship.from_!r} "
                f"to {relationship.to!r}"
            )
        pairs.append(pair)
    return pairs


async def loads_of(
    info: GraphInfo,
    snapshot: Snapshot,
    overrides: Sequence[LoadInput],
    as_of: datetime | None = None,
) -> Loads:
    """Every node's load: override, else live load point (as it read at ``as_of``, from
    history, when given), else design load, else none."""
    readings = await (
        in_thread(read_load_points, reader(info))
        if as_of is None
        else load_readings_then(info, as_of)
    )
    values, sources, points = resolved_loads(snapshot, readings, services(info).units)
    for override in overrides:
        node = node_of(snapshot, override.asset, "loads.asset")
        if override.value < 0:
            raise BadUserInput(f"loads: the load of {override.asset!r} must be 0 or more")
        values[node], sources[node] = override.value, LoadSource.OVERRIDE
        points.pop(node, None)
    return Loads(tuple(values), tuple(sources), points)
