"""Triples in memory: a fast Turtle reader and a read-only index of interned terms.

rdflib's Turtle parser reads about 15,000 triples a second and hashing an rdflib term runs
Python code; a 100,000-asset site holds some 900,000 triples. So files are parsed by
Oxigraph (``pyoxigraph``, over 300,000 triples a second), every distinct term is given an
integer id once, and the index maps ids to ids. Code that needs rdflib terms (messages,
literal values) gets them with :meth:`TripleIndex.term`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kgtwin.ontology.namespaces import XSD

Triple = tuple[Node, Node, Node]
Quad = ox.Quad
_STRING = str(XSD.string)


def read_turtle(path: Path, text: str) -> tuple[list[Quad], dict[str, str]]:
    """The statements and prefixes of Turtle ``text``; raises :class:`SyntaxError` (with
    ``lineno``) on bad syntax. Blank nodes get ids unique to this read."""
    parser = ox.parse(
        text, format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri(), rename_blank_nodes=True
    )
    return list(parser), dict(parser.prefixes)


def to_rdflib(term: object) -> Node:
    """An Oxigraph term as the equal rdflib term; literals keep their lexical form as
    written (``"1"^^xsd:boolean`` is not the literal ``true``: SHACL tells them apart)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        if term.datatype.value == _STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(term.datatype.value), normalize=False)
    raise SyntaxError(f"unsupported term {term!r}")  # RDF-star triple terms


def to_oxigraph(term: Node, blank: str) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """An rdflib term as the equal Oxigraph term; a blank node is labelled ``blank``."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(blank)
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


class TripleIndex:
    """subject -> predicate -> objects over integer term ids, plus predicate -> object ->
    subjects built on first use. Ids are only meaningful within one index."""

    def __init__(self) -> None:
        self.terms: list[Node] = []
        self._ids: dict[Node, int] = {}
        self._ox_ids: dict[object, int] = {}
        self.spo: dict[int, dict[int, list[int]]] = {}
        self._pos: dict[int, dict[int, list[int]]] | None = None
        self._size = 0

    # --- terms ---------------------------------------------------------------------------

    def intern(self, node: Node) -> int:
        found = self._ids.get(node)
        if found is None:
            found = self._ids[node] = len(self.terms)
            self.terms.append(node)
        return found

    def find(self, node: Node) -> int | None:
        return self._ids.get(node)

    def term(self, term_id: int) -> Node:
        return self.terms[term_id]

    def _intern_ox(self, term: object) -> int:
        found = self._ox_ids.get(term)
        if found is None:
            found = self._ox_ids[term] = self.intern(to_rdflib(term))
        return found

    # --- triples -------------------------------------------------------------------------

    def add_quads(self, quads: Iterable[Quad]) -> None:
        # The hot loop of reading a big site: lookups inlined, new terms only go through
        # _intern_ox.
        known = self._ox_ids.get
        intern = self._intern_ox
        triples: list[tuple[int, int, int]] = []
        append = triples.append
        for q in quads:
            s, p, o = q.subject, q.predicate, q.object
            si, pi, oi = known(s), known(p), known(o)
            append(
                (
                    intern(s) if si is None else si,
                    intern(p) if pi is None else pi,
                    intern(o) if oi is None else oi,
                )
            )
        self._add(triples)

    def add(self, triples: Iterable[Triple]) -> None:
        intern = self.intern
        self._add((intern(s), intern(p), intern(o)) for s, p, o in triples)

    def _add(self, triples: Iterable[tuple[int, int, int]]) -> None:
        spo = self.spo
        before = self._size
        for s, p, o in triples:
            pairs = spo.get(s)
            if pairs is None:
                pairs = spo[s] = {}
            objects = pairs.get(p)
            if objects is None:
                pairs[p] = [o]
            elif o not in objects:
                objects.append(o)
            else:
                continue
            self._size += 1
        if self._size != before:
            self._pos = None

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Triple]:
        terms = self.terms
        for s, pairs in self.spo.items():
            for p, objects in pairs.items():
                for o in objects:
                    yield terms[s], terms[p], terms[o]

    def by_predicate(self, predicate: int) -> dict[int, list[int]]:
        """object id -> ids of the subjects having ``predicate`` with that object."""
        if self._pos is None:
            pos: dict[int, dict[int, list[int]]] = {}
            for s, pairs in self.spo.items():
                for p, objects in pairs.items():
                    by_object = pos.get(p)
                    if by_object is None:
                        by_object = pos[p] = {}
                    for o in objects:
                        subjects = by_object.get(o)
                        if subjects is None:
                            by_object[o] = [s]
                        else:
                            subjects.append(s)
            self._pos = pos
        return self._pos.get(predicate, {})

    # --- reading by rdflib term (for messages and pySHACL; slower) ----------------------

    def to_graph(self) -> Graph:
        graph = Graph()
        for triple in self:
            graph.add(triple)
        return graph

    def to_store(self) -> ox.Store:
        """The triples in an in-memory Oxigraph store (for SPARQL); blank node ``k<id>``
        is the term of id ``id`` here."""
        terms = [to_oxigraph(t, f"k{i}") for i, t in enumerate(self.terms)]
        store = ox.Store()
        store.extend(
            ox.Quad(terms[s], terms[p], terms[o])  # type: ignore[arg-type]
            for s, pairs in self.spo.items()
            for p, objects in pairs.items()
            for o in objects
        )
        return store

    def ox_id(self, term: object) -> int:
        """The id of an Oxigraph term from :meth:`to_store`'s store."""
        if isinstance(term, ox.BlankNode) and term.value.startswith("k"):
            return int(term.value[1:])
        return self.intern(to_rdflib(term))

    def objects(self, subject: Node, predicate: Node) -> list[Node]:
        s, p = self.find(subject), self.find(predicate)
        if s is None or p is None:
            return []
        return [self.terms[o] for o in self.spo.get(s, {}).get(p, ())]

    def subjects_of(self, predicate: Node, obj: Node) -> list[Node]:
        p, o = self.find(predicate), self.find(obj)
        if p is None or o is None:
            return []
        return [self.terms[s] for s in self.by_predicate(p).get(o, ())]
