"""Decoding MQTT payloads into raw readings: what the sender said, before any point is known.

Three formats, told apart by the payload itself:

- **bare value**: a JSON number, ``true``/``false`` or JSON string (``21.5``, ``true``); or,
  when the payload is not JSON at all, its text (``running``), which only string points take.
  Text that starts like JSON (``{``, ``[`` or ``"``) but does not parse is refused, not
  taken as text.
- **JSON object**: ``{"value": 21.5, "ts": ..., "unit": "degC", "quality": "good"}``.
  ``value`` is required; ``ts``, ``unit`` and ``quality`` are optional (``null`` counts as
  absent). Any other key is rejected: a misspelt ``"units"`` silently read as the point's
  own unit would store a wrong number, so it is refused and named instead.
- **SenML pack** (RFC 8428): a JSON array of records; see :mod:`ingest.senml`.

Timestamps (``ts``): epoch seconds (a number), or an ISO 8601 date-time with a timezone
(``2024-05-01T12:00:00Z``; a naive one is rejected). Numbers of magnitude 1e11 or more are
taken as epoch **milliseconds**: 1e11 s is the year 5138, 1e11 ms is 1973, so no real time
is misread. Microseconds and nanoseconds are not recognised (they land far in the future and
are rejected as ``future_timestamp`` by :func:`ingest.readings.check`).

Quality: ``good``, ``uncertain`` or ``bad``, in any case; ``good`` when absent.

A JSON object (or SenML record) that names a key twice is refused: which of the two a
reader takes differs between JSON parsers, and a second ``ts`` would escape the checks of
the first.

Surrounding whitespace and a UTF-8 byte-order mark are ignored. Anything else that does not
decode raises ``Rejected(unparseable)`` naming exactly what was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Final, NoReturn

from kgtwin.ingest.raw import (
    PayloadFormat,
    Quality,
    RawReading,
    clip,
    json_type,
    number,
    scalar,
    unparseable,
)
from kgtwin.ingest.senml import decode_pack

EPOCH_MS_THRESHOLD: Final = 1e11
"""Epoch numbers of at least this magnitude are milliseconds (see the module docstring)."""

OBJECT_KEYS: Final = ("value", "ts", "unit", "quality")
_OBJECT_KEY_SET: Final = frozenset(OBJECT_KEYS)


def decode(payload: bytes, *, now: float) -> list[RawReading]:
    """The readings in ``payload``; ``now`` (epoch seconds) anchors SenML relative times.

    Raises ``Rejected(unparseable)``; never any other exception.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = payload[exc.start]
        unparseable(f"payload is not UTF-8 text: byte 0x{byte:02x} at offset {exc.start}")
    text = text.removeprefix("\ufeff").strip()
    if not text:
        unparseable("payload is empty")
    try:
        doc, end = _DECODER.raw_decode(text)
    except RecursionError:
        unparseable("payload JSON is nested too deeply")
    except (_NonFinite, _DuplicateKey) as exc:
        unparseable(f"payload has {exc}")
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        detail = exc if isinstance(exc, json.JSONDecodeError) else "a number is too long"
        return _text(text, f"payload is not valid JSON: {detail}")
    if end != len(text):
        return _text(text, f"payload is not valid JSON: more after the value at char {end}")
    if isinstance(doc, dict):
        return [_object(doc)]
    if isinstance(doc, list):
        return decode_pack(doc, now=now)
    value = scalar(doc, "payload")
    return [
        RawReading(
            value=value,
            format=PayloadFormat.BARE,
            text=value if isinstance(value, str) else text,
        )
    ]


def _text(text: str, error: str) -> list[RawReading]:
    """Plain text, unless it looks like JSON (then ``error``: broken JSON is not a label)."""
    if text[0] in '{["':
        unparseable(error)
    return [RawReading(value=text, format=PayloadFormat.TEXT, text=text)]


def _object(doc: Mapping[str, object]) -> RawReading:
    if not doc.keys() <= _OBJECT_KEY_SET:
        extra = [key for key in doc if key not in _OBJECT_KEY_SET]
        hint = ""
        if {"v", "vb", "vs", "n", "bn"} & doc.keys():
            hint = "; a SenML pack must be a JSON array of records"
        unparseable(
            f"JSON object has unknown key(s) {', '.join(map(repr, extra))}; "
            f"expected only {', '.join(map(repr, OBJECT_KEYS))}{hint}"
        )
    if "value" not in doc:
        unparseable('JSON object has no "value"')
    unit = doc.get("unit")
    if unit is not None and not isinstance(unit, str):
        unparseable(f'"unit" must be a string, found {json_type(unit)}')
    ts = doc.get("ts")
    return RawReading(
        value=scalar(doc["value"], '"value"'),
        format=PayloadFormat.OBJECT,
        unit=unit,
        time=None if ts is None else timestamp(ts),
        quality=_quality(doc.get("quality")),
    )


def timestamp(value: object) -> float:
    """Epoch seconds from a ``ts``: epoch seconds or milliseconds, or ISO 8601 with a zone."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            unparseable(f'"ts" {clip(value)!r} is not an ISO 8601 date-time')
        if parsed.tzinfo is None:
            unparseable(
                f'"ts" {clip(value)!r} has no timezone; '
                'add "Z" for UTC or an offset such as "+01:00"'
            )
        return parsed.timestamp()  # aware: plain arithmetic, any year works
    seconds = float(number(value, '"ts"', "epoch seconds or an ISO 8601 string"))
    return seconds / 1000.0 if abs(seconds) >= EPOCH_MS_THRESHOLD else seconds


def _quality(value: object) -> Quality:
    if value is None:
        return Quality.GOOD
    if isinstance(value, str):
        quality = _QUALITIES.get(value.lower())
        if quality is not None:
            return quality
    found = repr(clip(value)) if isinstance(value, str) else json_type(value)
    unparseable(f'"quality" must be "good", "uncertain" or "bad", found {found}')


class _NonFinite(ValueError):
    """NaN or Infinity in the JSON: not JSON (RFC 8259), and not a usable value."""


def _no_constant(name: str) -> NoReturn:
    raise _NonFinite(f"{name}, which is not a finite number (and not valid JSON)")


class _DuplicateKey(ValueError):
    """A JSON object names one key twice."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    doc = dict(pairs)
    if len(doc) == len(pairs):
        return doc
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise _DuplicateKey(f"a JSON object with the key {clip(key)!r} twice; give each once")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means one repeats")


_QUALITIES: Final = {q.value: q for q in Quality}

_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_unique_keys)
"""Built once: ``json.loads`` with any keyword builds a new decoder per call (2x slower)."""
