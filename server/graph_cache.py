"""What the server keeps from the graph between requests, rebuilt when the models change.

The ontology's terms (checked on almost every request) and the dependency snapshot
(``downstream``/``upstream`` along the dependency relationships, and the what-if engine)
are built from the graph at one :func:`graph.versions.graph_version`. :func:`keep_fresh`,
started by the app's lifespan, compares that version every ``refresh_interval`` seconds
(one short read) and rebuilds both when a model load has changed it. Until the first
build, and while Neo4j is away, requests read what they need from Neo4j themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import anyio.to_thread

from kgtwin.graph.dependencies import read_dependencies
from kgtwin.graph.errors import GraphError
from kgtwin.graph.ontology_read import Terms, read_terms
from kgtwin.graph.reader import Reader
from kgtwin.graph.versions import graph_version
from kgtwin.simulation.snapshot import Snapshot, snapshot_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cached:
    """Built together at one graph version."""

    version: str
    terms: Terms
    snapshot: Snapshot
    edges: int = 0  # dependency edges in the snapshot (what walks and what-ifs may cross)
    # what the cost estimate works out per class (server.schema.prices.GraphSize)
    classes: dict[str, tuple[tuple[int, ...], int]] = field(default_factory=dict, compare=False)


class GraphCache:
    """The latest :class:`Cached`, swapped in whole (None until the first build)."""

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current: Cached | None = None

    def refresh(self, reader: Reader) -> bool:
        """Rebuild if the graph's version changed since the last build (blocking: run it in
        a thread). True when it rebuilt. Raises ``GraphError`` if Neo4j fails."""
        version = graph_version(reader)
        if self.current is not None and self.current.version == version:
            return False
        started = time.perf_counter()
        terms = read_terms(reader)
        types = terms.dependency_types
        graph = read_dependencies(reader, types)
        snapshot = snapshot_of(graph, types, terms.reversed_types(types), version)
        self.current = Cached(version, terms, snapshot, len(snapshot.consumers.values))
        logger.info(
            "graph version %s: %d classes, %d relationship types, dependency snapshot of "
            "%d nodes and %d edges (%.0f MiB) built in %.2f s",
            version,
            len(terms.classes),
            len(terms.relationships),
            len(snapshot),
            len(graph.sources),
            snapshot.nbytes() / 2**20,
            time.perf_counter() - started,
        )
        return True


async def keep_fresh(cache: GraphCache, reader: Reader, interval: float) -> None:
    """Refresh ``cache`` every ``interval`` seconds until cancelled; Neo4j failures are
    logged once per outage and retried."""
    failing = False
    while True:
        try:
            await anyio.to_thread.run_sync(cache.refresh, reader)
        except GraphError as exc:
            if not failing:
                logger.warning("cannot refresh the graph cache, will retry: %s", exc)
            failing = True
        else:
            if failing:
                logger.info("graph cache refreshed again after Neo4j came back")
            failing = False
        await asyncio.sleep(interval)
