"""A SHACL Core checker compiled from the ontology's shapes, fast enough for big sites.

pySHACL is the reference implementation but needs minutes for a 100,000-asset site. The
shapes graph is compiled here once into plain Python objects and evaluated over a
:class:`~ontology.triples.TripleIndex`, with the same results pySHACL reports (focus node,
path, value, constraint component, source shape, severity, message); the tests compare
the two on random models. The checker is generic: it knows the W3C SHACL Core components,
not the kgtwin vocabulary. A shapes graph using anything it does not implement (SPARQL
constraints, complex property paths, qualified value shapes, closed shapes) makes
:func:`compile_shapes` raise :class:`Unsupported`, and the caller falls back to pySHACL.

Each shape is checked for all its focus nodes at once (``_Pairs``), so the per-node cost
is a few dict lookups, not a function call per constraint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kgtwin.ontology.namespaces import OWL, RDF, RDFS, SH, XSD
from kgtwin.ontology.triples import TripleIndex

# Shape predicates that carry no constraint (documentation, targets, structure).
_NON_CONSTRAINT = frozenset(
    {
        SH.name,
        SH.description,
        SH.order,
        SH.group,
        SH.defaultValue,
        SH.message,
        SH.severity,
        SH.deactivated,
        SH.path,
        SH.targetClass,
        SH.targetNode,
        SH.targetSubjectsOf,
        SH.targetObjectsOf,
        SH.property,
        SH.flags,  # read with sh:pattern
    }
)
_SHAPE_LINKS = (SH.property, SH.node, SH["not"], SH.qualifiedValueShape)
_SHAPE_LISTS = (SH["or"], SH["and"], SH.xone)
_MAX_NESTING = 32


CHECKING = "checking shapes"
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class Unsupported(Exception):
    """The shapes use a SHACL feature this checker does not implement."""


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
    path: tuple[bool, int] | None  # (inverse?, predicate id)
    path_node: Node | None
    severity: URIRef
    message: str | None
    constraints: list[_Check] = field(default_factory=list)
    properties: list[_Shape] = field(default_factory=list)


# A check looks at focus nodes with their value nodes (term ids), in bulk, and yields
# (focus, component, value) per violation; value is None for constraints on the whole set.
_Pairs = list[tuple[int, list[int]]]
_Violation = tuple[int, URIRef, int | None]
_Check = Callable[["_Context", _Pairs], Iterator[_Violation]]


@dataclass(frozen=True, slots=True)
class _Target:
    classes: tuple[int, ...]
    nodes: tuple[int, ...]
    subjects_of: tuple[int, ...]
    objects_of: tuple[int, ...]


class Shapes:
    """A shapes graph known to be within what this checker implements.

    Checks are bound to the term ids of the data they run over, so the (cheap) compilation
    is redone for each :meth:`check`."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        _Compiler(graph, TripleIndex()).run()  # raises Unsupported

    def check(self, data: TripleIndex, progress: Progress | None = None) -> list[ValidationResult]:
        """The results of every shape over ``data``; ``progress`` hears ("checking shapes",
        shapes done, shapes in all) after each."""
        context = _Context(data)
        results: list[ValidationResult] = []
        shapes = _Compiler(self.graph, data).run()
        for done, (shape, target) in enumerate(shapes, start=1):
            results.extend(context.validate(shape, context.focus_nodes(target)))
            if progress is not None:
                progress(CHECKING, done, len(shapes))
        return results


def compile_shapes(shapes: Graph) -> Shapes:
    """The shapes of ``shapes``, ready to check data; raises :class:`Unsupported` when a
    shape uses something this checker does not implement."""
    return Shapes(shapes)


