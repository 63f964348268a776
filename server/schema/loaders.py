"""Per-request dataloaders: nested fields of many nodes become one statement per batch.

A loader's key carries the field's arguments with the node (``(iri, limit)``), and a batch
sends one statement per distinct set of arguments, so a query over a hundred assets costs
as many statements as one over a single asset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import anyio.to_thread
from strawberry.dataloader import DataLoader

from kgtwin.graph.nodes import Relation, TwinNode, nodes_by_iri, points_of, relationships_of
from kgtwin.graph.ontology_read import ClassTerm, Terms, read_terms
from kgtwin.graph.reader import Reader
from kgtwin.ingest.history.reads import HistoryReader, HistoryUnavailable, Sample, Window

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking ``graph`` call (the Neo4j driver is synchronous) off the event loop."""
    return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))


@dataclass(frozen=True, slots=True)
class RelationQuery:
    """The arguments of an ``Asset.relationships`` selection (types already checked)."""

    types: tuple[str, ...] | None
    outgoing: bool
    incoming: bool
    limit: int


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """The arguments of a history selection: its window and how many samples at most."""

    window: Window
    limit: int


NO_HISTORY = (
    "history is off on this server: no QuestDB is configured (QUESTDB_URL, or `kgtwin "
    "questdb start` for a local one), or KGTWIN_HISTORY is false"
)


class Loaders:
    """The dataloaders of one request."""

    def __init__(
        self,
        reader: Reader,
        max_page_size: int,
        terms: Terms | None = None,
        history: HistoryReader | None = None,
    ) -> None:
        self.reader = reader
        self.history = history  # None: the server keeps no history
        self.max_page_size = max_page_size
        self._terms = terms  # the server's cached terms, else read once on first use
        self._terms_lock = asyncio.Lock()
        self.nodes: DataLoader[str, TwinNode | None] = DataLoader(load_fn=self._nodes)
        self.classes: DataLoader[tuple[str, ...], list[ClassTerm]] = DataLoader(
            load_fn=self._classes
        )
        self.points: DataLoader[tuple[str, int], list[TwinNode]] = DataLoader(load_fn=self._points)
        self.relationships: DataLoader[tuple[str, RelationQuery], list[Relation]] = DataLoader(
            load_fn=self._relationships
        )
        self.samples: DataLoader[tuple[str, HistoryQuery], list[Sample]] = DataLoader(
            load_fn=self._samples
        )
        self.values_at: DataLoader[tuple[str, datetime], Sample | None] = DataLoader(
            load_fn=self._values_at
        )

    async def terms(self) -> Terms:
        """The ontology's classes and relationship types: the server's cached ones, else
        read once per request."""
        async with self._terms_lock:
            if self._terms is None:
                self._terms = await in_thread(read_terms, self.reader)
            return self._terms

    async def _nodes(self, iris: Sequence[str]) -> list[TwinNode | None]:
        found = await in_thread(nodes_by_iri, self.reader, iris)
        return [found.get(iri) for iri in iris]

    async def _classes(self, label_sets: Sequence[tuple[str, ...]]) -> list[list[ClassTerm]]:
        """The classes of nodes with these labels, most specific first."""
        terms = await self.terms()
        return [terms.most_specific_first(labels) for labels in label_sets]

    async def _points(self, keys: Sequence[tuple[str, int]]) -> list[list[TwinNode]]:
        async def batch(limit: int, iris: list[str]) -> dict[str, list[TwinNode]]:
            return await in_thread(points_of, self.reader, iris, limit)

        return await _grouped(keys, batch)

    async def _relationships(
        self, keys: Sequence[tuple[str, RelationQuery]]
    ) -> list[list[Relation]]:
        async def batch(query: RelationQuery, iris: list[str]) -> dict[str, list[Relation]]:
            return await in_thread(
                relationships_of,
                self.reader,
                iris,
                types=query.types,
                outgoing=query.outgoing,
                incoming=query.incoming,
                limit=query.limit,
            )

        return await _grouped(keys, batch)

    def history_reader(self) -> HistoryReader:
        """The server's history reader; ``HistoryUnavailable`` when it keeps no history."""
        if self.history is None:
            raise HistoryUnavailable(NO_HISTORY)
        return self.history

    async def _samples(self, keys: Sequence[tuple[str, HistoryQuery]]) -> list[list[Sample]]:
        """One statement per distinct window, for all the points that ask for it."""
        history = self.history_reader()

        async def batch(query: HistoryQuery, iris: list[str]) -> dict[str, list[Sample]]:
            return await in_thread(history.samples, iris, query.window, query.limit)

        return await _grouped(keys, batch)

    async def _values_at(self, keys: Sequence[tuple[str, datetime]]) -> list[Sample | None]:
        """One statement per distinct time, for all the points that ask for it."""
        history = self.history_reader()
        times: dict[datetime, list[str]] = {}
        for iri, at in keys:
            times.setdefault(at, []).append(iri)
        answers = await asyncio.gather(
            *(in_thread(history.values_at, iris, at) for at, iris in times.items())
        )
        by_time = dict(zip(times, answers, strict=True))
        return [by_time[at].get(iri) for iri, at in keys]


async def _grouped(
    keys: Sequence[tuple[str, K]],
    batch: Callable[[K, list[str]], Awaitable[dict[str, list[V]]]],
) -> list[list[V]]:
    """One ``batch(arguments, iris)`` per distinct arguments, answers in the keys' order."""
    groups: dict[K, list[str]] = {}
    for iri, arguments in keys:
        groups.setdefault(arguments, []).append(iri)
    answers = await asyncio.gather(*(batch(args, iris) for args, iris in groups.items()))
    by_args = dict(zip(groups, answers, strict=True))
    return [by_args[arguments][iri] for iri, arguments in keys]
