"""Errors raised by ``simulation``.

::

    SimulationError
    ├── UnknownAsset    an asset named by id or IRI that the dependency snapshot lacks
    └── DeadlineExceeded  a computation ran past its deadline and stopped
"""

from __future__ import annotations


class SimulationError(Exception):
    """Base of every error raised by ``simulation``."""


class UnknownAsset(SimulationError, ValueError):
    """An asset given by id or IRI that is not in the dependency snapshot (or whose id
    several models use); the message suggests the closest ids."""


class DeadlineExceeded(SimulationError):
    """A computation ran past the deadline it was given (:mod:`simulation.deadline`)."""
