"""The live risk watch: when the failures the telemetry reports change (a ``failureReported``
or ``failureCleared`` event), a model is loaded, or a live load changes, the server assesses
the twin's risk from the live state (:mod:`simulation.risk`) and publishes what changed as
events (``assetDown``, ``redundancyLost``, ``newSinglePointOfFailure``, ``capacityAtRisk``
and the events that clear them), once across every server (:mod:`graph.risk_state`).

It runs on a thread of its own: woken by the event stream, it reads the reported failures
(and, when the model rates capacities, the live loads) in one statement each and assesses
them on the server's dependency snapshot. Load changes are looked at once every
:data:`LOAD_INTERVAL` seconds at most, and everything again every :data:`RECHECK` seconds (a
missed event, a rebuilt snapshot, a publication the broker did not take).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kgtwin.graph.dependencies import (
    LoadReading,
    read_load_points,
    read_load_values,
    read_reported_failures,
)
from kgtwin.graph.errors import GraphError
from kgtwin.graph.reader import Reader
from kgtwin.graph.risk_state import Entries, Entry, exchange, read_models
from kgtwin.ingest.outbound.envelope import TwinEvent
from kgtwin.ingest.outbound.kinds import Kind
from kgtwin.ingest.outbound.listener import moment
from kgtwin.ingest.outbound.publisher import EventPublisher
from kgtwin.ontology.mapping import TWIN_LABEL
from kgtwin.ontology.units import Units
from kgtwin.server.graph_cache import GraphCache
from kgtwin.server.live_loads import resolved_loads
from kgtwin.simulation.deadline import Deadline
from kgtwin.simulation.errors import DeadlineExceeded
from kgtwin.simulation.risk import (
    Overload,
    Redundancy,
    Risk,
    RiskKind,
    RiskState,
    RiskWatch,
    SinglePoint,
)
from kgtwin.simulation.snapshot import Snapshot

logger = logging.getLogger(__name__)

RECHECK = 10.0  # seconds between two assessments when nothing woke the watch
LOAD_INTERVAL = 1.0  # seconds between two assessments for changed loads, at least
DEADLINE = 60.0  # seconds an assessment may take
PUBLISH_TIMEOUT = 10.0  # seconds the broker has to take the events of a change

# a risk's kind -> the event kind that says it appeared (its clearing kind says it left)
ON_KIND = {kind.value: Kind(kind.value) for kind in RiskKind}
WAKING = frozenset({Kind.FAILURE_REPORTED, Kind.FAILURE_CLEARED, Kind.MODEL_LOADED})


@dataclass(frozen=True, slots=True)
class Assessed:
    """The risk of the live state at one moment, on one snapshot."""

    snapshot: Snapshot
    failed: tuple[int, ...]  # the reported failures
    state: RiskState
    at: float  # epoch seconds
    load_points: frozenset[str] = frozenset()  # the IRIs of the live loads read


# a risk, its facts (what it is, compared between assessments) and its event data
Described = tuple[Risk, dict[str, Any], dict[str, Any]]


class SharedRisk:
    """The server's :class:`simulation.risk.RiskWatch` on its current snapshot, shared by the
    risk watch's thread and the ``risks`` query (one at a time): what it keeps between
    assessments (the layers of the snapshot, about a second to build at 100k assets) is
    built once per snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watch: RiskWatch | None = None
        # the load points of the snapshot's graph version (found once: finding them walks
        # every asset, reading their values is an index seek each)
        self._points: tuple[Snapshot, list[LoadReading]] | None = None
        self._models: tuple[Snapshot, dict[str, str]] | None = None  # asset IRI -> its model

    def prepare(self, snapshot: Snapshot) -> None:
        """Build ahead what the first assessment on ``snapshot`` would."""
        with self._lock:
            self._on(snapshot).prepare()

    def assess(
        self, snapshot: Snapshot, reader: Reader, units: Units, deadline: Deadline
    ) -> Assessed:
        """The risk of the failures the telemetry reports now (and, when the model rates
        some capacity, of the live loads, else the design loads), on ``snapshot``."""
        failed, load, points = _live_state(snapshot, reader, units, self._load_points)
        with self._lock:
            state = self._on(snapshot).assess(failed, load, deadline)
        return Assessed(snapshot, failed, state, time.time(), points)

    def described(self, assessed: Assessed, reader: Reader) -> list[Described]:
        """Each risk with its facts and event data (:func:`describe`); the models of the
        assets at risk are read once per snapshot, the first time one is asked for."""
        snapshot = assessed.snapshot
        known = self._models
        models = known[1] if known is not None and known[0] is snapshot else {}
        self._models = (snapshot, models)
        risks = list(assessed.state.values())
        missing = {snapshot.iris[r.node] for r in risks} - models.keys()
        if missing:
            models.update(read_models(reader, sorted(missing)))
        failures = [snapshot.ids[n] for n in assessed.failed]
        return [(risk, *describe(snapshot, risk, failures, models)) for risk in risks]

    def _load_points(self, snapshot: Snapshot, reader: Reader) -> list[LoadReading]:
        known = self._points
        if known is not None and known[0] is snapshot:
            return read_load_values(reader, known[1])
        readings = read_load_points(reader)
        self._points = (snapshot, readings)
        return readings

    def _on(self, snapshot: Snapshot) -> RiskWatch:
        if self._watch is None or self._watch.snapshot is not snapshot:
            self._watch = RiskWatch(snapshot)
        return self._watch


