"""Checking a raw reading against its point: datatype, unit, range and time. The result is
an :class:`Observation` in the point's unit and datatype, or ``Rejected`` with the reason.

Datatypes:

- ``double`` takes numbers (not booleans), converted to the point's unit; stored as float.
- ``integer`` takes integers, and numbers that are whole after conversion (within 1e-9
  relative, to absorb float noise: 3600 s is 1 h); stored as int, within 64 bits.
- ``boolean`` takes true/false, and 0/1 (as PLCs often send); no other number.
- ``string`` takes JSON strings, and bare payloads as their text (``42`` is "42").

Units (:mod:`ontology.units`, the ontology's): a number in another unit of the point's
quantity kind is converted; an unknown unit is ``unknown_unit``, one of another kind
``incompatible_unit``. On boolean and string points no unit is needed; the point's own
unit, or a dimensionless one (UNITLESS, "1", SenML's "/" and "count"), is accepted and
ignored; any other unit is rejected, since a value with a physical unit is not a state or
a label.

Range: after conversion, ``min_value <= value <= max_value`` (both optional, inclusive).
Time: ``observed_at`` is the message's time, else ``received_at``; more than
``max_future`` seconds after ``received_at`` is ``future_timestamp``; a time the stores
cannot hold (before 1970, see :mod:`ingest.storable`) is ``out_of_range``. A string must
be valid Unicode and at most :data:`ingest.storable.MAX_STRING_BYTES` long. Checks run in
that order (datatype and unit, range, time): a message gets the first reason that applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from kgtwin.ingest.errors import InvalidPoint, Reason, Rejected
from kgtwin.ingest.raw import PayloadFormat, Quality, RawReading, Value, clip, json_type
from kgtwin.ingest.storable import check_text, check_time
from kgtwin.ontology.errors import UnitError, UnitProblem
from kgtwin.ontology.units import DIMENSIONLESS, IDENTITY, Unit, Units

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
WHOLE_TOLERANCE: Final = 1e-9
"""Relative distance from the nearest integer still counted as whole for integer points."""


class Datatype(StrEnum):
    """A point's ``kgt:datatype``."""

    DOUBLE = "double"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class PointSpec:
    """What ingestion needs to know about a point. ``unit`` is a QUDT local name (e.g.
    "KiloW", checked against the ontology by :class:`ingest.topics.PointTable`);
    ``min_value``/``max_value`` are in that unit; ``expected_interval`` is in seconds.
    Raises ``InvalidPoint`` if these do not fit together."""

    iri: str
    id: str
    topic: str
    unit: str
    datatype: Datatype
    min_value: float | None
    max_value: float | None
    expected_interval: float

    def __post_init__(self) -> None:
        bounded = self.min_value is not None or self.max_value is not None
        if bounded and self.datatype not in (Datatype.DOUBLE, Datatype.INTEGER):
            raise InvalidPoint(f"point {self.iri}: a {self.datatype} point cannot have min/max")
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.min_value > self.max_value
        ):
            raise InvalidPoint(
                f"point {self.iri}: minimum {self.min_value} is above maximum {self.max_value}"
            )
        if not self.expected_interval > 0:
            raise InvalidPoint(
                f"point {self.iri}: expected interval must be above 0 s, "
                f"found {self.expected_interval}"
            )


@dataclass(frozen=True, slots=True)
class Observation:
    """A value ready to land on its point: in the point's unit (a QUDT local name) and
    datatype, with epoch-second times."""

    point_iri: str
    value: Value
    unit: str
    observed_at: float
    received_at: float
    quality: Quality


def check(
    raw: RawReading,
    spec: PointSpec,
    *,
    received_at: float,
    max_future: float,
    units: Units,
) -> Observation:
    """``raw`` as an observation of the point ``spec``, or ``Rejected`` saying why not."""
    if spec.datatype is Datatype.STRING:
        value: Value = _string(raw, spec, units)
    elif raw.format is PayloadFormat.TEXT:
        raise Rejected(
            Reason.UNPARSEABLE,
            f"payload {clip(raw.text or '')!r} is not JSON (a number, true/false, a string, an "
            f"object or an array); only string points take plain text, this point is "
            f"{spec.datatype}",
        )
    elif spec.datatype is Datatype.BOOLEAN:
        value = _boolean(raw, spec, units)
    else:
        value = _number(raw, spec, units)
    observed_at = received_at if raw.time is None else raw.time
    ahead = observed_at - received_at
    if ahead > max_future:
        raise Rejected(
            Reason.FUTURE_TIMESTAMP,
            f"timestamp {_when(observed_at)} is {ahead:.6g} s after the message was received "
            f"({_when(received_at)}); at most {max_future:g} s ahead is allowed",
        )
    check_time(observed_at, "timestamp")
    return Observation(
        point_iri=spec.iri,
        value=value,
        unit=spec.unit,
        observed_at=observed_at,
        received_at=received_at,
        quality=raw.quality,
    )


