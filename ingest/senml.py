"""SenML packs (RFC 8428, JSON): a JSON array of records, resolved into raw readings.

Resolution follows RFC 8428 section 4.6. Base fields (``bn``, ``bt``, ``bu``, ``bv``,
``bver``) apply to the record that carries them and every later one until replaced. The
name is ``bn + n`` (None when both are absent: the MQTT topic names the point) and must use
only the characters section 4.5.1 allows. The time is ``bt + t``; a resolved time below
2**28 is relative to ``now`` (so ``-5`` is five seconds ago), and a record with neither
``bt`` nor ``t`` has no time (the receive time applies). The unit is ``u``, else ``bu``,
read as SenML defines it ("%" is a ratio there, see :mod:`ontology.unit_names`). ``bv`` is
added to ``v``.

Each record carries exactly one of ``v`` (number), ``vb`` (boolean) or ``vs`` (string).
``vd`` (data) is not supported, a record with only a sum (``s``) has nothing to store, and a
``bver`` above 10 or a field ending in ``_`` (RFC 8428's "must understand") is refused: in
all those cases the whole pack is rejected, with the record named (numbered from 1).
Other unknown fields are ignored, as the RFC asks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.raw import (
    PayloadFormat,
    RawReading,
    Value,
    clip,
    json_type,
    number,
    unparseable,
)

SENML_VERSION: Final = 10
"""The SenML version this decoder implements (RFC 8428's default ``bver``)."""

RELATIVE_BELOW: Final = 2**28
"""Resolved times below this are seconds relative to now (RFC 8428 section 4.5.3)."""

_FIELDS: Final[Mapping[str, type]] = {
    **dict.fromkeys(("bn", "bu", "n", "u", "vs", "vd"), str),
    **dict.fromkeys(("bt", "bv", "bs", "t", "v", "s", "ut"), float),  # any finite number
    "vb": bool,
    "bver": int,
}
_VALUES: Final = ("v", "vb", "vs", "vd")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")


def decode_pack(pack: Sequence[object], *, now: float) -> list[RawReading]:
    """The resolved readings of a SenML pack, in order; ``Rejected(unparseable)`` naming
    the record if any is malformed."""
    if not pack:
        unparseable("SenML pack is empty (a JSON array with no records)")
    base_name = ""
    base_time: float | None = None
    base_unit: str | None = None
    base_value: float | int = 0
    readings = []
    for index, record in enumerate(pack, start=1):
        try:
            if type(record) is not dict:
                unparseable(f"expected a JSON object, found {json_type(record)}")
            _check_fields(record)
            base_name = record.get("bn", base_name)
            base_time = record.get("bt", base_time)
            base_unit = record.get("bu", base_unit)
            base_value = record.get("bv", base_value)
            reading = RawReading(
                value=_value(record, base_value),
                format=PayloadFormat.SENML,
                unit=record.get("u", base_unit),
                time=_time(record, base_time, now),
                name=_name(base_name + record.get("n", "")),
            )
        except Rejected as exc:  # the record's number goes in only when something is wrong
            where = f"SenML record {index} of {len(pack)}"
            raise Rejected(Reason.UNPARSEABLE, f"{where}: {exc.message}") from None
        readings.append(reading)
    return readings


def _check_fields(record: Mapping[str, object]) -> None:
    for key, value in record.items():
        kind = _FIELDS.get(key)
        if kind is None:
            if key.endswith("_"):
                unparseable(f"the must-understand field {clip(key)!r} is not supported")
        elif kind is float:
            if type(value) is not float or not math.isfinite(value):
                number(value, f"{key!r}")
        elif kind is int:
            _check_version(value)
        elif type(value) is not kind:
            expected = "a string" if kind is str else "true or false"
            unparseable(f"{key!r} must be {expected}, found {json_type(value)}")


def _check_version(version: object) -> None:
    if type(version) is not int or version < 1:
        unparseable(f"'bver' must be a positive integer, found {json_type(version)}")
    if version > SENML_VERSION:
        unparseable(
            f"SenML version {version}; this decoder implements version {SENML_VERSION} "
            f"and cannot know what the newer fields mean"
        )


def _value(record: Mapping[str, Any], base_value: float | int) -> Value:
    present = [key for key in _VALUES if key in record]
    if len(present) != 1 or present[0] == "vd":
        if "vd" in present:
            unparseable("a data value (vd) is not supported; use v, vb or vs")
        if present:
            unparseable(f"more than one value ({' and '.join(present)}); give one")
        if "s" in record:
            unparseable("only a sum (s), which is not stored; give v, vb or vs")
        unparseable("no value (v, vb or vs)")
    if present[0] != "v":
        text_or_flag: str | bool = record[present[0]]  # vs or vb, checked by _check_fields
        return text_or_flag
    value: float | int = record["v"]  # a finite number, checked by _check_fields
    return value if base_value == 0 else number(base_value + value, "'bv' + 'v'")


def _time(record: Mapping[str, Any], base_time: float | None, now: float) -> float | None:
    offset = record.get("t")
    if base_time is None and offset is None:
        return None
    resolved = float(base_time or 0) + float(offset or 0)
    if resolved < RELATIVE_BELOW:
        resolved += now
    if not math.isfinite(resolved):
        unparseable("'bt' + 't' is too large for a double")
    return resolved


def _name(name: str) -> str | None:
    if not name:
        return None
    if not _NAME.fullmatch(name):
        unparseable(
            f"the name {clip(name)!r} is not allowed; RFC 8428 names start with a letter or "
            f"digit and use only letters, digits and - : . / _"
        )
    return name
