"""A problem found in a model, in words a domain expert can act on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: where it is, what was expected, what was found, and how to fix it."""

    file: Path | None
    line: int | None
    subject: str  # a prefixed name (``site:ups-a1``) or ``<iri>``
    property: str | None
    message: str
    expected: str | None = None
    found: str | None = None
    kind: str = (
        "violation"  # a SHACL constraint component local name, or "syntax", "unknown-term"...
    )
    severity: str = "Violation"

    def render(self) -> str:
        where = str(self.file) if self.file else "<ontology>"
        if self.line:
            where = f"{where}:{self.line}"
        subject = self.subject + (f" {self.property}" if self.property else "")
        text = f"{where}: {subject}: {self.message}"
        details = []
        if self.expected:
            details.append(f"expected {self.expected}")
        if self.found:
            details.append(f"found {self.found}")
        if details:
            text += f" ({'; '.join(details)})"
        if self.severity != "Violation":
            text = f"[{self.severity}] {text}"
        return text
