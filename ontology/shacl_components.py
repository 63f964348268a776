"""The SHACL Core constraint components, one builder per parameter (SHACL 4).

A builder turns a parameter's value into a check; a check looks at focus nodes with their
value nodes (term ids), in bulk, and yields a violation per result. The checker that runs
them is :mod:`kgtwin.ontology.shacl`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kgtwin.ontology.namespaces import RDF, SH, XSD

if TYPE_CHECKING:
    from kgtwin.ontology.shacl import _Compiler, _Context


class Unsupported(Exception):
    """The shapes use a SHACL feature this checker does not implement."""


# (focus node, value nodes) for each focus node of a shape
Pairs = list[tuple[int, Sequence[int]]]
# (focus, component, value or None, result path id or None: the shape's own path)
Violation = tuple[int, URIRef, int | None, int | None]
Check = Callable[["_Context", Pairs], Iterator[Violation]]
Builder = Callable[["_Compiler", Node, Node, int], Check]


def component(name: str) -> URIRef:
    return SH[f"{name}ConstraintComponent"]


def is_true(value: Node | None) -> bool:
    """SHACL's boolean parameters are on only for the literal ``true``; ``"1"^^xsd:boolean``
    is another literal (W3C test core/property/uniqueLang-002)."""
    return isinstance(value, Literal) and value.datatype == XSD.boolean and str(value) == "true"


def distinct_values(pairs: Pairs) -> list[int]:
    return list(dict.fromkeys(v for _, values in pairs for v in values))


def _each(name: str, ok: Callable[[_Context, int], bool]) -> Check:
    comp = component(name)

    def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
        for focus, values in pairs:
            for v in values:
                if not ok(ctx, v):
                    yield focus, comp, v, None

    return check


def _each_term(name: str, ok: Callable[[Node], bool]) -> Check:
    """A check that depends on the value term alone, memoised per term."""
    comp = component(name)
    memo: dict[int, bool] = {}

    def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
        for focus, values in pairs:
            for v in values:
                passed = memo.get(v)
                if passed is None:
                    passed = memo[v] = ok(ctx.terms[v])
                if not passed:
                    yield focus, comp, v, None

    return check


def _each_failing(name: str, failing: Callable[[_Context, list[int]], set[int]]) -> Check:
    """A check whose failing value nodes are found for all of them at once."""
    comp = component(name)

    def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
        bad = failing(ctx, distinct_values(pairs))
        for focus, values in pairs:
            for v in values:
                if v in bad:
                    yield focus, comp, v, None

    return check


def _per_focus(name: str, holds: Callable[[_Context, Sequence[int]], bool]) -> Check:
    """A check on a focus node's whole set of values: one result per focus, no value."""
    comp = component(name)

    def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
        for focus, values in pairs:
            if not holds(ctx, values):
                yield focus, comp, None, None

    return check


# --- value type (4.1) ------------------------------------------------------------------


