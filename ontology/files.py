"""Reading Turtle files: parse errors name the file and line; subjects can be located."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from kgtwin.ontology.errors import FileUnreadable, TurtleSyntaxError
from kgtwin.ontology.triples import Quad, Triple, TripleIndex, read_turtle, to_rdflib

PACKAGE_DIR = Path(__file__).resolve().parent
SITES_DIR = PACKAGE_DIR / "sites"  # example sites: models, not ontology

_LOCAL = re.compile(r"[A-Za-z0-9_][\w.-]*(?<!\.)")
_PREFIX = re.compile(
    r"^\s*@?prefix\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE | re.MULTILINE
)


def default_ontology_files(root: Path = PACKAGE_DIR) -> list[Path]:
    """The bundled vocabulary: every ``.ttl`` under ``root`` except example sites and the
    alignments of other vocabularies (``--vocabulary`` adds those)."""
    skipped = (root / "sites", root / "alignments")
    return sorted(
        p for p in root.rglob("*.ttl") if not any(folder in p.parents for folder in skipped)
    )


@dataclass(slots=True)
class SourceFile:
    """A parsed Turtle file and enough of its text to point at a subject's line.

    A model read by :func:`read_model` keeps neither its statements (they are in the
    index) nor its text (read again if a problem needs a line number): at a million
    assets those would be gigabytes."""

    path: Path
    quads: list[Quad]
    prefixes: dict[str, str]
    text: str | None
    _lines: dict[str, int] | None = field(default=None, repr=False)

    def line_of(self, subject: str) -> int | None:
        """The line where IRI ``subject`` is first written as the subject of a statement."""
        if self._lines is None:
            try:
                text = self.text if self.text is not None else _read(self.path)
            except FileUnreadable:  # changed since it was read: no line rather than none
                text = ""
            self._lines = _subject_lines(text)
        return self._lines.get(subject)

    def triples(self) -> Iterator[Triple]:
        for q in self.quads:
            yield to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileUnreadable(path, str(exc)) from exc


def parse_file(path: Path) -> SourceFile:
    text = _read(path)
    try:
        quads, prefixes = read_turtle(path, text)
    except SyntaxError as exc:
        raise TurtleSyntaxError(path, exc.lineno, _reason(exc)) from exc
    return SourceFile(path, quads, prefixes, text)


def _reason(error: SyntaxError) -> str:
    """Oxigraph's "Parser error at line 4 between columns 1 and 4: X" -> "X (column 1)"."""
    message = str(error.msg)
    head, sep, tail = message.partition(": ")
    if sep and head.startswith("Parser error"):
        return f"{tail} (column {error.offset})" if error.offset else tail
    return message


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


def _digest_order(path: Path) -> tuple[str, str]:
    return path.name, str(path)


def _hash(sha: hashlib._Hash, path: Path, text: Iterable[str]) -> None:
    """One file's part of a digest: its name, then its text (whole, or in chunks)."""
    sha.update(path.name.encode())
    for chunk in text:
        sha.update(chunk.encode())


def digest(files: Iterable[SourceFile]) -> str:
    """sha256 over the files' names and text: the version of a model or an ontology."""
    sha = hashlib.sha256()
    for source in sorted(files, key=lambda f: _digest_order(f.path)):
        assert source.text is not None, "a streamed model's digest comes from read_model"
        _hash(sha, source.path, (source.text,))
    return sha.hexdigest()


def files_digest(paths: Sequence[Path]) -> str:
    """What :func:`read_model` gives as the digest of ``paths``, without parsing them (a
    megabyte of text at a time)."""
    sha = hashlib.sha256()
    for path in sorted(paths, key=_digest_order):
        try:
            with path.open(encoding="utf-8") as text:  # newlines as read_text reads them
                _hash(sha, path, iter(lambda: text.read(1 << 20), ""))
        except (OSError, UnicodeDecodeError) as exc:
            raise FileUnreadable(path, str(exc)) from exc
    return sha.hexdigest()


@dataclass(slots=True)
class ModelFiles:
    """A model's files read into one index (see :func:`read_model`)."""

    index: TripleIndex
    files: list[SourceFile]
    errors: list[TurtleSyntaxError]
    digest: str  # as :func:`digest` gives for the files' text


