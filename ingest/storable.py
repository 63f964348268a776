"""What the stores can hold, checked while a message is decoded: a value that passes here
is one the Neo4j driver can send, Neo4j can keep, the driver can read back, and a
time-series history could take, so no write fails for it later.

- **Times**: from :data:`EARLIEST` (1970-01-01T00:00:00Z: a time-series database's
  designated timestamps start there, QuestDB's among them) to :data:`LATEST`
  (9999-12-31T23:59:59.999Z: the Neo4j driver cannot read a later datetime back, nor
  Python represent it). The epoch milliseconds of any time in between fit 64 bits.
- **Strings**: valid Unicode (a JSON escape such as ``"\\ud800"``, a lone surrogate,
  decodes to a string that has no UTF-8 form and that the driver cannot send), and at
  most :data:`MAX_STRING_BYTES` in UTF-8: a string point holds a state or a label.
- **Integers** fit 64 bits and **doubles** are finite (:mod:`ingest.readings`,
  :mod:`ingest.raw`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.raw import clip

EARLIEST: Final = 0.0
"""Epoch seconds of 1970-01-01T00:00:00Z: the earliest time stored."""

LATEST: Final = 253402300799.999
"""Epoch seconds of 9999-12-31T23:59:59.999Z: the latest time stored."""

MAX_STRING_BYTES: Final = 4096
"""The longest string value stored, in UTF-8 bytes."""


def check_time(seconds: float, what: str) -> float:
    """``seconds`` if it is a time that can be stored; else ``Rejected(out_of_range)``."""
    if EARLIEST <= seconds <= LATEST:
        return seconds
    side = "before 1970-01-01T00:00:00Z" if seconds < EARLIEST else "after 9999-12-31"
    raise Rejected(
        Reason.OUT_OF_RANGE,
        f"{what} {_epoch(seconds)} is {side}; kgtwin stores times from "
        "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z",
    )


def check_text(text: str, what: str) -> str:
    """``text`` if it has a UTF-8 form of at most :data:`MAX_STRING_BYTES` bytes; else
    ``Rejected`` (``unparseable`` for a lone surrogate, ``too_large`` past the limit)."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise Rejected(
            Reason.UNPARSEABLE,
            f"{what} is not valid Unicode: a lone surrogate "
            f"U+{ord(text[exc.start]):04X} at character {exc.start} (a JSON \\u escape of half "
            "a surrogate pair); send the character itself, or both halves of the pair",
        ) from None
    if size > MAX_STRING_BYTES:
        raise Rejected(
            Reason.TOO_LARGE,
            f"{what} is {size:,} bytes long ({clip(_printable(text))!r}...); a string value "
            f"is stored only up to {MAX_STRING_BYTES:,} bytes",
        )
    return text


def _epoch(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):
        return f"{seconds!r} (epoch seconds)"


def _printable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")
