"""Errors raised by ``ingest``.

::

    IngestError
    ├── Rejected        a message that cannot be applied; carries a Reason (dead-lettered)
    └── InvalidPoint    a point read from the graph that ingestion cannot use

Every :class:`Rejected` names one :class:`Reason` from a closed set: the dead-letter body and
the per-reason counters use it as is, so adding a member is an interface change.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a message was rejected; the value is what dead letters and metrics carry."""

    UNPARSEABLE = "unparseable"
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_UNIT = "unknown_unit"
    INCOMPATIBLE_UNIT = "incompatible_unit"
    WRONG_DATATYPE = "wrong_datatype"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOO_LARGE = "too_large"  # a payload or a string past its size limit
    UNSTORABLE = "unstorable"  # passed every check, and still refused by the write
    INTERNAL_ERROR = "internal_error"  # kgtwin failed on it (a bug, logged with a traceback)


class IngestError(Exception):
    """Base of every error raised by ``ingest``."""


class Rejected(IngestError):
    """A message (or one reading in it) is not applied; ``message`` says what was expected
    and what was found."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"Rejected({self.reason.value!r}, {self.message!r})"


class InvalidPoint(IngestError):
    """A point's unit, datatype or bounds cannot be used (the graph's data, not a message)."""
