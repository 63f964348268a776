"""Raw readings: the value type decoding produces, and the checks on decoded JSON fields
that every payload format shares. A raw reading is what the sender said; no point, unit
table or clock has looked at it yet."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NoReturn

from kgtwin.ingest.errors import Reason, Rejected

Value = float | int | bool | str
"""A reading's value as JSON gives it (Python's bool is an int: test for bool first)."""

_MAX_FLOAT: Final = 1.7976931348623157e308


class PayloadFormat(StrEnum):
    """Which format a reading came in."""

    BARE = "bare"  # a JSON number, boolean or string on its own
    TEXT = "text"  # not JSON: the payload's text (only string points take it)
    OBJECT = "object"  # {"value": ..., "ts": ..., "unit": ..., "quality": ...}
    SENML = "senml"  # one record of a SenML pack


class Quality(StrEnum):
    """How far the sender trusts the value."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class RawReading:
    """One value as decoded, not yet checked against a point.

    ``unit`` is the unit name as sent (None: the point's own); ``time`` is epoch seconds
    (None: the message has none); ``name`` is the SenML name (bn + n), if any; ``text`` is
    the payload's text for bare values and text, which is what a string point stores.
    """

    value: Value
    format: PayloadFormat
    unit: str | None = None
    time: float | None = None
    quality: Quality = Quality.GOOD
    name: str | None = None
    text: str | None = None


# Decoded JSON holds exactly these types (never subclasses), so the checks below test
# ``type(value) is ...``: cheaper than isinstance chains on the per-message path, and it
# keeps bool (a subclass of int) apart from the numbers.


def scalar(value: object, what: str) -> Value:
    """``value`` if it is a finite number, a boolean or a string; else ``Rejected``."""
    if type(value) is bool or type(value) is str:
        return value
    return number(value, what, "a number, true/false or a string")


def number(value: object, what: str, expected: str = "a number") -> float | int:
    """``value`` if it is a finite number that fits a double (not a boolean); else
    ``Rejected``."""
    if type(value) is float:
        if math.isfinite(value):
            return value
        unparseable(f"{what} is a number too large for a double")
    if type(value) is int:
        if -_MAX_FLOAT <= value <= _MAX_FLOAT:
            return value
        unparseable(f"{what} is a number too large for a double: {clip(str(value))}")
    unparseable(f"{what} must be {expected}, found {json_type(value)}")


def json_type(value: object) -> str:
    """What a decoded JSON value is, as an error message says it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"a number ({clip(repr(value))})"
    if isinstance(value, str):
        return f"a string ({clip(value)!r})"
    if isinstance(value, list):
        return "an array"
    return "an object"


def unparseable(message: str) -> NoReturn:
    """Raise ``Rejected(unparseable, message)``."""
    raise Rejected(Reason.UNPARSEABLE, message)


def clip(text: str, limit: int = 60) -> str:
    """``text``, cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