class _Context:
    """The data graph with the derived facts the checks need, computed once per run."""

    def __init__(self, data: TripleIndex) -> None:
        self.data = data
        self.spo = data.spo
        self.terms = data.terms
        self.type = data.intern(RDF.type)
        self.sub_class_of = data.intern(RDFS.subClassOf)
        self._supers: dict[int, frozenset[int]] = {}
        self._instances: dict[int, list[int]] | None = None

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
        return list(found)

    def values(self, focus: int, path: tuple[bool, int]) -> list[int]:
        inverse, predicate = path
        if inverse:
            return self.data.by_predicate(predicate).get(focus, _NONE)
        return self.spo.get(focus, _NO_PAIRS).get(predicate, _NONE)

    def pairs(self, shape: _Shape, nodes: list[int]) -> _Pairs:
        """Each node with its value nodes for ``shape``."""
        if shape.path is None:
            return [(n, [n]) for n in nodes]
        inverse, predicate = shape.path
        if inverse:
            by_object = self.data.by_predicate(predicate)
            return [(n, by_object.get(n, _NONE)) for n in nodes]
        spo = self.spo
        return [(n, spo.get(n, _NO_PAIRS).get(predicate, _NONE)) for n in nodes]

    def validate(self, shape: _Shape, nodes: list[int], depth: int = 0) -> list[ValidationResult]:
        """The results of validating every node of ``nodes`` against ``shape``."""
        if depth > _MAX_NESTING:
            raise Unsupported("shapes nest deeper than 32 levels (recursive shapes?)")
        pairs = self.pairs(shape, nodes)
        terms = self.terms
        results = [
            ValidationResult(
                terms[focus],
                shape.path_node,
                terms[value] if value is not None else None,
                component,
                shape.node,
                shape.severity,
                shape.message,
            )
            for check in shape.constraints
            for focus, component, value in check(self, pairs)
        ]
        if shape.properties:
            inner = _distinct_values(pairs)
            for prop in shape.properties:
                results.extend(self.validate(prop, inner, depth + 1))
        return results

    def failing(self, shape: _Shape, nodes: list[int], depth: int = 1) -> set[int]:
        """The nodes of ``nodes`` that do not conform to ``shape``."""
        if depth > _MAX_NESTING:
            raise Unsupported("shapes nest deeper than 32 levels (recursive shapes?)")
        pairs = self.pairs(shape, nodes)
        bad = {focus for check in shape.constraints for focus, _, _ in check(self, pairs)}
        if shape.properties:
            inner = _distinct_values(pairs)
            for prop in shape.properties:
                bad_values = self.failing(prop, inner, depth + 1)
                if bad_values:
                    bad.update(f for f, values in pairs if not bad_values.isdisjoint(values))
        return bad


_NONE: list[int] = []
_NO_PAIRS: dict[int, list[int]] = {}


def _distinct_values(pairs: _Pairs) -> list[int]:
    return list(dict.fromkeys(v for _, values in pairs for v in values))


class _Compiler:
    """Turns the shapes graph into :class:`_Shape` objects bound to ``data``'s term ids."""

    def __init__(self, graph: Graph, data: TripleIndex) -> None:
        self.g = graph
        self.data = data
        self.compiled: dict[Node, _Shape] = {}

    def run(self) -> list[tuple[_Shape, _Target]]:
        targeted: list[tuple[_Shape, _Target]] = []
        for node in sorted(self.shape_nodes(), key=str):
            target = self.target(node)
            if target is None or self.deactivated(node):
                continue
            targeted.append((self.shape(node), target))
        return targeted

    def id(self, node: Node) -> int:
        return self.data.intern(node)

    def shape_nodes(self) -> set[Node]:
        g = self.g
        nodes: set[Node] = set(g.subjects(RDF.type, SH.NodeShape))
        nodes.update(g.subjects(RDF.type, SH.PropertyShape))
        for p in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf):
            nodes.update(g.subjects(p, None))
        for p in _SHAPE_LINKS:
            nodes.update(g.objects(None, p))
        for p in _SHAPE_LISTS:
            for head in g.objects(None, p):
                nodes.update(self.members(head))
        return nodes

    def members(self, head: Node) -> list[Node]:
        return list(Collection(self.g, head))

    def deactivated(self, node: Node) -> bool:
        value = self.g.value(node, SH.deactivated)
        return isinstance(value, Literal) and value.value is True

    def target(self, node: Node) -> _Target | None:
        g = self.g
        classes = _iris(g.objects(node, SH.targetClass))
        if isinstance(node, URIRef) and (
            (node, RDF.type, RDFS.Class) in g or (node, RDF.type, OWL.Class) in g
        ):
            classes += (node,)  # implicit class target
        target = _Target(
            classes=tuple(map(self.id, classes)),
            nodes=tuple(map(self.id, g.objects(node, SH.targetNode))),
            subjects_of=tuple(map(self.id, _iris(g.objects(node, SH.targetSubjectsOf)))),
            objects_of=tuple(map(self.id, _iris(g.objects(node, SH.targetObjectsOf)))),
        )
        if not any((target.classes, target.nodes, target.subjects_of, target.objects_of)):
            return None
        return target

    def shape(self, node: Node, depth: int = 0) -> _Shape:
        if node in self.compiled:
            return self.compiled[node]
        if depth > _MAX_NESTING:
            raise Unsupported("shapes nest deeper than 32 levels")
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
        for prop in g.objects(node, SH.property):
            if not self.deactivated(prop):
                shape.properties.append(self.shape(prop, depth + 1))
        for predicate, value in g.predicate_objects(node):
            if predicate in _NON_CONSTRAINT or not str(predicate).startswith(str(SH)):
                continue
            name = str(predicate)[len(str(SH)) :]
            build = _BUILDERS.get(name)
            if build is None:
                raise Unsupported(f"sh:{name} is not compiled")
            shape.constraints.append(build(self, node, value, depth))
        return shape

    def path(self, node: Node) -> tuple[bool, int]:
        if isinstance(node, URIRef):
            return (False, self.id(node))
        inverse = self.g.value(node, SH.inversePath)
        if isinstance(inverse, URIRef) and len(list(self.g.predicate_objects(node))) == 1:
            return (True, self.id(inverse))
        raise Unsupported("only predicate and inverse paths are compiled")


