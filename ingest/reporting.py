"""What happens to the points, told on the worker's finisher thread: each write reported to
the metrics (the lag histogram) and to the live listener (the twin's events), and points
marked stale (no message for ``stale_after`` of their expected intervals; points that never
reported are not tracked) or fresh again. One thread owns this state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence

from neo4j import Driver

from kgtwin.graph.errors import GraphError
from kgtwin.graph.live import PointRow, mark_stale
from kgtwin.ingest.batch import Pick
from kgtwin.ingest.events import FailureChange, LiveListener, PointUpdate, StalenessChange
from kgtwin.ingest.metrics import IngestMetrics

logger = logging.getLogger(__name__)


class Reporter:
    """Tracks when each point last got a value and which points are stale."""

    def __init__(
        self,
        driver: Driver,
        database: str | None,
        metrics: IngestMetrics,
        listener: LiveListener | None,
        stale_after: float,
    ) -> None:
        self.driver = driver
        self.database = database
        self.metrics = metrics
        self.listener = listener
        self.stale_after = stale_after
        self.rows: Mapping[str, PointRow] = {}  # the points by IRI, as last read
        self._last_received: dict[str, float] = {}  # point IRI -> epoch seconds
        self._stale: set[str] = set()

    def points_read(self, rows: Iterable[PointRow], by_iri: Mapping[str, PointRow]) -> None:
        """The points as read from the graph: when each last reported, whether it is stale."""
        for row in rows:
            if row.received_at_ms is not None and row.iri not in self._last_received:
                self._last_received[row.iri] = row.received_at_ms / 1000
            if row.stale:
                self._stale.add(row.iri)
        self.rows = by_iri

    def written(
        self, picks: Mapping[str, Pick], fresh: Sequence[str], failures: Sequence[str] = ()
    ) -> None:
        """The values a write applied (by point), the points that were stale, and the status
        points whose failure report changed. The listener's errors are logged and counted:
        the values are written either way."""
        updates: list[PointUpdate] = []
        lags: list[float] = []
        listening = self.listener is not None
        for iri, pick in picks.items():
            obs = pick.observation
            self._last_received[iri] = obs.received_at
            lags.append(max(obs.received_at - obs.observed_at, 0.0))
            if not listening:
                continue
            point_id, asset_id, asset_labels = self._about(iri)
            updates.append(
                PointUpdate(
                    point_iri=iri,
                    point_id=point_id,
                    asset_id=asset_id,
                    asset_labels=asset_labels,
                    value=obs.value,
                    unit=obs.unit,
                    observed_at=obs.observed_at,
                    received_at=obs.received_at,
                    quality=str(obs.quality),
                    model=self._model(iri),
                )
            )
        self.metrics.lag.observe_many(lags)
        self._stale.difference_update(picks)
        self.metrics.stale_points.set(len(self._stale))
        if self.listener is not None:
            try:
                if updates:
                    self.listener.points_updated(updates)
                if fresh:
                    self.listener.staleness_changed(self._changes(fresh, stale=False))
                if failures:
                    self.listener.failures_changed([self._failure(picks[i]) for i in failures])
            except Exception as exc:
                logger.error("a live listener failed; the values are written", exc_info=exc)
                self.metrics.pipeline_errors.labels("listener").inc()

    def mark_stale(self) -> None:
        """Mark the points silent for too long (Neo4j checks it again in the write)."""
        now = time.time()
        silent: list[tuple[str, int]] = []
        for iri, last in self._last_received.items():
            row = self.rows.get(iri)
            if iri in self._stale or row is None or row.expected_interval is None:
                continue
            if now - last > self.stale_after * row.expected_interval:
                silent.append((iri, round(last * 1000)))  # as written: Pick.live_value
        if not silent:
            return
        try:
            result = mark_stale(self.driver, silent, self.database)
        except GraphError as exc:
            logger.warning("cannot mark stale points now: %s", exc)
            return
        marked = result.stale
        self._stale.update(marked)
        for iri, _since in silent:
            if iri not in self._stale:  # another worker wrote it meanwhile: check again later
                self._last_received[iri] = now
        self.metrics.stale_points.set(len(self._stale))
        if marked:
            logger.info("%d point(s) went stale", len(marked))
            if self.listener is not None:
                self.listener.staleness_changed(self._changes(marked, stale=True))
                if result.failures:
                    self.listener.failures_changed(
                        [self._silenced(iri, now) for iri in result.failures]
                    )

    def _changes(self, iris: Sequence[str], *, stale: bool) -> list[StalenessChange]:
        now = time.time()
        return [
            StalenessChange(iri, *self._about(iri), stale=stale, at=now, model=self._model(iri))
            for iri in iris
        ]

    def _failure(self, pick: Pick) -> FailureChange:
        """A status point's new report, from the value just written."""
        obs = pick.observation
        row = self.rows.get(obs.point_iri)
        failed_when = None if row is None else row.failed_when
        failed = (
            isinstance(obs.value, bool) and obs.value == failed_when and str(obs.quality) != "bad"
        )
        return FailureChange(
            obs.point_iri,
            *self._about(obs.point_iri),
            failed=failed,
            value=obs.value,
            observed_at=obs.observed_at,
            at=time.time(),
            model=self._model(obs.point_iri),
        )

    def _silenced(self, iri: str, now: float) -> FailureChange:
        """A status point that reported a failure and went stale: it reports nothing now."""
        return FailureChange(
            iri,
            *self._about(iri),
            failed=False,
            value=None,
            observed_at=None,
            at=now,
            model=self._model(iri),
        )

    def _model(self, iri: str) -> str:
        row = self.rows.get(iri)
        return "" if row is None else row.model

    def _about(self, iri: str) -> tuple[str, str | None, tuple[str, ...]]:
        """A point's id, and its asset's id and labels (the IRI alone if it is unknown now)."""
        row = self.rows.get(iri)
        if row is None:
            return iri, None, ()
        return row.id, row.asset_id, row.asset_labels
