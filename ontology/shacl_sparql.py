"""SPARQL-based constraints (``sh:sparql`` with ``sh:select``) and SPARQL-based targets
(``sh:target [ a sh:SPARQLTarget ]``), each run once over the whole data with Oxigraph.

SHACL pre-binds ``$this`` to each focus node and runs the query once per node (what
pySHACL does, about 50 ms a node over Brick). Here the query runs once with ``$this``
free and its solutions are kept for the shape's focus nodes. That is the same answer when
``$this`` is bound by the query's own top-level pattern, so only such queries are
compiled: one SELECT (no subquery, MINUS, VALUES, SERVICE, GRAPH, BIND or OPTIONAL) whose
pattern, with its FILTER (NOT) EXISTS blocks taken out, still names ``$this``; no
``$PATH``, ``$currentShape`` or ``$shapesGraph``; on a node shape. Anything else is
refused with :class:`Unsupported`, and pySHACL runs that shape (docs/shacl.md).

The queries run over an Oxigraph copy of the data holding only the statements whose
predicate one of them names (:func:`predicates_read`): Brick's queries name a few, and a
copy of a million-asset site would take gigabytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.paths import AlternativePath, InvPath, MulPath, Path, SequencePath
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Node

from kgtwin.ontology.namespaces import SH
from kgtwin.ontology.shacl_components import Check, Pairs, Unsupported, Violation, is_true

if TYPE_CHECKING:
    from kgtwin.ontology.shacl import _Compiler, _Context

_COMPONENT = SH.SPARQLConstraintComponent
_REFUSED = re.compile(
    r"\b(MINUS|VALUES|SERVICE|GRAPH|BIND|OPTIONAL|UNION)\b|\$PATH|[?$]currentShape|[?$]shapesGraph",
    re.IGNORECASE,
)
_EXISTS = re.compile(r"FILTER\s+(NOT\s+)?EXISTS\s*\{[^{}]*\}", re.IGNORECASE)
_THIS = re.compile(r"[?$]this\b")


def prefixes(graph: Graph, node: Node) -> str:
    """PREFIX declarations from the ``sh:prefixes`` of ``node`` (SHACL 5.2.1)."""
    lines = []
    for ontology in graph.objects(node, SH.prefixes):
        for declaration in graph.objects(ontology, SH.declare):
            prefix = graph.value(declaration, SH.prefix)
            namespace = graph.value(declaration, SH.namespace)
            if prefix is not None and namespace is not None:
                lines.append(f"PREFIX {prefix}: <{namespace}>")
    return "\n".join(lines)


def select(graph: Graph, node: Node, *, constraint: bool) -> str:
    """The query of SPARQL target or constraint ``node``, with its prefixes; raises
    :class:`Unsupported` when it is not one this module runs once for all focus nodes."""
    text = graph.value(node, SH.select)
    if text is None:
        raise Unsupported("a SPARQL constraint or target without sh:select (sh:ask?)")
    body = str(text)
    if constraint:  # a target's query is run as it is; a constraint's binds $this itself
        if len(re.findall(r"\bSELECT\b", body, re.IGNORECASE)) != 1 or _REFUSED.search(body):
            raise Unsupported("a SPARQL constraint that cannot be run once for all focus nodes")
        where = body[body.find("{") :]
        while _EXISTS.search(where):
            where = _EXISTS.sub("", where)
        if not _THIS.search(where) or where.count("{") != 1:
            raise Unsupported("a SPARQL constraint whose pattern does not bind $this")
    query = f"{prefixes(graph, node)}\n{body}"
    try:
        ox.Store().query(query)  # syntax only: the store is empty
    except SyntaxError as exc:
        raise Unsupported(f"a SPARQL query Oxigraph does not read ({exc})") from exc
    return query


def run(ctx: _Context, query: str) -> list[ox.QuerySolution]:
    """The solutions of ``query`` over the data, computed once per check."""
    found = ctx.sparql.get(query)
    if found is None:
        solutions = ctx.store().query(query)
        if not isinstance(solutions, ox.QuerySolutions):
            raise Unsupported("a SPARQL target or constraint that is not a SELECT")
        found = ctx.sparql[query] = list(solutions)
    return found


def target_nodes(ctx: _Context, query: str) -> list[int]:
    """The focus nodes a SPARQL-based target selects (``?this``)."""
    nodes: dict[int, None] = {}
    for solution in run(ctx, query):
        this = solution["this"]
        if this is not None:
            nodes[ctx.term_id(this)] = None
    return list(nodes)


def build_sparql(c: _Compiler, node: Node, value: Node, depth: int) -> Check:
    """``sh:sparql``: a result per solution whose ``$this`` is a focus node; the value is
    ``?value`` when bound, else the focus node; the path ``?path`` when bound."""
    if is_true(c.g.value(value, SH.deactivated)):
        return _nothing
    if c.g.value(node, SH.path) is not None:
        raise Unsupported("a SPARQL constraint on a property shape ($PATH)")
    query = select(c.g, value, constraint=True)
    c.queries.append(query)

    def check(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
        focus_nodes = {focus for focus, _ in pairs}
        term_id = ctx.term_id
        for solution in run(ctx, query):
            this = solution["this"]
            if this is None:
                continue
            focus = term_id(this)
            if focus not in focus_nodes:
                continue
            bound_value, bound_path = _binding(solution, "value"), _binding(solution, "path")
            value_id = focus if bound_value is None else term_id(bound_value)
            path_id = None if bound_path is None else term_id(bound_path)
            yield focus, _COMPONENT, value_id, path_id

    return check


def _binding(solution: ox.QuerySolution, name: str) -> object | None:
    try:
        value: object = solution[name]
    except (KeyError, IndexError):
        return None
    return value


def _nothing(ctx: _Context, pairs: Pairs) -> Iterator[Violation]:
    return iter(())


def predicates_read(query: str) -> frozenset[str] | None:
    """The IRIs of every predicate a triple matched by ``query`` can have (the predicates
    and property paths it names), or None when it may match any (a variable predicate, a
    negated property set, or a query rdflib cannot read). A store holding only the triples
    with these predicates gives the query the same solutions."""
    try:
        algebra = prepareQuery(query).algebra
    except Exception:  # rdflib raises many kinds; None is the safe answer
        return None
    found: set[str] = set()
    todo: list[object] = [algebra]
    while todo:
        node = todo.pop()
        if isinstance(node, CompValue):
            # triple patterns: a BGP's (translated), or a TriplesBlock's (inside EXISTS);
            # CompValue.get answers a missing key with the key's name, not the default
            for triple in node["triples"] if "triples" in node else ():  # noqa: SIM401
                if len(triple) != 3 or not _path_iris(triple[1], found):
                    return None
            todo.extend(node.values())
        elif isinstance(node, list | tuple | set | frozenset):
            todo.extend(node)
        elif isinstance(node, Path) and not _path_iris(node, found):  # a path outside a BGP
            return None
    return frozenset(found)


def _path_iris(predicate: object, found: set[str]) -> bool:
    """Adds the IRIs of a predicate or property path; False for anything that may match
    any predicate."""
    if isinstance(predicate, URIRef):
        found.add(str(predicate))
        return True
    if isinstance(predicate, SequencePath | AlternativePath):
        return all(_path_iris(part, found) for part in predicate.args)
    if isinstance(predicate, InvPath):
        return _path_iris(predicate.arg, found)
    if isinstance(predicate, MulPath):
        return _path_iris(predicate.path, found)
    if isinstance(predicate, CompValue) and predicate.name.startswith("Path"):
        # a path as parsed, not yet translated (inside EXISTS)
        if predicate.name == "PathNegatedPropertySet":
            return False
        parts = [v for v in predicate.values() if not isinstance(v, str) or isinstance(v, URIRef)]
        return all(
            _path_iris(item, found)
            for part in parts
            for item in (part if isinstance(part, list) else [part])
        )
    return False  # a variable, a negated property set, anything unknown
