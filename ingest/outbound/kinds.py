"""The kinds of event the twin publishes, and which of them set or clear a current state.

A *state* kind (``pointStale``, ``failureReported``, ``assetDown``, ...) says something now
holds of its subject; its *clearing* kind (``pointFresh``, ``failureCleared``,
``assetUp``, ...) says it no longer does. The present of every state kind is kept as
retained messages (:mod:`ingest.outbound.topics`), so a client that connects late sees it.
"""

from __future__ import annotations

from enum import Enum


class Kind(Enum):
    POINTS_UPDATED = "pointsUpdated"  # live values written, a batch of one model's points
    POINT_STALE = "pointStale"
    POINT_FRESH = "pointFresh"
    FAILURE_REPORTED = "failureReported"  # a status point reads its kgt:failedWhen value
    FAILURE_CLEARED = "failureCleared"
    ASSET_DOWN = "assetDown"  # down because of the reported failures
    ASSET_UP = "assetUp"
    REDUNDANCY_LOST = "redundancyLost"
    REDUNDANCY_RESTORED = "redundancyRestored"
    NEW_SINGLE_POINT_OF_FAILURE = "newSinglePointOfFailure"
    SINGLE_POINT_OF_FAILURE_CLEARED = "singlePointOfFailureCleared"
    CAPACITY_AT_RISK = "capacityAtRisk"
    CAPACITY_RISK_CLEARED = "capacityRiskCleared"
    MODEL_LOADED = "modelLoaded"
    SCENARIO_SAVED = "scenarioSaved"

    @property
    def type(self) -> str:
        """The CloudEvents ``type`` attribute."""
        return f"{TYPE_PREFIX}{self.value}"

    @property
    def state(self) -> Kind | None:
        """The state kind this kind sets (itself) or clears; None for plain events."""
        if self in CLEARS:
            return self
        return CLEARED_BY.get(self)

    @property
    def sets_state(self) -> bool:
        return self in CLEARS

    @property
    def cleared_by(self) -> Kind:
        """The kind that clears this state kind."""
        return CLEARS[self]


TYPE_PREFIX = "org.w3id.kgtwin."

CLEARS: dict[Kind, Kind] = {  # state kind -> the kind that clears it
    Kind.POINT_STALE: Kind.POINT_FRESH,
    Kind.FAILURE_REPORTED: Kind.FAILURE_CLEARED,
    Kind.ASSET_DOWN: Kind.ASSET_UP,
    Kind.REDUNDANCY_LOST: Kind.REDUNDANCY_RESTORED,
    Kind.NEW_SINGLE_POINT_OF_FAILURE: Kind.SINGLE_POINT_OF_FAILURE_CLEARED,
    Kind.CAPACITY_AT_RISK: Kind.CAPACITY_RISK_CLEARED,
}
CLEARED_BY: dict[Kind, Kind] = {off: on for on, off in CLEARS.items()}

RISK_KINDS = frozenset(
    {
        Kind.ASSET_DOWN,
        Kind.ASSET_UP,
        Kind.REDUNDANCY_LOST,
        Kind.REDUNDANCY_RESTORED,
        Kind.NEW_SINGLE_POINT_OF_FAILURE,
        Kind.SINGLE_POINT_OF_FAILURE_CLEARED,
        Kind.CAPACITY_AT_RISK,
        Kind.CAPACITY_RISK_CLEARED,
    }
)


def kind_of_type(event_type: str) -> Kind | None:
    """The kind of a CloudEvents ``type``; None for a type kgtwin does not publish."""
    if not event_type.startswith(TYPE_PREFIX):
        return None
    try:
        return Kind(event_type.removeprefix(TYPE_PREFIX))
    except ValueError:
        return None