def _string(raw: RawReading, spec: PointSpec, units: Units) -> str:
    _check_plain_unit(raw, spec, units)
    if raw.text is not None:
        return check_text(raw.text, "the string")
    if isinstance(raw.value, str):
        return check_text(raw.value, "the string")
    raise _wrong(spec, "a string", json_type(raw.value))


def _boolean(raw: RawReading, spec: PointSpec, units: Units) -> bool:
    _check_plain_unit(raw, spec, units)
    value = raw.value
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise _wrong(spec, "true or false (or 0 or 1)", json_type(value))


def _number(raw: RawReading, spec: PointSpec, units: Units) -> float | int:
    sent = raw.value
    if isinstance(sent, bool | str):
        raise _wrong(spec, "a number", json_type(sent))
    conversion = IDENTITY
    if raw.unit is not None:
        try:
            conversion = units.conversion(
                raw.unit, _point_unit(units, spec), senml=raw.format is PayloadFormat.SENML
            )
        except UnitError as exc:
            raise _rejected(exc) from exc
    value: float | int = sent if conversion.is_identity else conversion(float(sent))
    if not math.isfinite(value):
        raise Rejected(
            Reason.OUT_OF_RANGE,
            f"value {_show(sent)} {raw.unit} is too large for a double once converted to "
            f"{_point_unit(units, spec).symbol}",
        )
    if spec.datatype is Datatype.INTEGER:
        if isinstance(value, float):
            whole = round(value)
            if abs(value - whole) > WHOLE_TOLERANCE * max(1.0, abs(value)):
                raise _wrong(spec, "a whole number", _quantity(value, sent, raw, spec, units))
            value = whole
        if not INT64_MIN <= value <= INT64_MAX:
            raise Rejected(
                Reason.OUT_OF_RANGE,
                f"value {_quantity(value, sent, raw, spec, units)} does not fit a 64-bit integer",
            )
    else:
        value = float(value)
    if spec.min_value is not None and value < spec.min_value:
        raise Rejected(
            Reason.OUT_OF_RANGE,
            f"value {_quantity(value, sent, raw, spec, units)} is below the point's minimum "
            f"{_show(spec.min_value)} {_point_unit(units, spec).symbol}",
        )
    if spec.max_value is not None and value > spec.max_value:
        raise Rejected(
            Reason.OUT_OF_RANGE,
            f"value {_quantity(value, sent, raw, spec, units)} is above the point's maximum "
            f"{_show(spec.max_value)} {_point_unit(units, spec).symbol}",
        )
    return value


def _quantity(
    value: float | int, sent: float | int, raw: RawReading, spec: PointSpec, units: Units
) -> str:
    """``250.0 kW (250000 W as sent)``: a converted value for an error message."""
    text = f"{_show(value)} {_point_unit(units, spec).symbol}"
    if raw.unit is None or sent == value:
        return text
    return f"{text} ({_show(sent)} {raw.unit} as sent)"


def _check_plain_unit(raw: RawReading, spec: PointSpec, units: Units) -> None:
    if raw.unit is None:
        return
    try:
        unit = units.resolve(raw.unit, senml=raw.format is PayloadFormat.SENML)
    except UnitError as exc:
        raise _rejected(exc) from exc
    if unit.qudt == spec.unit or DIMENSIONLESS in unit.kinds:
        return
    own = _point_unit(units, spec).symbol
    raise Rejected(
        Reason.INCOMPATIBLE_UNIT,
        f"a {spec.datatype} point takes no unit, its own ({own!r}) or a dimensionless one "
        f"such as '1'; found {unit.describe()}",
    )


def _point_unit(units: Units, spec: PointSpec) -> Unit:
    try:
        return units.unit(spec.unit)
    except UnitError as exc:
        raise InvalidPoint(f"point {spec.iri}: {exc}") from exc


_REASONS = {
    UnitProblem.UNKNOWN: Reason.UNKNOWN_UNIT,
    UnitProblem.INCOMPATIBLE: Reason.INCOMPATIBLE_UNIT,
}


def _rejected(error: UnitError) -> Rejected:
    """A unit the message names, refused: dead-lettered with the unit's reason."""
    return Rejected(_REASONS[error.problem], error.message)


def _wrong(spec: PointSpec, expected: str, found: str) -> Rejected:
    return Rejected(
        Reason.WRONG_DATATYPE,
        f"the point (datatype {spec.datatype}) takes {expected}, found {found}",
    )


def _show(value: float | int) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _when(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):
        return f"{epoch!r} (epoch seconds)"