def _iris(nodes: Iterable[Node]) -> tuple[URIRef, ...]:
    return tuple(n for n in nodes if isinstance(n, URIRef))


def _component(name: str) -> URIRef:
    return SH[f"{name}ConstraintComponent"]


# --- builders: one per constraint parameter --------------------------------------------


def _each(component: URIRef, ok: Callable[[_Context, int], bool]) -> _Check:
    def check(ctx: _Context, pairs: _Pairs) -> Iterator[_Violation]:
        for focus, values in pairs:
            for v in values:
                if not ok(ctx, v):
                    yield focus, component, v

    return check


def _each_term(component: URIRef, ok: Callable[[Node], bool]) -> _Check:
    """A check that depends on the value term alone, memoised per term."""
    memo: dict[int, bool] = {}

    def check(ctx: _Context, pairs: _Pairs) -> Iterator[_Violation]:
        for focus, values in pairs:
            for v in values:
                passed = memo.get(v)
                if passed is None:
                    passed = memo[v] = ok(ctx.terms[v])
                if not passed:
                    yield focus, component, v

    return check


def _each_failing(component: URIRef, failing: Callable[[_Context, list[int]], set[int]]) -> _Check:
    """A check whose failing value nodes are found for all of them at once."""

    def check(ctx: _Context, pairs: _Pairs) -> Iterator[_Violation]:
        bad = failing(ctx, _distinct_values(pairs))
        for focus, values in pairs:
            for v in values:
                if v in bad:
                    yield focus, component, v

    return check


