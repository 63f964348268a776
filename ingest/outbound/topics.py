"""The topic tree (docs/events.md):

- ``kgtwin/events/<model>/<kind>/<subject...>``: every event, QoS 1, not retained;
- ``kgtwin/state/<model>/<kind>/<subject...>``: the present of each state kind, retained
  (the event that set it), cleared (an empty retained message) by the event that clears it.

A subject is the asset's id (a point's: ``<asset>/<point>``, the asset level empty for a
point of no asset; a scenario's id); ``pointsUpdated`` and ``modelLoaded`` have none. Each
level is percent-encoded where MQTT needs it (``/``, ``+``, ``#``, ``%``, NUL), and one
longer than :data:`MAX_LEVEL` characters is replaced by a digest of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import quote, unquote

from kgtwin.ingest.outbound.kinds import Kind

EVENTS = "kgtwin/events"
STATE = "kgtwin/state"
MAX_LEVEL = 512  # characters of one encoded level
_SAFE = "!$&'()*,;=:@~-._ "


def level(text: str) -> str:
    """``text`` as one topic level."""
    encoded = quote(text, safe=_SAFE)
    if len(encoded) > MAX_LEVEL:
        return "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return encoded


def read_level(encoded: str) -> str:
    """The text of a level :func:`level` made (a digest stays one)."""
    return unquote(encoded)


def event_topic(model: str, kind: Kind, subject: Sequence[str] = ()) -> str:
    return "/".join((EVENTS, level(model), kind.value, *map(level, subject)))


def state_topic(model: str, kind: Kind, subject: Sequence[str]) -> str:
    """Where the present of ``kind``'s state (a state kind or the kind clearing it) is kept."""
    state = kind.state
    if state is None:
        raise ValueError(f"{kind.value} sets no state")
    return "/".join((STATE, level(model), state.value, *map(level, subject)))
