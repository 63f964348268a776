"""Reading Turtle files: parse errors name the file and line; subjects can be located."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.plugins.parsers.notation3 import BadSyntax

from ontology.errors import FileUnreadable, TurtleSyntaxError

PACKAGE_DIR = Path(__file__).resolve().parent
SITES_DIR = PACKAGE_DIR / "sites"

_PREFIX = re.compile(
    r"^\s*@?prefix\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE | re.MULTILINE
)


def default_ontology_files(root: Path = PACKAGE_DIR) -> list[Path]:
    """The bundled vocabulary: every ``.ttl`` under ``root`` except example sites."""
    return sorted(p for p in root.rglob("*.ttl") if SITES_DIR not in p.parents)


@dataclass(slots=True)
class SourceFile:
    """A parsed Turtle file and enough of its text to point at a subject's line."""

    path: Path
    graph: Graph
    text: str
    _lines: dict[URIRef, int] | None = field(default=None, repr=False)

    def line_of(self, subject: URIRef) -> int | None:
        """The line where ``subject`` is first written as the subject of a statement."""
        if self._lines is None:
            self._lines = _subject_lines(self.text)
        return self._lines.get(subject)


def parse_file(path: Path) -> SourceFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileUnreadable(path, str(exc)) from exc
    graph = Graph()
    try:
        graph.parse(data=text, format="turtle", publicID=path.resolve().as_uri())
    except BadSyntax as exc:
        raise TurtleSyntaxError(path, exc.lines + 1, exc._why) from exc
    except Exception as exc:  # rdflib raises plain exceptions for bad IRIs, bad prefixes...
        raise TurtleSyntaxError(path, None, f"{type(exc).__name__}: {exc}") from exc
    return SourceFile(path, graph, text)


def parse_files(paths: Iterable[Path]) -> tuple[list[SourceFile], list[TurtleSyntaxError]]:
    """Parse every file; syntax errors are collected, not raised, so all are reported at once."""
    parsed: list[SourceFile] = []
    errors: list[TurtleSyntaxError] = []
    for path in paths:
        try:
            parsed.append(parse_file(path))
        except TurtleSyntaxError as exc:
            errors.append(exc)
    return parsed, errors


def digest_files(paths: Iterable[Path]) -> str:
    """sha256 over the files' names and bytes: the version of a model or an ontology."""
    sha = hashlib.sha256()
    for path in sorted(paths, key=lambda p: (p.name, str(p))):
        sha.update(path.name.encode())
        try:
            sha.update(path.read_bytes())
        except OSError as exc:
            raise FileUnreadable(path, str(exc)) from exc
    return sha.hexdigest()


def merge(files: Sequence[SourceFile]) -> Graph:
    merged = Graph()
    for source in files:
        merged += source.graph
        for prefix, namespace in source.graph.namespaces():
            merged.bind(prefix, namespace, override=False)
    return merged


def _subject_lines(text: str) -> dict[URIRef, int]:
    """Map each subject IRI to the line where a statement about it starts.

    Turtle statements about a subject begin at the start of a line with the subject written
    as ``prefix:local`` or ``<iri>``; that is how example sites and fixtures are written.
    """
    prefixes = {(m.group(1) or ""): m.group(2) for m in _PREFIX.finditer(text)}
    token = re.compile(r"^(?:<([^>]+)>|([A-Za-z][\w.-]*)?:((?:[\w.-]|\\.)*))(?=\s)", re.MULTILINE)
    lines: dict[URIRef, int] = {}
    starts = [0]
    starts.extend(i + 1 for i, char in enumerate(text) if char == "\n")
    line = 0
    for match in token.finditer(text):
        while line + 1 < len(starts) and starts[line + 1] <= match.start():
            line += 1
        if match.group(1) is not None:
            iri = match.group(1)
        else:
            namespace = prefixes.get(match.group(2) or "")
            if namespace is None:
                continue
            iri = namespace + match.group(3).replace("\\", "")
        lines.setdefault(URIRef(iri), line + 1)
    return lines