def _live_state(
    snapshot: Snapshot,
    reader: Reader,
    units: Units,
    load_points: Callable[[Snapshot, Reader], list[LoadReading]],
) -> tuple[tuple[int, ...], list[float | None] | None, frozenset[str]]:
    """The reported failures (nodes), every node's load when the model rates some
    capacity (else None), and the IRIs of the load points read."""
    failed = tuple(
        sorted(
            {
                node
                for f in read_reported_failures(reader)
                if (node := snapshot.index.get(f.asset_iri)) is not None
            }
        )
    )
    if all(math.isnan(c) for c in snapshot.capacity):
        return failed, None, frozenset()
    readings = load_points(snapshot, reader)
    load, _sources, _points = resolved_loads(snapshot, readings, units)
    return failed, load, frozenset(r.point_iri for r in readings)


class RiskWatcher:
    """Call :meth:`start`, :meth:`notice` with each event of the stream, :meth:`stop`."""

    def __init__(
        self,
        cache: GraphCache,
        shared: SharedRisk,
        reader: Reader,
        units: Units,
        events: EventPublisher,
        *,
        recheck: float = RECHECK,
    ) -> None:
        self.cache = cache
        self.shared = shared
        self.reader = reader
        self.units = units
        self.events = events
        self.recheck = recheck
        self._prepared: Snapshot | None = None  # the snapshot the shared watch is ready on
        self._load_points: frozenset[str] = frozenset()  # point IRIs of live loads
        self._wake = threading.Event()
        self._urgent = False  # woken by a failure or a load of a model, not by a load only
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kgtwin-risk-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def notice(self, event: TwinEvent) -> None:
        """An event of the stream (on its thread): wake the watch if it may change the risk."""
        if event.kind in WAKING:
            self._urgent = True
            self._wake.set()
        elif event.kind is Kind.POINTS_UPDATED and self._load_points:
            points = event.data.get("points", ())
            if any(p.get("pointIri") in self._load_points for p in points):
                self._wake.set()

    def _run(self) -> None:
        next_loads = 0.0
        while not self._stopping.is_set():
            # the first assessment publishes the present; then one per wake or recheck
            self._wake.clear()
            self._urgent = False
            next_loads = time.monotonic() + LOAD_INTERVAL
            self._guarded(self._prepare)
            self._guarded(self.assess_and_publish)
            woken = self._wake.wait(self.recheck)
            if woken and not self._urgent:  # loads only: at most one assessment a second
                self._stopping.wait(max(0.0, next_loads - time.monotonic()))

    def _guarded(self, work: Callable[[], object]) -> None:
        try:
            work()
        except (GraphError, DeadlineExceeded) as exc:
            logger.warning("the risk watch cannot assess the twin now: %s", exc)
        except Exception as exc:  # a bug: log it, and try again at the next wake
            logger.error("the risk watch failed", exc_info=exc)

    def assess_and_publish(self) -> Assessed | None:
        """Assess the live state now and publish what changed; None before the first
        snapshot."""
        cached = self.cache.current
        if cached is None:
            return None
        snapshot = cached.snapshot
        assessed = self.shared.assess(snapshot, self.reader, self.units, Deadline(DEADLINE))
        self._load_points = assessed.load_points
        entries = self._entries(assessed)
        exchange(
            self.reader.driver,
            entries,
            lambda stored: self._publish(stored, entries, assessed.at),
            self.reader.database,
        )
        return assessed

    def _prepare(self) -> None:
        """Build ahead what a new snapshot's first assessment needs, so that the first
        failure reported on it does not wait for it."""
        cached = self.cache.current
        if cached is not None and cached.snapshot is not self._prepared:
            started = time.perf_counter()
            self.shared.prepare(cached.snapshot)
            self._prepared = cached.snapshot
            logger.info(
                "risk watch ready on graph version %s (%.1f s)",
                cached.version,
                time.perf_counter() - started,
            )

    def _entries(self, assessed: Assessed) -> Entries:
        entries = {}
        for risk, facts, data in self.shared.described(assessed, self.reader):
            key = f"{risk.kind.value}|{assessed.snapshot.iris[risk.node]}"
            entries[key] = Entry(json.dumps(facts, sort_keys=True), json.dumps(data))
        return entries

    def _publish(self, stored: Entries, entries: Entries, at: float) -> bool:
        events = []
        for key, entry in entries.items():
            before = stored.get(key)
            if before is None or before.facts != entry.facts:
                events.append(_event(ON_KIND[key.split("|", 1)[0]], entry.data, at))
        for key, entry in stored.items():
            if key not in entries:
                on = ON_KIND.get(key.split("|", 1)[0])
                if on is not None:
                    events.append(_event(on.cleared_by, entry.data, at))
        if not events:
            return True
        source = f"/kgtwin/serve/{self.events.client_id}"
        self.events.publish(
            [TwinEvent(k, d["model"], d, d["assetId"], at, source) for k, d in events]
        )
        if not self.events.flush(PUBLISH_TIMEOUT):
            logger.warning(
                "the broker did not take %d risk event(s) within %g s; trying again later",
                len(events),
                PUBLISH_TIMEOUT,
            )
            return False
        logger.info("published %d risk event(s)", len(events))
        return True