def _class(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    cls = c.id(value)
    return _each("Class", lambda ctx, v: ctx.is_instance(v, cls))


def _datatype(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    def ok(v: Node) -> bool:
        if not isinstance(v, Literal):
            return False
        if v.language is not None:
            return value == RDF.langString
        actual = v.datatype if v.datatype is not None else XSD.string
        return actual == value and not v.ill_typed

    return _each_term("Datatype", ok)


_NODE_KINDS: dict[Node, tuple[type, ...]] = {
    SH.IRI: (URIRef,),
    SH.BlankNode: (BNode,),
    SH.Literal: (Literal,),
    SH.BlankNodeOrIRI: (BNode, URIRef),
    SH.BlankNodeOrLiteral: (BNode, Literal),
    SH.IRIOrLiteral: (URIRef, Literal),
}


def _node_kind(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    kinds = _NODE_KINDS.get(value)
    if kinds is None:
        raise Unsupported(f"unknown sh:nodeKind {value}")
    return _each_term("NodeKind", lambda v: isinstance(v, kinds))


# --- cardinality, value range, string (4.2-4.4) ----------------------------------------


def _count(name: str, bound: Callable[[int, int], bool]) -> Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
        limit = _int(value)
        return _per_focus(name, lambda ctx, values: bound(len(values), limit))

    return build


def _range(name: str, holds: Callable[[int], bool]) -> Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
        def ok(v: Node) -> bool:
            order = compare(v, value)
            return order is not None and holds(order)

        return _each_term(name, ok)

    return build


def _length(name: str, holds: Callable[[int, int], bool]) -> Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
        limit = _int(value)
        return _each_term(name, lambda v: not isinstance(v, BNode) and holds(len(str(v)), limit))

    return build


def _pattern(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    flags = 0
    for letter in str(c.g.value(node, SH.flags) or ""):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(
            letter, 0
        )
    regex = re.compile(str(value), flags)
    return _each_term(
        "Pattern", lambda v: not isinstance(v, BNode) and regex.search(str(v)) is not None
    )


def _language_in(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    tags = [str(t).lower() for t in c.members(value)]

    def ok(v: Node) -> bool:
        lang = v.language.lower() if isinstance(v, Literal) and v.language else None
        return lang is not None and any(
            t == "*" or lang == t or lang.startswith(t + "-") for t in tags
        )

    return _each_term("LanguageIn", ok)


def _unique_lang(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    on = is_true(value)
    comp = component("UniqueLang")

    def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
        if not on:
            return
        for focus, values in pairs:
            terms = [ctx.terms[v] for v in values]
            tags = [t.language.lower() for t in terms if isinstance(t, Literal) and t.language]
            for _ in {tag for tag in tags if tags.count(tag) > 1}:
                yield focus, comp, None, None

    return check


# --- property pairs (4.5) --------------------------------------------------------------


def _pair(name: str) -> Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
        if not isinstance(value, URIRef):
            raise Unsupported(f"sh:{name} needs an IRI")
        other = c.id(value)
        comp = component(name[0].upper() + name[1:])

        def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
            for focus, values in pairs:
                others = ctx.values(focus, other)
                if name == "equals":
                    yield from ((focus, comp, v, None) for v in values if v not in others)
                    yield from ((focus, comp, o, None) for o in others if o not in values)
                elif name == "disjoint":
                    yield from ((focus, comp, v, None) for v in values if v in others)
                else:
                    strict = name == "lessThan"
                    for v in values:
                        for o in others:
                            order = compare(ctx.terms[v], ctx.terms[o])
                            if order is None or order > 0 or (strict and order == 0):
                                yield focus, comp, v, None

        return check

    return build


# --- logical and shape-based (4.6, 4.7) ------------------------------------------------


def _node(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    inner = c.shape(value, depth + 1)
    return _each_failing("Node", lambda ctx, nodes: ctx.failing(inner, nodes))


def _not(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    inner = c.shape(value, depth + 1)

    def failing(ctx: _Context, nodes: list[int]) -> set[int]:
        return set(nodes) - ctx.failing(inner, nodes)

    return _each_failing("Not", failing)


def _logical(name: str, holds: Callable[[int, int], bool]) -> Builder:
    def build(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
        shapes = [c.shape(m, depth + 1) for m in c.members(value)]

        def failing(ctx: _Context, nodes: list[int]) -> set[int]:
            failed = [ctx.failing(s, nodes) for s in shapes]
            return {n for n in nodes if not holds(sum(n not in f for f in failed), len(shapes))}

        return _each_failing(name, failing)

    return build


def _qualified(name: str, bound: Callable[[int, int], bool]) -> Builder:
    """sh:qualifiedMinCount / sh:qualifiedMaxCount with sh:qualifiedValueShape and, when
    sh:qualifiedValueShapesDisjoint is true, the sibling shapes a value must not conform to."""

    def build(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
        limit = _int(value)
        qualified = c.g.value(node, SH.qualifiedValueShape)
        if qualified is None:
            return _nothing  # a component applies only with all its mandatory parameters
        inner = c.shape(qualified, depth + 1)
        disjoint = is_true(c.g.value(node, SH.qualifiedValueShapesDisjoint))
        siblings = [c.shape(s, depth + 1) for s in c.siblings(node)] if disjoint else []
        comp = component(name)

        def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
            values = distinct_values(pairs)
            bad = ctx.failing(inner, values)
            conforming = {v for v in values if v not in bad}
            for sibling in siblings:
                conforming -= conforming - ctx.failing(sibling, list(conforming))
            for focus, vs in pairs:
                if not bound(sum(v in conforming for v in vs), limit):
                    yield focus, comp, None, None

        return check

    return build


def _closed(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    if not is_true(value):
        return _nothing
    allowed = {c.id(p) for prop in c.g.objects(node, SH.property) for p in c.paths_of(prop)}
    ignored = c.g.value(node, SH.ignoredProperties)
    if ignored is not None:
        allowed.update(c.id(p) for p in c.members(ignored))
    comp = component("Closed")

    def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
        for focus, values in pairs:
            for v in values:
                for p, objects in ctx.spo.get(v, {}).items():
                    if p not in allowed:
                        for o in objects:
                            yield focus, comp, o, p

    return check


def _nothing(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
    return iter(())


def _in(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    allowed = frozenset(map(c.id, c.members(value)))
    return _each("In", lambda ctx, v: v in allowed)


def _has_value(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    wanted = c.id(value)
    return _per_focus("HasValue", lambda ctx, values: wanted in values)


BUILDERS: dict[str, Builder] = {
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
    "qualifiedMinCount": _qualified("QualifiedMinCount", lambda n, k: n >= k),
    "qualifiedMaxCount": _qualified("QualifiedMaxCount", lambda n, k: n <= k),
    "closed": _closed,
}

# Parameters read by the builder of another parameter, or that carry no constraint.
PARAMETERS = frozenset(
    {SH.flags, SH.qualifiedValueShape, SH.qualifiedValueShapesDisjoint, SH.ignoredProperties}
)


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
