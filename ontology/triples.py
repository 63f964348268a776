"""Triples in memory: a fast Turtle reader and a read-only index of interned terms.

rdflib's Turtle parser reads about 15,000 triples a second and hashing an rdflib term runs
Python code; a 100,000-asset site holds some 900,000 triples. So files are parsed by
Oxigraph (``pyoxigraph``, over 300,000 triples a second), every distinct term is given an
integer id once, and the index maps ids to ids. Code that needs rdflib terms (messages,
literal values) gets them with :meth:`TripleIndex.term`.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterable, Iterator
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


# A subject's objects of one predicate are a tuple while they are few (most are one: a
# tuple of one is 48 bytes, a list 72, and a million-asset site has 8 million), a list
# past that (a tuple grown one at a time would cost the square of its length).
_TUPLE_MAX = 8
Objects = tuple[int, ...] | list[int]


class TripleIndex:
    """subject -> predicate -> objects over integer term ids, plus predicate -> object ->
    subjects built on first use. Ids are only meaningful within one index."""

    def __init__(self) -> None:
        self.terms: list[Node] = []
        self._ids: dict[Node, int] = {}
        self.spo: dict[int, dict[int, Objects]] = {}
        self._pos: dict[int, dict[int, list[int]]] | None = None
        self._size = 0
        # the source (see add_quads) each subject was first read from, plus one; 0: none
        self._origin = array("H")

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

    def source_of(self, subject: Node) -> int | None:
        """The ``source`` given to :meth:`add_quads` with the first statement about
        ``subject``, if any."""
        s = self._ids.get(subject)
        if s is None or s >= len(self._origin) or not self._origin[s]:
            return None
        return self._origin[s] - 1

    # --- triples -------------------------------------------------------------------------

    def add_quads(self, quads: Iterable[Quad], source: int | None = None) -> None:
        """Add Oxigraph's statements as they come (``quads`` may be a parser: nothing is
        held but the index). ``source`` (< 65535) numbers where they were read from, for
        :meth:`source_of`."""
        # The hot loop of reading a big site: Oxigraph terms are interned through a dict
        # of this call's own (hashing them is Rust; hashing rdflib terms is Python).
        known: dict[object, int] = {}
        get = known.get
        intern = self.intern

        def ids() -> Iterator[tuple[int, int, int]]:
            for q in quads:
                s, p, o = q.subject, q.predicate, q.object
                si = get(s)
                if si is None:
                    si = known[s] = intern(to_rdflib(s))
                pi = get(p)
                if pi is None:
                    pi = known[p] = intern(to_rdflib(p))
                oi = get(o)
                if oi is None:
                    oi = known[o] = intern(to_rdflib(o))
                yield si, pi, oi

        self._add(ids(), None if source is None else source + 1)

    def add(self, triples: Iterable[Triple]) -> None:
        intern = self.intern
        self._add(((intern(s), intern(p), intern(o)) for s, p, o in triples), None)

    def _add(self, triples: Iterable[tuple[int, int, int]], mark: int | None) -> None:
        """Adds ``triples`` of ids; a subject new to the index gets the origin ``mark``."""
        spo, origin = self.spo, self._origin
        before = self._size
        for s, p, o in triples:
            pairs = spo.get(s)
            if pairs is None:
                pairs = spo[s] = {}
                if mark is not None:
                    if s >= len(origin):
                        origin.frombytes(bytes(2 * (len(self.terms) - len(origin))))
                    origin[s] = mark
            objects = pairs.get(p)
            if objects is None:
                pairs[p] = (o,)
            elif o in objects:
                continue
            elif type(objects) is tuple and len(objects) < _TUPLE_MAX:
                pairs[p] = (*objects, o)
            elif isinstance(objects, tuple):
                pairs[p] = [*objects, o]
            else:
                objects.append(o)
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
        """object id -> ids of the subjects having ``predicate`` with that object; built
        for each predicate asked for (the checker asks for a few: an index of every
        predicate would double a big model's memory)."""
        if self._pos is None:
            self._pos = {}
        found = self._pos.get(predicate)
        if found is None:
            found = self._pos[predicate] = {}
            for s, pairs in self.spo.items():
                objects = pairs.get(predicate)
                if objects is None:
                    continue
                for o in objects:
                    subjects = found.get(o)
                    if subjects is None:
                        found[o] = [s]
                    else:
                        subjects.append(s)
        return found

    def drop_reverse_index(self) -> None:
        """Free what :meth:`by_predicate` built."""
        self._pos = None

    # --- reading by rdflib term (for messages and pySHACL; slower) ----------------------

    def to_graph(self) -> Graph:
        graph = Graph()
        for triple in self:
            graph.add(triple)
        return graph

    def to_store(self, predicates: Collection[int] | None = None) -> ox.Store:
        """The triples (those of ``predicates`` only, if given) in an in-memory Oxigraph
        store (for SPARQL); blank node ``k<id>`` is the term of id ``id`` here."""
        terms: dict[int, ox.NamedNode | ox.BlankNode | ox.Literal] = {}

        def term(i: int) -> ox.NamedNode | ox.BlankNode | ox.Literal:
            found = terms.get(i)
            if found is None:
                found = terms[i] = to_oxigraph(self.terms[i], f"k{i}")
            return found

        store = ox.Store()
        store.extend(
            ox.Quad(term(s), term(p), term(o))  # type: ignore[arg-type]
            for s, pairs in self.spo.items()
            for p, objects in pairs.items()
            if predicates is None or p in predicates
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