def _class(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    cls = c.id(value)
    return _each(_component("Class"), lambda ctx, v: ctx.is_instance(v, cls))


def _datatype(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    def ok(v: Node) -> bool:
        if not isinstance(v, Literal):
            return False
        if v.language is not None:
            return value == RDF.langString
        actual = v.datatype if v.datatype is not None else XSD.string
        return actual == value and not v.ill_typed

    return _each_term(_component("Datatype"), ok)


_NODE_KINDS: dict[Node, tuple[type, ...]] = {
    SH.IRI: (URIRef,),
    SH.BlankNode: (BNode,),
    SH.Literal: (Literal,),
    SH.BlankNodeOrIRI: (BNode, URIRef),
    SH.BlankNodeOrLiteral: (BNode, Literal),
    SH.IRIOrLiteral: (URIRef, Literal),
}


def _node_kind(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    kinds = _NODE_KINDS.get(value)
    if kinds is None:
        raise Unsupported(f"unknown sh:nodeKind {value}")
    return _each_term(_component("NodeKind"), lambda v: isinstance(v, kinds))


def _count(name: str, bound: Callable[[int, int], bool]) -> _Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
        limit = _int(value)
        component = _component(name)

        def check(ctx: _Context, pairs: _Pairs) -> Iterator[_Violation]:
            for focus, values in pairs:
                if not bound(len(values), limit):
                    yield focus, component, None

        return check

    return build


def _range(name: str, holds: Callable[[int], bool]) -> _Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
        def ok(v: Node) -> bool:
            order = compare(v, value)
            return order is not None and holds(order)

        return _each_term(_component(name), ok)

    return build


def _length(name: str, holds: Callable[[int, int], bool]) -> _Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
        limit = _int(value)
        return _each_term(
            _component(name), lambda v: not isinstance(v, BNode) and holds(len(str(v)), limit)
        )

    return build


def _pattern(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    flags = 0
    for letter in str(c.g.value(node, SH.flags) or ""):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(
            letter, 0
        )
    regex = re.compile(str(value), flags)
    return _each_term(
        _component("Pattern"),
        lambda v: not isinstance(v, BNode) and regex.search(str(v)) is not None,
    )


def _in(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    allowed = frozenset(map(c.id, c.members(value)))
    return _each(_component("In"), lambda ctx, v: v in allowed)


def _language_in(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    tags = [str(t).lower() for t in c.members(value)]

    def ok(v: Node) -> bool:
        lang = v.language.lower() if isinstance(v, Literal) and v.language else None
        return lang is not None and any(
            t == "*" or lang == t or lang.startswith(t + "-") for t in tags
        )

    return _each_term(_component("LanguageIn"), ok)


def _unique_lang(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    on = isinstance(value, Literal) and value.value is True
    component = _component("UniqueLang")

    def check(ctx: _Context, pairs: _Pairs) -> Iterator[_Violation]:
        if not on:
            return
        for focus, values in pairs:
            terms = [ctx.terms[v] for v in values]
            tags = [t.language.lower() for t in terms if isinstance(t, Literal) and t.language]
            for _ in {tag for tag in tags if tags.count(tag) > 1}:
                yield focus, component, None

    return check


def _has_value(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    wanted = c.id(value)
    component = _component("HasValue")

    def check(ctx: _Context, pairs: _Pairs) -> Iterator[_Violation]:
        for focus, values in pairs:
            if wanted not in values:
                yield focus, component, None

    return check


def _pair(name: str) -> _Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
        if not isinstance(value, URIRef):
            raise Unsupported(f"sh:{name} needs an IRI")
        other = c.id(value)
        component = _component(name[0].upper() + name[1:])

        def check(ctx: _Context, pairs: _Pairs) -> Iterator[_Violation]:
            for focus, values in pairs:
                others = ctx.values(focus, (False, other))
                if name == "equals":
                    yield from ((focus, component, v) for v in values if v not in others)
                    yield from ((focus, component, o) for o in others if o not in values)
                elif name == "disjoint":
                    yield from ((focus, component, v) for v in values if v in others)
                else:
                    strict = name == "lessThan"
                    for v in values:
                        for o in others:
                            order = compare(ctx.terms[v], ctx.terms[o])
                            if order is None or order > 0 or (strict and order == 0):
                                yield focus, component, v

        return check

    return build


def _node(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    inner = c.shape(value, depth + 1)
    return _each_failing(_component("Node"), lambda ctx, nodes: ctx.failing(inner, nodes))


def _not(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
    inner = c.shape(value, depth + 1)

    def failing(ctx: _Context, nodes: list[int]) -> set[int]:
        return set(nodes) - ctx.failing(inner, nodes)

    return _each_failing(_component("Not"), failing)


def _logical(name: str, holds: Callable[[int, int], bool]) -> _Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> _Check:
        shapes = [c.shape(m, depth + 1) for m in c.members(value)]

        def failing(ctx: _Context, nodes: list[int]) -> set[int]:
            failed = [ctx.failing(s, nodes) for s in shapes]
            return {n for n in nodes if not holds(sum(n not in f for f in failed), len(shapes))}

        return _each_failing(_component(name), failing)

    return build


_Builder = Callable[[_Compiler, Node, Node, int], _Check]

_BUILDERS: dict[str, _Builder] = {
    "class": _class,
    "datatype": _datatype,
    "nodeKind": _node_kind,
    "minCount": _count("MinCount", lambda n, k: n >= k),
    "maxCount": _count("MaxCount", lambda n, k: n <= k),
    "minInclusive": _range("MinInclusive", lambda order: order >= 0),
    "minExclusive": _range("MinExclusive", lambda order: order > 0),
    "maxInclusive": _range("MaxInclusive", lambda order: order <= 0),
    "maxExclusive": _range("MaxExclusive", lambda order: order < 0),
    "minLength": _length("MinLength", lambda n, k: n >= k),
    "maxLength": _length("MaxLength", lambda n, k: n <= k),
    "pattern": _pattern,
    "in": _in,
    "languageIn": _language_in,
    "uniqueLang": _unique_lang,
    "hasValue": _has_value,
    "equals": _pair("equals"),
    "disjoint": _pair("disjoint"),
    "lessThan": _pair("lessThan"),
    "lessThanOrEquals": _pair("lessThanOrEquals"),
    "node": _node,
    "not": _not,
    "and": _logical("And", lambda passed, n: passed == n),
    "or": _logical("Or", lambda passed, n: passed >= 1),
    "xone": _logical("Xone", lambda passed, n: passed == 1),
}


def _int(value: Node) -> int:
    if isinstance(value, Literal) and isinstance(value.value, int):
        return value.value
    raise Unsupported(f"expected an integer, found {value!r}")


_Comparable = int | float | Decimal | str | date | datetime | time


def compare(a: Node, b: Node) -> int | None:
    """-1, 0 or 1 comparing two literals by value; None when they cannot be compared."""
    x, y = _comparable(a), _comparable(b)
    if x is None or y is None:
        return None
    numeric = (int, float, Decimal)
    if isinstance(x, numeric) and isinstance(y, numeric):
        pass
    elif type(x) is not type(y):
        return None
    try:
        return (x > y) - (x < y)  # type: ignore[operator]
    except TypeError:  # e.g. a datetime with a time zone against one without
        return None


def _comparable(node: Node) -> _Comparable | None:
    if not isinstance(node, Literal) or node.ill_typed:
        return None
    value = node.value if node.datatype is not None else str(node)
    if isinstance(value, bool) or not isinstance(value, _Comparable):
        return None
    return value