def read_model(paths: Sequence[Path], progress: Callable[[int], None]) -> ModelFiles:
    """Parse the model's files straight into one index, a file at a time, holding one
    file's text at most (a million-asset site's statements as Python objects would need
    several gigabytes). Syntax errors are collected, not raised. ``progress`` hears the
    number of files read after each."""
    data = TripleIndex()
    files: list[SourceFile] = []
    errors: list[TurtleSyntaxError] = []
    sha = hashlib.sha256()
    for done, path in enumerate(sorted(paths, key=_digest_order), start=1):
        text = _read(path)
        _hash(sha, path, (text,))
        parser = ox.parse(
            text,
            format=ox.RdfFormat.TURTLE,
            base_iri=path.resolve().as_uri(),
            rename_blank_nodes=True,
        )
        try:
            data.add_quads(parser, source=len(files))
        except SyntaxError as exc:
            errors.append(TurtleSyntaxError(path, exc.lineno, _reason(exc)))
        else:
            files.append(SourceFile(path, [], dict(parser.prefixes), None))
        del text, parser
        progress(done)
    return ModelFiles(data, files, errors, sha.hexdigest())


def merge(files: Sequence[SourceFile]) -> Graph:
    """The files as one rdflib graph with their prefixes bound (for small graphs: the
    ontology); large models stay in a :class:`TripleIndex`."""
    merged = Graph()
    for source in files:
        for triple in source.triples():
            merged.add(triple)
        for prefix, namespace in source.prefixes.items():
            merged.bind(prefix, namespace, override=False)
    return merged


def index(files: Sequence[SourceFile]) -> TripleIndex:
    merged = TripleIndex()
    for source in files:
        merged.add_quads(source.quads)
    return merged


class Locator:
    """Where a subject is written (file and line) and how to name a term for a reader
    (``site:ups-a1`` using the files' own prefixes, else ``<iri>``).

    ``model`` is a model read by :func:`read_model`: its index knows the file of each
    subject; the statements of ``files`` are looked through for the others."""

    def __init__(self, files: Sequence[SourceFile], model: ModelFiles | None = None) -> None:
        self.origin: dict[str, SourceFile] = {}  # subject IRI or blank node id -> file
        self._model = model
        prefixes: dict[str, str] = {}
        for source in [*(model.files if model else ()), *files]:
            for quad in source.quads:
                subject = getattr(quad.subject, "value", None)  # None: an RDF-star triple
                if subject is not None and subject not in self.origin:
                    self.origin[subject] = source
            for prefix, namespace in source.prefixes.items():
                prefixes.setdefault(namespace, prefix)
        # longest namespace first, so the most specific prefix wins
        self._namespaces = sorted(prefixes.items(), key=lambda item: -len(item[0]))

    def _source(self, subject: Node) -> SourceFile | None:
        if self._model is not None:
            found = self._model.index.source_of(subject)
            if found is not None:
                return self._model.files[found]
        return self.origin.get(str(subject))

    def file(self, subject: Node) -> Path | None:
        source = self._source(subject)
        return source.path if source else None

    def line(self, subject: Node) -> int | None:
        source = self._source(subject)
        if source is None or not isinstance(subject, URIRef):
            return None
        return source.line_of(str(subject))

    def qname(self, term: Node | None) -> str:
        if term is None:
            return "-"
        if isinstance(term, URIRef):
            for namespace, prefix in self._namespaces:
                local = term[len(namespace) :]
                if term.startswith(namespace) and _LOCAL.fullmatch(local):
                    return f"{prefix}:{local}"
            return f"<{term}>"
        if isinstance(term, Literal):
            kind = f"^^{self.qname(term.datatype)}" if term.datatype else ""
            return f'"{term}"{kind}'
        return "a blank node"


def _subject_lines(text: str) -> dict[str, int]:
    """Map each subject IRI to the line where a statement about it starts.

    Turtle statements about a subject begin at the start of a line with the subject written
    as ``prefix:local`` or ``<iri>``; that is how example sites and fixtures are written.
    """
    prefixes = {(m.group(1) or ""): m.group(2) for m in _PREFIX.finditer(text)}
    token = re.compile(r"^(?:<([^>]+)>|([A-Za-z][\w.-]*)?:((?:[\w.-]|\\.)*))(?=\s)", re.MULTILINE)
    lines: dict[str, int] = {}
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
        lines.setdefault(iri, line + 1)
    return lines
