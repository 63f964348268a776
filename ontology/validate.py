"""Validation of a model against the ontology: Turtle syntax, SHACL shapes (honouring the
class hierarchy) and the vocabulary (unknown classes, properties, dangling references).

Every problem is reported in words a domain expert can act on. Nothing here writes anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyshacl
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from ontology.errors import ModelInvalid, TurtleSyntaxError
from ontology.files import SourceFile, digest_files, merge, parse_files
from ontology.mapping import PropertyGraph, map_model
from ontology.namespaces import RDF, SH
from ontology.problems import Problem
from ontology.vocabulary import Vocabulary, local_name


@dataclass(frozen=True, slots=True)
class Ontology:
    """The vocabulary and shapes a model is checked against."""

    files: tuple[SourceFile, ...]
    graph: Graph
    vocabulary: Vocabulary

    @classmethod
    def load(cls, paths: Sequence[Path]) -> Ontology:
        files, errors = parse_files(paths)
        if errors:
            raise errors[0]
        graph = merge(files)
        return cls(tuple(files), graph, Vocabulary.from_graph(graph))


@dataclass(frozen=True, slots=True)
class Report:
    """What validation found; ``graph`` is the mapped model when there are no violations."""

    files: tuple[Path, ...]
    problems: tuple[Problem, ...]
    graph: PropertyGraph | None
    digest: str  # sha256 over the files' bytes: the model version
    triples: int

    @property
    def ok(self) -> bool:
        return not any(p.severity == "Violation" for p in self.problems)

    def raise_for_problems(self) -> PropertyGraph:
        if not self.ok or self.graph is None:
            raise ModelInvalid(self.problems)
        return self.graph


def validate(paths: Sequence[Path], ontology: Ontology) -> Report:
    """Parse, SHACL-validate and map the model in ``paths``; never raises for bad input."""
    ontology_paths = {f.path.resolve() for f in ontology.files}
    model_paths = [p for p in paths if p.resolve() not in ontology_paths]
    files, syntax_errors = parse_files(model_paths)
    digest = digest_files(model_paths)
    problems = [_syntax_problem(e) for e in syntax_errors]
    if syntax_errors:
        return Report(tuple(paths), tuple(problems), None, digest, 0)

    data = merge(files)
    triples = len(data)
    data += ontology.graph
    origin: dict[Node, SourceFile] = {}
    for source in (*files, *ontology.files):
        for subject in source.graph.subjects(unique=True):
            origin.setdefault(subject, source)
    shacl = _shacl_problems(data, ontology.graph, origin)
    mapped, mapping_problems = map_model(files, ontology.vocabulary)
    covered = {(p.subject, p.property) for p in shacl}
    problems += shacl
    problems += [p for p in mapping_problems if (p.subject, p.property) not in covered]
    problems.sort(key=lambda p: (str(p.file), p.line or 0, p.subject, p.property or ""))
    ok = not any(p.severity == "Violation" for p in problems)
    return Report(tuple(paths), tuple(problems), mapped if ok else None, digest, triples)


def _syntax_problem(error: TurtleSyntaxError) -> Problem:
    return Problem(
        file=error.path,
        line=error.line,
        subject="-",
        property=None,
        message=f"Turtle syntax error: {error.reason}; nothing in this file was read",
        kind="syntax",
    )


def _shacl_problems(data: Graph, shapes: Graph, origin: dict[Node, SourceFile]) -> list[Problem]:
    _conforms, results, _text = pyshacl.validate(
        data,
        shacl_graph=shapes,
        inference="none",
        inplace=True,
        allow_warnings=True,
        allow_infos=True,
    )
    assert isinstance(results, Graph)
    explain = _Explainer(data, shapes, results, origin)
    return [explain(result) for result in results.subjects(RDF.type, SH.ValidationResult)]


class _Explainer:
    """Turns one ``sh:ValidationResult`` into a :class:`Problem` with expected and found."""

    def __init__(
        self, data: Graph, shapes: Graph, results: Graph, origin: dict[Node, SourceFile]
    ) -> None:
        self.data = data
        self.shapes = shapes
        self.results = results
        self.origin = origin

    def qname(self, term: Node | None) -> str:
        if term is None:
            return "-"
        if isinstance(term, URIRef):
            try:
                return self.data.namespace_manager.normalizeUri(term)
            except Exception:  # not every IRI shortens
                return f"<{term}>"
        if isinstance(term, Literal):
            kind = f"^^{self.qname(term.datatype)}" if term.datatype else ""
            return f'"{term}"{kind}'
        return "a blank node"

    def __call__(self, result: Node) -> Problem:
        g = self.results
        focus = g.value(result, SH.focusNode)
        path = g.value(result, SH.resultPath)
        value = g.value(result, SH.value)
        component = g.value(result, SH.sourceConstraintComponent)
        shape = g.value(result, SH.sourceShape)
        severity = g.value(result, SH.resultSeverity)
        message = g.value(result, SH.resultMessage)
        source = self.origin.get(focus) if focus is not None else None
        kind = local_name(str(component)) if component is not None else "violation"
        expected, found = self.expected_found(kind, shape, focus, path, value)
        return Problem(
            file=source.path if source else None,
            line=source.line_of(focus) if source and isinstance(focus, URIRef) else None,
            subject=self.qname(focus),
            property=self.path_text(path),
            message=str(message) if message is not None else kind,
            expected=expected,
            found=found,
            kind=kind,
            severity=local_name(str(severity)) if severity is not None else "Violation",
        )

    def expected_found(
        self,
        kind: str,
        shape: Node | None,
        focus: Node | None,
        path: Node | None,
        value: Node | None,
    ) -> tuple[str | None, str | None]:
        s = self.shapes
        param = (lambda p: s.value(shape, p)) if shape is not None else (lambda p: None)
        values = list(self.data.objects(focus, path)) if isinstance(path, URIRef) and focus else []
        if kind == "MinCountConstraintComponent":
            return f"at least {param(SH.minCount)} value(s)", (
                f"{len(values)}" if values else "none"
            )
        if kind == "MaxCountConstraintComponent":
            return f"at most {param(SH.maxCount)} value(s)", f"{len(values)}: " + ", ".join(
                self.qname(v) for v in values
            )
        if kind == "DatatypeConstraintComponent":
            return f"a {self.qname(param(SH.datatype))}", self.qname(value)
        if kind == "ClassConstraintComponent":
            types = (
                sorted(self.qname(t) for t in self.data.objects(value, RDF.type)) if value else []
            )
            found = self.qname(value) + (
                f" (a {', '.join(types)})" if types else " (declared nowhere: unknown)"
            )
            return f"an instance of {self.qname(param(SH['class']))}", found
        if kind == "InConstraintComponent":
            members = param(SH["in"])
            choices = list(Collection(s, members)) if members is not None else []
            return "one of " + ", ".join(self.qname(c) for c in choices), self.qname(value)
        bounds = {
            "MinInclusiveConstraintComponent": (SH.minInclusive, ">="),
            "MinExclusiveConstraintComponent": (SH.minExclusive, ">"),
            "MaxInclusiveConstraintComponent": (SH.maxInclusive, "<="),
            "MaxExclusiveConstraintComponent": (SH.maxExclusive, "<"),
        }
        if kind in bounds:
            predicate, op = bounds[kind]
            bound = param(predicate)
            return f"a value {op} {bound}", self.qname(value)
        if kind == "PatternConstraintComponent":
            return f"text matching {param(SH.pattern)}", self.qname(value)
        if kind == "NodeKindConstraintComponent":
            return f"a {local_name(str(param(SH.nodeKind)))}", self.qname(value)
        return None, self.qname(value) if value is not None else None

    def path_text(self, path: Node | None) -> str | None:
        if path is None:
            return None
        if isinstance(path, BNode):
            inverse = self.results.value(path, SH.inversePath)
            return f"^{self.qname(inverse)}" if inverse is not None else "a property path"
        return self.qname(path)
