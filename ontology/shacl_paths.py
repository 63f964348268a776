"""SHACL property paths compiled to term ids: predicate, inverse, sequence, alternative,
zero-or-more, one-or-more and zero-or-one (SHACL 2.3.1), and their text in SPARQL syntax."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kgtwin.ontology.namespaces import RDF, SH
from kgtwin.ontology.triples import TripleIndex

_ONE_PART = {
    SH.inversePath: "inverse",
    SH.zeroOrMorePath: "star",
    SH.oneOrMorePath: "plus",
    SH.zeroOrOnePath: "opt",
}


class PathError(ValueError):
    """A path node that is not a well-formed SHACL property path."""


@dataclass(frozen=True, slots=True)
class Path:
    """A compiled property path: ``kind`` is "predicate" (``predicate`` set), "sequence" or
    "alternative" (``parts``), or "inverse", "star", "plus", "opt" (one part)."""

    kind: str
    predicate: int = -1
    parts: tuple[Path, ...] = ()

    @property
    def simple(self) -> tuple[bool, int] | None:
        """(inverse?, predicate) for a predicate path or the inverse of one, else None."""
        if self.kind == "predicate":
            return (False, self.predicate)
        if self.kind == "inverse" and self.parts[0].kind == "predicate":
            return (True, self.parts[0].predicate)
        return None


def compile_path(graph: Graph, node: Node, intern: Callable[[Node], int]) -> Path:
    """The path ``node`` of ``graph``, with predicates as ids given by ``intern``; raises
    :class:`PathError` for a node that is not a SHACL path."""
    return _compile(graph, node, intern, 0)


def _compile(graph: Graph, node: Node, intern: Callable[[Node], int], depth: int) -> Path:
    if depth > 32:
        raise PathError("a property path nested deeper than 32 levels")
    if isinstance(node, URIRef):
        return Path("predicate", intern(node))
    if not isinstance(node, BNode):
        raise PathError(f"{node!r} is not a property path")
    if (node, RDF.first, None) in graph:
        parts = tuple(_compile(graph, m, intern, depth + 1) for m in Collection(graph, node))
        if len(parts) < 2:
            raise PathError("a sequence path needs at least two members")
        return Path("sequence", parts=parts)
    pairs = list(graph.predicate_objects(node))
    if len(pairs) != 1:
        raise PathError("a blank-node path has exactly one of sh:inversePath, sh:*Path")
    predicate, value = pairs[0]
    if predicate == SH.alternativePath:
        parts = tuple(_compile(graph, m, intern, depth + 1) for m in Collection(graph, value))
        if len(parts) < 2:
            raise PathError("an alternative path needs at least two members")
        return Path("alternative", parts=parts)
    kind = _ONE_PART.get(predicate)  # type: ignore[call-overload]
    if kind is None:
        raise PathError(f"{predicate} is not a SHACL path predicate")
    return Path(kind, parts=(_compile(graph, value, intern, depth + 1),))


def walk(data: TripleIndex, path: Path, start: Iterable[int], inverse: bool = False) -> list[int]:
    """The distinct nodes reached from ``start`` along ``path`` (against it if ``inverse``)."""
    kind = path.kind
    if kind == "predicate":
        found: dict[int, None] = {}
        if inverse:
            by_object = data.by_predicate(path.predicate)
            for n in start:
                found.update(dict.fromkeys(by_object.get(n, ())))
        else:
            spo = data.spo
            for n in start:
                found.update(dict.fromkeys(spo.get(n, {}).get(path.predicate, ())))
        return list(found)
    if kind == "inverse":
        return walk(data, path.parts[0], start, not inverse)
    if kind == "sequence":
        nodes = list(start)
        for part in reversed(path.parts) if inverse else path.parts:
            nodes = walk(data, part, nodes, inverse)
        return nodes
    if kind == "alternative":
        found = {}
        nodes = list(start)
        for part in path.parts:
            found.update(dict.fromkeys(walk(data, part, nodes, inverse)))
        return list(found)
    part = path.parts[0]
    nodes = list(start)
    if kind == "opt":
        return list(dict.fromkeys([*nodes, *walk(data, part, nodes, inverse)]))
    # star and plus: the closure, breadth first
    seen: dict[int, None] = dict.fromkeys(nodes) if kind == "star" else {}
    frontier = nodes
    while frontier:
        frontier = [n for n in walk(data, part, frontier, inverse) if n not in seen]
        seen.update(dict.fromkeys(frontier))
    return list(seen)


def path_text(graph: Graph, node: Node | None, name: Callable[[Node], str]) -> str:
    """``node`` written as a SPARQL property path (``brick:hasPart/brick:hasPoint``,
    ``^brick:feeds``, ``brick:feeds+``), predicates written by ``name``."""
    return _text(graph, node, name, 0)


def _text(graph: Graph, node: Node | None, name: Callable[[Node], str], depth: int) -> str:
    if node is None or depth > 32:
        return "a property path"
    if isinstance(node, URIRef):
        return name(node)
    if (node, RDF.first, None) in graph:
        return "/".join(_group(graph, m, name, depth) for m in Collection(graph, node))
    alternatives = graph.value(node, SH.alternativePath)
    if alternatives is not None:
        return "|".join(_group(graph, m, name, depth) for m in Collection(graph, alternatives))
    for predicate, mark in (
        (SH.inversePath, "^"),
        (SH.zeroOrMorePath, "*"),
        (SH.oneOrMorePath, "+"),
        (SH.zeroOrOnePath, "?"),
    ):
        inner = graph.value(node, predicate)
        if inner is not None:
            text = _group(graph, inner, name, depth)
            return f"^{text}" if mark == "^" else f"{text}{mark}"
    return "a property path"


def _group(graph: Graph, node: Node, name: Callable[[Node], str], depth: int) -> str:
    text = _text(graph, node, name, depth + 1)
    return text if isinstance(node, URIRef) or not any(c in text for c in "/|") else f"({text})"
