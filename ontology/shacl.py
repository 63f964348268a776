"""A SHACL Core checker compiled from the ontology's shapes, fast enough for big sites.

pySHACL is the reference implementation but needs minutes for a 100,000-asset site. The
shapes graph is compiled here once into plain Python objects and evaluated over a
:class:`~kgtwin.ontology.triples.TripleIndex`, with the results SHACL Core defines (focus
node, path, value, constraint component, source shape, severity, message); the tests run
the W3C SHACL Core suite and compare with pySHACL on random models. The checker is generic:
it knows the W3C SHACL Core components, not any vocabulary. A shape using something it does
not implement (SPARQL constraints and targets, custom components) is refused with
:class:`Unsupported`; :mod:`kgtwin.ontology.hybrid` sends just those shapes to pySHACL.
SHACL-AF rules (``sh:rule``) are inference, not constraints, and are not run (docs/shacl.md).

Each shape is checked for all its focus nodes at once (``Pairs``), so the per-node cost
is a few dict lookups, not a function call per constraint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kgtwin.ontology.namespaces import OWL, RDF, RDFS, SH
from kgtwin.ontology.shacl_components import (
    BUILDERS,
    PARAMETERS,
    Check,
    Pairs,
    Unsupported,
    compare,
    distinct_values,
    is_true,
)
from kgtwin.ontology.shacl_paths import Path, PathError, compile_path, walk
from kgtwin.ontology.shacl_sparql import build_sparql, predicates_read, select, target_nodes
from kgtwin.ontology.triples import TripleIndex

__all__ = [
    "CHECKING",
    "Progress",
    "Shapes",
    "Unsupported",
    "ValidationResult",
    "compare",
    "compile_shapes",
]

_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
# Shape predicates that carry no constraint (documentation, targets, structure, rules).
_NON_CONSTRAINT = frozenset(
    {
        *_TARGETS,
        *PARAMETERS,
        SH.name,
        SH.description,
        SH.order,
        SH.group,
        SH.defaultValue,
        SH.message,
        SH.severity,
        SH.deactivated,
        SH.path,
        SH.property,
        SH.target,  # read by _Compiler.target
        SH.rule,  # SHACL-AF inference, not a constraint: not run (docs/shacl.md)
        SH.prefixes,  # read by SPARQL-based constraints, which are refused on their own
    }
)
_BUILDERS = {**BUILDERS, "sparql": build_sparql}
SHAPE_LINKS = (SH.property, SH.node, SH["not"], SH.qualifiedValueShape)
SHAPE_LISTS = (SH["or"], SH["and"], SH.xone)
_MAX_NESTING = 32


CHECKING = "checking shapes"
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """One ``sh:ValidationResult``."""

    focus: Node
    path: Node | None
    value: Node | None
    component: URIRef
    shape: Node
    severity: URIRef
    message: str | None


@dataclass(slots=True)
class _Shape:
    node: Node
    path: Path | None
    path_node: Node | None
    severity: URIRef
    message: str | None
    constraints: list[Check] = field(default_factory=list)
    properties: list[_Shape] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Target:
    classes: tuple[int, ...]
    nodes: tuple[int, ...]
    subjects_of: tuple[int, ...]
    objects_of: tuple[int, ...]
    queries: tuple[str, ...]  # SPARQL-based targets


class Shapes:
    """The targeted shapes of a shapes graph but those in ``skip``; :class:`Unsupported` if
    one of them uses something this checker does not implement (``skip=None``: if any does).

    Checks are bound to the term ids of the data they run over, so the (cheap) compilation
    is redone for each :meth:`check`."""

    def __init__(self, graph: Graph, skip: Iterable[Node] | None = None) -> None:
        self.graph = graph
        self.skip = frozenset(skip or ())
        compiler = _Compiler(graph, TripleIndex())
        if skip is None:
            for node, reason in compiler.partition().items():
                raise Unsupported(f"{node}: {reason}")
        self.size = len(compiler.run(self.skip))  # raises Unsupported

    def check(self, data: TripleIndex, progress: Progress | None = None) -> list[ValidationResult]:
        """The results of every shape over ``data``; ``progress`` hears ("checking shapes",
        shapes done, shapes in all) after each."""
        compiler = _Compiler(self.graph, data)
        shapes = compiler.run(self.skip)
        context = _Context(data, compiler.queries)
        results: list[ValidationResult] = []
        for done, (shape, target) in enumerate(shapes, start=1):
            results.extend(context.validate(shape, context.focus_nodes(target)))
            if progress is not None:
                progress(CHECKING, done, len(shapes))
        return results


def compile_shapes(shapes: Graph) -> Shapes:
    """The shapes of ``shapes``, ready to check data; raises :class:`Unsupported` when a
    shape uses something this checker does not implement."""
    return Shapes(shapes)


def unsupported_shapes(graph: Graph) -> dict[Node, str]:
    """The targeted shapes of ``graph`` the checker cannot compile, with the reason."""
    return _Compiler(graph, TripleIndex()).partition()


class _Context:
    """The data graph with the derived facts the checks need, computed once per run."""

    def __init__(self, data: TripleIndex, queries: Sequence[str] = ()) -> None:
        self.data = data
        self.queries = queries  # every SPARQL query the shapes run
        self.spo = data.spo
        self.terms = data.terms
        self.type = data.intern(RDF.type)
        self.sub_class_of = data.intern(RDFS.subClassOf)
        self._supers: dict[int, frozenset[int]] = {}
        self._instances: dict[int, list[int]] | None = None
        self._store: ox.Store | None = None
        self.sparql: dict[str, list[ox.QuerySolution]] = {}

    def store(self) -> ox.Store:
        """The data in Oxigraph, for SPARQL-based targets and constraints; built once, of
        the statements whose predicate a query names (all, if one may match any)."""
        if self._store is None:
            read = [predicates_read(query) for query in self.queries]
            if any(r is None for r in read):
                self._store = self.data.to_store()
            else:
                found = (self.data.find(URIRef(iri)) for r in read if r for iri in r)
                self._store = self.data.to_store({p for p in found if p is not None})
        return self._store

    def term_id(self, term: object) -> int:
        return self.data.ox_id(term)

    def superclasses(self, cls: int) -> frozenset[int]:
        """``cls`` and everything it is an ``rdfs:subClassOf*`` of, in the data graph."""
        found = self._supers.get(cls)
        if found is None:
            seen = {cls}
            stack = [cls]
            while stack:
                for parent in self.spo.get(stack.pop(), {}).get(self.sub_class_of, ()):
                    if parent not in seen:
                        seen.add(parent)
                        stack.append(parent)
            found = self._supers[cls] = frozenset(seen)
        return found

    def is_instance(self, node: int, cls: int) -> bool:
        types = self.spo.get(node, {}).get(self.type, ())
        return any(cls in self.superclasses(t) for t in types)

    def instances(self, cls: int) -> list[int]:
        if self._instances is None:
            by_class: dict[int, list[int]] = {}
            for t, subjects in self.data.by_predicate(self.type).items():
                for sup in self.superclasses(t):
                    by_class.setdefault(sup, []).extend(subjects)
            self._instances = by_class
        return self._instances.get(cls, [])

    def focus_nodes(self, target: _Target) -> list[int]:
        found: dict[int, None] = {}
        for cls in target.classes:
            found.update(dict.fromkeys(self.instances(cls)))
        found.update(dict.fromkeys(target.nodes))
        for p in target.subjects_of:
            for subjects in self.data.by_predicate(p).values():
                found.update(dict.fromkeys(subjects))
        for p in target.objects_of:
            found.update(dict.fromkeys(self.data.by_predicate(p)))
        for query in target.queries:
            found.update(dict.fromkeys(target_nodes(self, query)))
        return list(found)

    def values(self, focus: int, predicate: int) -> Sequence[int]:
        return self.spo.get(focus, _NO_PAIRS).get(predicate, _NONE)

    def pairs(self, shape: _Shape, nodes: list[int]) -> Pairs:
        """Each node with its value nodes for ``shape``."""
        path = shape.path
        if path is None:
            return [(n, [n]) for n in nodes]
        simple = path.simple
        if simple is None:
            return [(n, walk(self.data, path, (n,))) for n in nodes]
        inverse, predicate = simple
        if inverse:
            by_object = self.data.by_predicate(predicate)
            return [(n, by_object.get(n, _NONE)) for n in nodes]
        spo = self.spo
        return [(n, spo.get(n, _NO_PAIRS).get(predicate, _NONE)) for n in nodes]

    def validate(
        self, shape: _Shape, nodes: list[int], times: dict[int, int] | None = None, depth: int = 0
    ) -> list[ValidationResult]:
        """The results of validating every node of ``nodes`` against ``shape``; a node
        reached ``times[node]`` times (from as many focus nodes) is reported as often."""
        if depth > _MAX_NESTING:
            raise Unsupported("shapes nest deeper than 32 levels (recursive shapes?)")
        pairs = self.pairs(shape, nodes)
        terms = self.terms
        results: list[ValidationResult] = []
        for check in shape.constraints:
            for focus, component, value, path in check(self, pairs):
                result = ValidationResult(
                    terms[focus],
                    shape.path_node if path is None else terms[path],
                    terms[value] if value is not None else None,
                    component,
                    shape.node,
                    shape.severity,
                    shape.message,
                )
                if times is None or times.get(focus, 1) == 1:
                    results.append(result)
                else:
                    results.extend([result] * times[focus])
        if shape.properties:
            # A value reached from two focus nodes is validated for each (one result each).
            reached: Counter[int] = Counter()
            for focus, values in pairs:
                weight = 1 if times is None else times.get(focus, 1)
                for v in values:
                    reached[v] += weight
            inner = list(reached)
            for prop in shape.properties:
                results.extend(self.validate(prop, inner, reached, depth + 1))
        return results

    def failing(self, shape: _Shape, nodes: list[int], depth: int = 1) -> set[int]:
        """The nodes of ``nodes`` that do not conform to ``shape``."""
        if depth > _MAX_NESTING:
            raise Unsupported("shapes nest deeper than 32 levels (recursive shapes?)")
        pairs = self.pairs(shape, nodes)
        bad = {focus for check in shape.constraints for focus, *_ in check(self, pairs)}
        if shape.properties:
            inner = distinct_values(pairs)
            for prop in shape.properties:
                bad_values = self.failing(prop, inner, depth + 1)
                if bad_values:
                    bad.update(f for f, values in pairs if not bad_values.isdisjoint(values))
        return bad


_NONE: list[int] = []
_NO_PAIRS: dict[int, list[int]] = {}


class _Compiler:
    """Turns the shapes graph into :class:`_Shape` objects bound to ``data``'s term ids."""

    def __init__(self, graph: Graph, data: TripleIndex) -> None:
        self.g = graph
        self.data = data
        self.compiled: dict[Node, _Shape] = {}
        self.refused: dict[Node, str] = {}
        self.queries: list[str] = []  # every SPARQL query compiled (targets, constraints)
        self.custom = frozenset(  # parameters of SPARQL-based constraint components
            path
            for c in graph.subjects(RDF.type, SH.ConstraintComponent)
            for param in graph.objects(c, SH.parameter)
            for path in graph.objects(param, SH.path)
        )

    def roots(self) -> list[Node]:
        """The shapes with a target, in a stable order."""
        nodes = {s for s in self.shape_nodes() if self.has_target(s)}
        return sorted(nodes, key=str)

    def run(self, skip: frozenset[Node] = frozenset()) -> list[tuple[_Shape, _Target]]:
        targeted: list[tuple[_Shape, _Target]] = []
        for node in self.roots():
            if node in skip:
                continue
            if self.deactivated(node) or not self.has_constraints(node):
                continue
            targeted.append((self.shape(node), self.target(node)))
        return targeted

    def partition(self) -> dict[Node, str]:
        refused: dict[Node, str] = {}
        for node in self.roots():
            if self.deactivated(node):
                continue
            try:
                self.target(node)
                self.shape(node)
            except Unsupported as exc:
                if self.has_constraints(node):
                    refused[node] = str(exc)
        return refused

    def has_constraints(self, node: Node) -> bool:
        """Whether ``node`` can report anything (a shape holding only rules cannot)."""
        return any(
            p not in (SH.rule, SH.target, RDF.type, *_TARGETS, SH.prefixes)
            and (str(p).startswith(str(SH)) or p in self.custom)
            for p in self.g.predicates(node, None)
        )

    def id(self, node: Node) -> int:
        return self.data.intern(node)

    def shape_nodes(self) -> set[Node]:
        g = self.g
        nodes: set[Node] = set(g.subjects(RDF.type, SH.NodeShape))
        nodes.update(g.subjects(RDF.type, SH.PropertyShape))
        for p in (*_TARGETS, SH.target):
            nodes.update(g.subjects(p, None))
        for p in SHAPE_LINKS:
            nodes.update(g.objects(None, p))
        for p in SHAPE_LISTS:
            for head in g.objects(None, p):
                nodes.update(self.members(head))
        return nodes

    def members(self, head: Node) -> list[Node]:
        return list(Collection(self.g, head))

    def deactivated(self, node: Node) -> bool:
        return is_true(self.g.value(node, SH.deactivated))

    def has_target(self, node: Node) -> bool:
        g = self.g
        return any((node, p, None) in g for p in (*_TARGETS, SH.target)) or self.is_class(node)

    def is_class(self, node: Node) -> bool:
        g = self.g
        return isinstance(node, URIRef) and (
            (node, RDF.type, RDFS.Class) in g or (node, RDF.type, OWL.Class) in g
        )

    def target(self, node: Node) -> _Target:
        """The node's targets; :class:`Unsupported` for a custom target type."""
        g = self.g
        queries = []
        for target in g.objects(node, SH.target):
            if (target, RDF.type, SH.SPARQLTarget) not in g:
                raise Unsupported("a custom target type (SHACL-AF)")
            queries.append(select(g, target, constraint=False))
        self.queries.extend(queries)
        classes: tuple[Node, ...] = _iris(g.objects(node, SH.targetClass))
        if self.is_class(node):
            classes += (node,)  # implicit class target
        return _Target(
            classes=tuple(map(self.id, classes)),
            nodes=tuple(map(self.id, g.objects(node, SH.targetNode))),
            subjects_of=tuple(map(self.id, _iris(g.objects(node, SH.targetSubjectsOf)))),
            objects_of=tuple(map(self.id, _iris(g.objects(node, SH.targetObjectsOf)))),
            queries=tuple(queries),
        )

    def shape(self, node: Node, depth: int = 0) -> _Shape:
        if node in self.refused:
            raise Unsupported(self.refused[node])
        if node in self.compiled:
            return self.compiled[node]
        if depth > _MAX_NESTING:
            raise Unsupported("shapes nest deeper than 32 levels")
        try:
            return self._shape(node, depth)
        except Unsupported as exc:
            self.compiled.pop(node, None)
            self.refused[node] = str(exc)
            raise

    def _shape(self, node: Node, depth: int) -> _Shape:
        g = self.g
        path_node = g.value(node, SH.path)
        severity = g.value(node, SH.severity)
        message = g.value(node, SH.message)
        shape = _Shape(
            node=node,
            path=self.path(path_node) if path_node is not None else None,
            path_node=path_node,
            severity=severity if isinstance(severity, URIRef) else SH.Violation,
            message=str(message) if message is not None else None,
        )
        self.compiled[node] = shape
        if self.deactivated(node):
            return shape  # every node conforms to a deactivated shape
        for prop in g.objects(node, SH.property):
            shape.properties.append(self.shape(prop, depth + 1))
        for predicate, value in g.predicate_objects(node):
            if predicate in self.custom:
                raise Unsupported(f"{predicate} is a parameter of a SPARQL-based component")
            if predicate in _NON_CONSTRAINT or not str(predicate).startswith(str(SH)):
                continue
            name = str(predicate)[len(str(SH)) :]
            build = _BUILDERS.get(name)
            if build is None:
                raise Unsupported(f"sh:{name} is not compiled")
            shape.constraints.append(build(self, node, value, depth))
        return shape

    def path(self, node: Node) -> Path:
        try:
            return compile_path(self.g, node, self.id)
        except PathError as exc:
            raise Unsupported(str(exc)) from exc

    def paths_of(self, prop: Node) -> list[URIRef]:
        """The predicate path of property shape ``prop``, if it is one (sh:closed)."""
        return [p for p in self.g.objects(prop, SH.path) if isinstance(p, URIRef)]

    def siblings(self, node: Node) -> list[Node]:
        """The sibling shapes of qualified value shape holder ``node`` (SHACL 4.7.3)."""
        g = self.g
        own = set(g.objects(node, SH.qualifiedValueShape))
        found: dict[Node, None] = {}
        for parent in g.subjects(SH.property, node):
            for prop in g.objects(parent, SH.property):
                for q in g.objects(prop, SH.qualifiedValueShape):
                    if q not in own:
                        found[q] = None
        return list(found)


def _iris(nodes: Iterable[Node]) -> tuple[URIRef, ...]:
    return tuple(n for n in nodes if isinstance(n, URIRef))
