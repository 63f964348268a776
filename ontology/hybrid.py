"""SHACL validation shape by shape: the compiled checker for every shape it implements,
pySHACL for the others only (SPARQL-based constraints and targets, custom components), run
with a shapes graph holding just those shapes and what they reference (docs/shacl.md)."""

from __future__ import annotations

import logging

import pyshacl
from pyshacl.errors import ReportableRuntimeError
from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kgtwin.ontology.errors import ShapesUnusable
from kgtwin.ontology.namespaces import OWL, RDF, RDFS, SH
from kgtwin.ontology.shacl import (
    CHECKING,
    SHAPE_LINKS,
    SHAPE_LISTS,
    Progress,
    Shapes,
    ValidationResult,
    unsupported_shapes,
)
from kgtwin.ontology.triples import TripleIndex

log = logging.getLogger(__name__)

_TARGETS = frozenset(
    {SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target}
)


class Checker:
    """The shapes of ``graph``: ``compiled`` runs those the checker implements; ``fallback``
    names the others (shape -> why), which pySHACL runs over a shapes graph of their own."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.fallback = unsupported_shapes(graph)
        self.compiled = Shapes(graph, skip=self.fallback)
        self.fallback_graph = fallback_graph(graph, self.fallback) if self.fallback else None
        log.info(
            "SHACL: %d shapes compiled, %d run by pySHACL%s",
            self.compiled.size,
            len(self.fallback),
            "".join(f"; {node} ({why})" for node, why in self.fallback.items()),
        )

    def check(self, data: TripleIndex, progress: Progress | None = None) -> list[ValidationResult]:
        """SHACL results for ``data`` (a model merged with the ontology's triples)."""
        results = self.compiled.check(data, progress)
        if self.fallback_graph is not None:
            results.extend(pyshacl_results(data.to_graph(), self.fallback_graph, advanced=True))
            if progress is not None:
                progress(CHECKING, 1, 1)
        return results


def fallback_graph(graph: Graph, roots: dict[Node, str] | set[Node]) -> Graph:
    """A shapes graph with the shapes ``roots`` and everything they reference: nested
    shapes (without their own targets, so pySHACL checks them only through the roots),
    lists, SPARQL prefix declarations and custom constraint components. Rules are left out."""
    out = Graph()
    for prefix, namespace in graph.namespaces():
        out.bind(prefix, namespace, override=True)
    seen: set[Node] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        root = node in roots
        for p, o in graph.predicate_objects(node):
            if p == SH.rule or (not root and p in _TARGETS):
                continue
            if not root and p == RDF.type and o in (RDFS.Class, OWL.Class):
                continue  # an implicit class target
            out.add((node, p, o))
            if isinstance(o, BNode) or p in SHAPE_LINKS or p == SH.prefixes:
                todo.append(o)
            if p in SHAPE_LISTS:
                todo.extend(Collection(graph, o))
    for component in graph.subjects(RDF.type, SH.ConstraintComponent):
        for triple in graph.cbd(component):
            out.add(triple)
    return out


def pyshacl_results(
    data: Graph, shapes: Graph, *, advanced: bool = False
) -> list[ValidationResult]:
    """pySHACL over ``data`` (which must include the ontology), as plain results; raises
    :class:`ShapesUnusable` when pySHACL refuses a shape. ``advanced`` turns on SHACL-AF
    (SPARQL-based targets; the rules are not in a fallback graph)."""
    try:
        _conforms, report, _text = pyshacl.validate(
            data,
            shacl_graph=shapes,
            inference="none",
            inplace=True,
            allow_warnings=True,
            allow_infos=True,
            advanced=advanced,
        )
    except (ReportableRuntimeError, AssertionError, ValueError, TypeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ShapesUnusable(
            f"the SHACL shapes cannot be run, so the model was not checked: pySHACL refused "
            f"them ({reason}); fix that shape in the ontology's shapes files"
        ) from exc
    if not isinstance(report, Graph):
        raise ShapesUnusable("pySHACL answered without a report graph; the model was not checked")
    results = []
    # top-level results only: nested ones (sh:detail of an sh:node result) are not problems
    for result in report.objects(None, SH.result):
        focus = report.value(result, SH.focusNode)
        component = report.value(result, SH.sourceConstraintComponent)
        shape = report.value(result, SH.sourceShape)
        severity = report.value(result, SH.resultSeverity)
        message = report.value(result, SH.resultMessage)
        path = report.value(result, SH.resultPath)
        if focus is None or shape is None or not isinstance(component, URIRef):
            continue  # not a result pySHACL writes; nothing to report
        results.append(
            ValidationResult(
                focus=focus,
                path=_shape_path(shapes, shape, path),
                value=report.value(result, SH.value),
                component=component,
                shape=shape,
                severity=severity if isinstance(severity, URIRef) else SH.Violation,
                message=str(message) if message is not None else None,
            )
        )
    return results


def _shape_path(shapes: Graph, shape: Node, reported: Node | None) -> Node | None:
    """pySHACL copies blank-node paths into its report; point at the shape's own path."""
    if isinstance(reported, BNode):
        return shapes.value(shape, SH.path) or reported
    return reported
