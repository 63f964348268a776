"""Errors raised by ``ontology``.

::

    OntologyError
    ├── TurtleSyntaxError    a file does not parse (names the file and line)
    ├── FileUnreadable       a file is missing or cannot be read
    ├── VocabularyError      the ontology itself is unusable (e.g. two classes share a name)
    ├── ShapesUnusable       pySHACL refused to run the shapes (a malformed shape)
    ├── ModelInvalid         a model breaks the shapes or the vocabulary (carries every problem)
    └── UnitError            a unit name that names no unit, or two units that do not convert
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgtwin.ontology.problems import Problem


class OntologyError(Exception):
    """Base of every error raised by ``ontology``."""


class FileUnreadable(OntologyError):
    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: cannot read the file: {reason}")


class TurtleSyntaxError(OntologyError):
    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: Turtle syntax error: {reason}")


class VocabularyError(OntologyError):
    """The ontology files declare something the graph cannot represent."""


class ModelInvalid(OntologyError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"{len(self.problems)} problem(s) found; nothing was loaded")


class ShapesUnusable(OntologyError):
    """pySHACL refused to run the ontology's shapes: one of them is malformed."""


class UnitProblem(StrEnum):
    """What is wrong with a unit (see :class:`UnitError`)."""

    UNKNOWN = "unknown"  # the name is no unit the ontology declares (or pint derives)
    INCOMPATIBLE = "incompatible"  # the two units measure different kinds, or cannot convert


class UnitError(OntologyError):
    """A unit name or a conversion :class:`ontology.units.Units` refuses; ``message`` says
    what was expected and what was found."""

    def __init__(self, problem: UnitProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message

    def __repr__(self) -> str:
        return f"UnitError({self.problem.value!r}, {self.message!r})"