def _event(kind: Kind, data: str, at: float) -> tuple[Kind, dict[str, Any]]:
    loaded: dict[str, Any] = json.loads(data)
    loaded["at"] = moment(at)
    return kind, loaded


def describe(
    snapshot: Snapshot, risk: Risk, failures: list[str], models: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A risk's facts (what it is, compared between assessments) and its event data (the
    facts, who it is about and the explanation)."""
    ids = snapshot.ids
    details = risk.details
    facts: dict[str, Any] = {}
    if isinstance(details, Redundancy):
        facts = {
            "suppliers": details.suppliers,
            "working": details.working,
            "required": details.required,
            "spare": details.spare,
            "lostSuppliers": [ids[n] for n in details.lost],
        }
    elif isinstance(details, SinglePoint):
        facts = {"targetCount": details.count, "targets": [ids[n] for n in details.targets]}
    elif isinstance(details, Overload):
        facts = {
            "peers": [ids[n] for n in details.peers],
            "load": max(details.loads),
            "capacity": details.capacity,
            "unit": snapshot.capacity_unit[risk.node],
        }
    iri = snapshot.iris[risk.node]
    data = {
        "model": models.get(iri) or "_twin",
        "assetId": ids[risk.node],
        "assetIri": iri,
        "assetClasses": sorted(
            label for label in snapshot.labels[risk.node] if label != TWIN_LABEL
        ),
        "path": [ids[n] for n in risk.path],
        "reportedFailures": failures,
        **facts,
    }
    return facts, data
