"""Validation of a model against the ontology: Turtle syntax, SHACL shapes (honouring the
class hierarchy) and the vocabulary (unknown classes, properties, dangling references).

Every problem is reported in words a domain expert can act on. Nothing here writes anywhere.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kgtwin.graph.collector import collector_paused
from kgtwin.graph.records import PropertyGraph
from kgtwin.ontology.errors import ModelInvalid, ShapesUnusable, TurtleSyntaxError
from kgtwin.ontology.files import (
    Locator,
    SourceFile,
    digest,
    files_digest,
    merge,
    parse_files,
    read_model,
)
from kgtwin.ontology.hybrid import Checker, pyshacl_results
from kgtwin.ontology.mapping import map_model
from kgtwin.ontology.namespaces import RDF, SH
from kgtwin.ontology.problems import Problem
from kgtwin.ontology.shacl import Progress, ValidationResult
from kgtwin.ontology.shacl_paths import PathError, compile_path, path_text, walk
from kgtwin.ontology.triples import TripleIndex, to_rdflib
from kgtwin.ontology.vocabulary import Vocabulary, local_name

READING = "reading the model"
MAPPING = "mapping to the graph"

log = logging.getLogger(__name__)

__all__ = ["Ontology", "Report", "model_digest", "pyshacl_results", "validate"]


@dataclass(frozen=True, slots=True)
class Ontology:
    """The vocabulary and shapes a model is checked against.

    ``shapes`` checks each shape with the compiled SHACL checker, or with pySHACL for the
    few shapes it does not implement (SPARQL-based ones; docs/shacl.md)."""

    files: tuple[SourceFile, ...]
    graph: Graph
    vocabulary: Vocabulary
    shapes: Checker
    digest: str

    @classmethod
    def load(cls, paths: Sequence[Path]) -> Ontology:
        files, errors = parse_files(paths)
        if errors:
            raise errors[0]
        graph = merge(files)
        declared = [item for f in files for item in f.prefixes.items()]
        vocabulary = Vocabulary.from_graph(graph, declared)
        log.info("ontology: %s", vocabulary.summary())
        return cls(tuple(files), graph, vocabulary, Checker(graph), digest(files))

    def check(self, data: TripleIndex, progress: Progress | None = None) -> list[ValidationResult]:
        """SHACL results for ``data`` (a model merged with this ontology's triples)."""
        return self.shapes.check(data, progress)


@dataclass(frozen=True, slots=True)
class Report:
    """What validation found; ``graph`` is the mapped model when there are no violations."""

    files: tuple[Path, ...]
    problems: tuple[Problem, ...]
    graph: PropertyGraph | None
    digest: str  # sha256 over the files' names and text: the model version
    triples: int

    @property
    def ok(self) -> bool:
        return not any(p.severity == "Violation" for p in self.problems)

    def raise_for_problems(self) -> PropertyGraph:
        if not self.ok or self.graph is None:
            raise ModelInvalid(self.problems)
        return self.graph


def validate(paths: Sequence[Path], ontology: Ontology, progress: Progress | None = None) -> Report:
    """Parse, SHACL-validate and map the model in ``paths``; never raises for bad input.
    ``progress`` hears of each phase as it goes: ("reading the model", files read, files),
    ("checking shapes", shapes done, shapes) and ("mapping to the graph", 0 then 1, 1)."""
    with collector_paused():
        return _validate(paths, ontology, progress or _silent)


def _silent(_phase: str, _done: int, _total: int) -> None:
    return None


def model_digest(paths: Sequence[Path], ontology: Ontology) -> str:
    """The digest :func:`validate` would give the model in ``paths`` (its version), read
    without parsing; raises ``FileUnreadable``."""
    return files_digest(_model_paths(paths, ontology))


def _model_paths(paths: Sequence[Path], ontology: Ontology) -> list[Path]:
    """``paths`` but the ontology's own files."""
    ontology_paths = {f.path.resolve() for f in ontology.files}
    return [p for p in paths if p.resolve() not in ontology_paths]


def _validate(paths: Sequence[Path], ontology: Ontology, progress: Progress) -> Report:
    model_paths = _model_paths(paths, ontology)
    progress(READING, 0, len(model_paths))
    model = read_model(model_paths, lambda done: progress(READING, done, len(model_paths)))
    if model.errors:
        problems = [_syntax_problem(e) for e in model.errors]
        return Report(tuple(paths), tuple(problems), None, "", 0)

    locator = Locator(ontology.files, model)
    data = model.index
    triples = len(data)
    # the model's subjects (the ontology's statements join the index below)
    subject_ids = list(data.spo)
    model_subjects = bytearray(len(data.terms))
    for s in subject_ids:
        model_subjects[s] = 1

    def mapping() -> tuple[PropertyGraph, list[Problem]]:
        progress(MAPPING, 0, 1)
        found = map_model(data, locator, ontology.vocabulary, subject_ids)
        progress(MAPPING, 1, 1)
        return found

    # The model is mapped after the check, once the check's reverse index is gone (at a
    # million assets each takes a gigabyte), unless the ontology says something about a
    # subject of the model: the mapping must see the model's statements only.
    early = None
    if any(
        _is_model_subject(data, model_subjects, to_rdflib(quad.subject))
        for source in ontology.files
        for quad in source.quads
    ):
        early = mapping()
    for source in ontology.files:
        data.add_quads(source.quads)
    explain = _Explainer(data, ontology.graph, locator)
    try:
        results = ontology.check(data, progress)
    except ShapesUnusable as exc:
        problem = Problem(None, None, "-", None, str(exc), kind="unusable-shapes")
        return Report(tuple(paths), (problem,), None, model.digest, triples)
    data.drop_reverse_index()
    mapped, mapping_problems = early or mapping()
    # results about the ontology's own terms (a standard vocabulary checked by kgtwin's
    # meta-shapes, or by its own shapes) are not the model's: counted once, not reported
    about_model = [r for r in results if _is_model_subject(data, model_subjects, r.focus)]
    if len(about_model) < len(results):
        log.info(
            "%d SHACL results about the ontology's own terms, not the model's, are not "
            "reported (kgtwin validate --ontology FILE FILE checks an ontology file as a model)",
            len(results) - len(about_model),
        )
    shacl = [explain(result) for result in about_model]
    covered = {(p.subject, p.property) for p in shacl}
    problems = shacl + [p for p in mapping_problems if (p.subject, p.property) not in covered]
    problems.sort(key=lambda p: (str(p.file), p.line or 0, p.subject, p.property or ""))
    ok = not any(p.severity == "Violation" for p in problems)
    return Report(tuple(paths), tuple(problems), mapped if ok else None, model.digest, triples)


def _is_model_subject(data: TripleIndex, model_subjects: bytearray, node: Node) -> bool:
    found = data.find(node)
    return found is not None and found < len(model_subjects) and model_subjects[found] == 1


def _syntax_problem(error: TurtleSyntaxError) -> Problem:
    return Problem(
        file=error.path,
        line=error.line,
        subject="-",
        property=None,
        message=f"Turtle syntax error: {error.reason}; nothing in this file was read",
        kind="syntax",
    )


# What a violation of each SHACL Core component means, for shapes that say nothing.
_IN_WORDS = {
    "Class": "a value of the wrong class",
    "Datatype": "a value of the wrong datatype",
    "NodeKind": "a value of the wrong kind",
    "MinCount": "too few values",
    "MaxCount": "too many values",
    "MinInclusive": "a value out of range",
    "MinExclusive": "a value out of range",
    "MaxInclusive": "a value out of range",
    "MaxExclusive": "a value out of range",
    "MinLength": "a value too short",
    "MaxLength": "a value too long",
    "Pattern": "a value that does not match the pattern",
    "LanguageIn": "a value in a language not allowed",
    "UniqueLang": "two values in one language",
    "Equals": "values that differ from another property's",
    "Disjoint": "a value another property also has",
    "LessThan": "a value not less than another property's",
    "LessThanOrEquals": "a value greater than another property's",
    "Not": "a value that conforms to a shape it must not",
    "And": "a value that does not conform to every shape",
    "Or": "a value that conforms to none of the shapes allowed",
    "Xone": "a value that does not conform to exactly one shape",
    "Node": "a value that does not conform to its shape",
    "QualifiedMinCount": "too few values of the kind required",
    "QualifiedMaxCount": "too many values of one kind",
    "Closed": "a property the shape does not allow",
    "HasValue": "a required value is missing",
    "In": "a value that is not one of those allowed",
}


class _Explainer:
    """Turns one SHACL result into a :class:`Problem` with expected and found."""

    def __init__(self, data: TripleIndex, shapes: Graph, locator: Locator) -> None:
        self.data = data
        self.shapes = shapes
        self.locator = locator
        self.qname = locator.qname

    def __call__(self, result: ValidationResult) -> Problem:
        kind = local_name(str(result.component))
        expected, found = self.expected_found(
            kind, result.shape, result.focus, result.path, result.value
        )
        return Problem(
            file=self.locator.file(result.focus),
            line=self.locator.line(result.focus),
            subject=self.qname(result.focus),
            property=self.path_text(result.path),
            message=result.message or self.message(kind, result),
            expected=expected,
            found=found,
            kind=kind,
            severity=local_name(str(result.severity)),
        )

    def message(self, kind: str, result: ValidationResult) -> str:
        """For a shape without ``sh:message`` (most of Brick's): what is wrong, in words."""
        if kind == "SPARQLConstraintComponent":
            return self.sparql_message(result) or kind
        return _IN_WORDS.get(kind.removesuffix("ConstraintComponent"), kind)

    def path_values(self, focus: Node | None, path: Node | None) -> list[Node]:
        if focus is None or path is None:
            return []
        if isinstance(path, URIRef):
            return self.data.objects(focus, path)
        start = self.data.find(focus)
        try:
            compiled = compile_path(self.shapes, path, self.data.intern)
        except PathError:
            return []
        found = walk(self.data, compiled, [start]) if start is not None else []
        return [self.data.term(v) for v in found]

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
        values = self.path_values(focus, path)
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
        if kind in ("QualifiedMinCountConstraintComponent", "QualifiedMaxCountConstraintComponent"):
            least = kind.startswith("QualifiedMin")
            bound = param(SH.qualifiedMinCount if least else SH.qualifiedMaxCount)
            wanted = self.shape_text(param(SH.qualifiedValueShape))
            found = ", ".join(self.typed(v) for v in values) or "none"
            return f"{'at least' if least else 'at most'} {bound} value(s) {wanted}", found
        if kind == "ClosedConstraintComponent":
            allowed = self.allowed(shape)
            near = difflib.get_close_matches(self.qname(path), allowed, n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            found = f"{self.qname(path)} {self.qname(value)} (a property the shape does not allow"
            return "only " + ", ".join(allowed), found + hint + ")"
        return None, self.qname(value) if value is not None else None

    def typed(self, node: Node) -> str:
        types = sorted(self.qname(t) for t in self.data.objects(node, RDF.type))
        return self.qname(node) + (f" (a {', '.join(types)})" if types else "")

    def shape_text(self, shape: Node | None) -> str:
        """A value shape in words: its class when it names one, else its name."""
        if shape is None:
            return ""
        cls = self.shapes.value(shape, SH["class"])
        if cls is not None:
            return f"that are instances of {self.qname(cls)}"
        if isinstance(shape, BNode):
            return "that conform to the qualified value shape"
        return f"that conform to {self.qname(shape)}"

    def allowed(self, shape: Node | None) -> list[str]:
        """The properties closed shape ``shape`` allows (its property paths and ignored)."""
        if shape is None:
            return []
        s = self.shapes
        paths = [s.value(p, SH.path) for p in s.objects(shape, SH.property)]
        ignored = s.value(shape, SH.ignoredProperties)
        paths.extend(Collection(s, ignored) if ignored is not None else [])
        return sorted({self.qname(p) for p in paths if isinstance(p, URIRef)})

    def sparql_message(self, result: ValidationResult) -> str | None:
        """The sh:message of the SPARQL constraint that reported ``result``, with $this and
        $value filled in."""
        for constraint in self.shapes.objects(result.shape, SH.sparql):
            message = self.shapes.value(constraint, SH.message)
            if message is not None:
                text = str(message)
                for var, term in (("this", result.focus), ("value", result.value)):
                    for mark in "$?":
                        text = text.replace(f"{{{mark}{var}}}", self.qname(term))
                return text
        return None

    def path_text(self, path: Node | None) -> str | None:
        if path is None:
            return None
        if isinstance(path, BNode):
            return path_text(self.shapes, path, self.qname)
        return self.qname(path)
