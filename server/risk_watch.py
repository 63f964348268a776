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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kgtwin.graph.dependencies import read_load_points, read_reported_failures
from kgtwin.graph.errors import GraphError
from kgtwin.graph.reader import Reader
from kgtwin.graph.risk_state import Entries, Entry, exchange, read_models
from kgtwin.ingest.outbound.envelope import TwinEvent
from kgtwin.ingest.outbound.kinds import Kind
from kgtwin.ingest.outbound.listener import moment
from kgtwin.ingest.outbound.publisher import EventPublisher
from kgtwin.ontology.units import Units
from kgtwin.server.graph_cache import GraphCache
from kgtwin.server.schema.whatif_inputs import resolved_loads
from kgtwin.simulation.deadline import Deadline
from kgtwin.simulation.errors import DeadlineExceeded
from kgtwin.simulation.risk import Overload, Redundancy, Risk, RiskState, RiskWatch, SinglePoint
from kgtwin.simulation.snapshot import Snapshot

logger = logging.getLogger(__name__)

RECHECK = 10.0  # seconds between two assessments when nothing woke the watch
LOAD_INTERVAL = 1.0  # seconds between two assessments for changed loads, at least
DEADLINE = 60.0  # seconds an assessment may take
PUBLISH_TIMEOUT = 10.0  # seconds the broker has to take the events of a change

ON_KIND = {
    "assetDown": Kind.ASSET_DOWN,
    "redundancyLost": Kind.REDUNDANCY_LOST,
    "newSinglePointOfFailure": Kind.NEW_SINGLE_POINT_OF_FAILURE,
    "capacityAtRisk": Kind.CAPACITY_AT_RISK,
}
WAKING = frozenset({Kind.FAILURE_REPORTED, Kind.FAILURE_CLEARED, Kind.MODEL_LOADED})


@dataclass(frozen=True, slots=True)
class Assessed:
    """The risk of the live state at one moment, on one snapshot."""

    snapshot: Snapshot
    failed: tuple[int, ...]  # the reported failures
    state: RiskState
    at: float  # epoch seconds
    load_points: frozenset[str] = frozenset()  # the IRIs of the live loads read


def assess_live(watch: RiskWatch, reader: Reader, units: Units, deadline: Deadline) -> Assessed:
    """The risk of the failures the telemetry reports now (and, when the model rates some
    capacity, of the live loads, else the design loads), on ``watch``'s snapshot."""
    snapshot = watch.snapshot
    failed = tuple(
        sorted(
            {
                node
                for f in read_reported_failures(reader)
                if (node := snapshot.index.get(f.asset_iri)) is not None
            }
        )
    )
    load: list[float | None] | None = None
    points: frozenset[str] = frozenset()
    if not all(math.isnan(c) for c in snapshot.capacity):
        readings = read_load_points(reader)
        points = frozenset(r.point_iri for r in readings)
        load, _sources, _points = resolved_loads(snapshot, readings, units)
    return Assessed(snapshot, failed, watch.assess(failed, load, deadline), time.time(), points)


def described(
    assessed: Assessed, reader: Reader, models: dict[str, str]
) -> list[tuple[Risk, dict[str, Any], dict[str, Any]]]:
    """Each risk with its facts and event data (:func:`describe`); ``models`` (asset IRI
    -> model) is completed from the graph where it lacks one."""
    snapshot = assessed.snapshot
    risks = list(assessed.state.values())
    missing = {snapshot.iris[r.node] for r in risks} - models.keys()
    if missing:
        models.update(read_models(reader, sorted(missing)))
    failures = [snapshot.ids[n] for n in assessed.failed]
    return [(risk, *describe(snapshot, risk, failures, models)) for risk in risks]


class RiskWatcher:
    """Call :meth:`start`, :meth:`notice` with each event of the stream, :meth:`stop`."""

    def __init__(
        self,
        cache: GraphCache,
        reader: Reader,
        units: Units,
        events: EventPublisher,
        *,
        recheck: float = RECHECK,
    ) -> None:
        self.cache = cache
        self.reader = reader
        self.units = units
        self.events = events
        self.recheck = recheck
        self.last: Assessed | None = None
        self.published = 0  # risk events this server published
        self.assessments = 0
        self._watch: RiskWatch | None = None
        self._models: dict[str, str] = {}  # asset IRI -> its model, at the snapshot's version
        self._load_points: frozenset[str] = frozenset()  # point IRIs of live loads
        self._wake = threading.Event()
        self._loads_changed = False
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
            self._wake.set()
        elif event.kind is Kind.POINTS_UPDATED and self._load_points:
            points = event.data.get("points", ())
            if any(p.get("pointIri") in self._load_points for p in points):
                self._loads_changed = True

    def _run(self) -> None:
        next_loads = 0.0
        while not self._stopping.is_set():
            woken = self._wake.wait(self.recheck if not self._loads_changed else LOAD_INTERVAL)
            if self._stopping.is_set():
                return
            if not woken and self._loads_changed and time.monotonic() < next_loads:
                continue
            self._wake.clear()
            self._loads_changed = False
            next_loads = time.monotonic() + LOAD_INTERVAL
            try:
                self.assess_and_publish()
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
        if self._watch is None or self._watch.snapshot is not snapshot:
            self._watch = RiskWatch(snapshot)
            self._models = {}
        assessed = assess_live(self._watch, self.reader, self.units, Deadline(DEADLINE))
        self._load_points = assessed.load_points
        self.assessments += 1
        entries = self._entries(assessed)
        exchange(
            self.reader.driver,
            entries,
            lambda stored: self._publish(stored, entries, assessed.at),
            self.reader.database,
        )
        self.last = assessed
        return assessed

    def _entries(self, assessed: Assessed) -> Entries:
        entries = {}
        for risk, facts, data in described(assessed, self.reader, self._models):
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
        self.published += len(events)
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
        "assetClasses": sorted(snapshot.labels[risk.node]),
        "path": [ids[n] for n in risk.path],
        "reportedFailures": failures,
        **facts,
    }
    return facts, data
