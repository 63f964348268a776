"""A model as the graph holds it, back to RDF in the ontology's own vocabulary: the pure
half of ``kgtwin export`` (``graph.export`` reads the pages, :class:`RdfWriter` writes them).

Every name is looked up in the :class:`Vocabulary` (labels by class name, keys by property
name, relationship types by ``rel_type``, individuals by local name), never turned back
into an IRI by a rule of its own. Values get the datatype the ontology expects of them
(:func:`expected_datatypes`), so the export validates and loads back to the same graph.
Live state (keys a node holds beyond its ``modelKeys``) is written, when asked, in the
``kgtlive:`` namespace, which a load ignores. docs/export.md says more.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from kgtwin.graph.records import NodeRecord, PropertyGraph, RelRecord, Value
from kgtwin.ontology.files import SourceFile
from kgtwin.ontology.mapping import ALIGNED_KEYS, ALIGNED_LABELS, TWIN_LABEL
from kgtwin.ontology.namespaces import ANNOTATIONS, LIVE, RDF, RDFS, SH, XSD
from kgtwin.ontology.vocabulary import PropertyInfo, Vocabulary, local_name

BOOKKEEPING = frozenset({"iri", "id", "model", "modelKeys", ALIGNED_KEYS, ALIGNED_LABELS})
LIVE_PREFIX = "kgtlive"
FORMATS = {"turtle": "turtle", "jsonld": "json-ld"}  # --format -> rdflib's serializer

_INTEGERS = frozenset(
    XSD[name]
    for name in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
_FLOATS = frozenset({XSD.double, XSD.float})
_DATETIMES = frozenset({XSD.dateTime, XSD.dateTimeStamp})
_UNTYPED = frozenset({RDFS.Literal, RDF.PlainLiteral, RDF.langString, XSD.string})
_PREFIX = re.compile(r"^[A-Za-z][\w.-]*(?<!\.)$")


def expected_datatypes(ontology: Graph, vocabulary: Vocabulary) -> dict[str, URIRef]:
    """Property IRI -> the datatype its values should have: its ``rdfs:range`` when that is
    a datatype, else the ``sh:datatype`` of a property shape on it (when the shapes agree)."""
    found: dict[str, URIRef] = {}
    for info in vocabulary.properties.values():
        ranges = [URIRef(r) for r in info.range if r not in vocabulary.classes]
        datatypes = [r for r in ranges if r.startswith(str(XSD)) or r in _UNTYPED]
        if len(datatypes) == 1:
            found[info.iri] = datatypes[0]
            continue
        shaped = {
            d
            for shape in ontology.subjects(SH.path, URIRef(info.iri))
            if isinstance(d := ontology.value(shape, SH.datatype), URIRef)
        }
        if len(shaped) == 1:
            found[info.iri] = shaped.pop()
    return found


def literal(value: Value, datatype: URIRef | None = None) -> Literal:
    """``value`` as a literal of ``datatype`` when it fits it, else of its own type.

    A float of an ``xsd:decimal`` is written in plain decimal notation (``1e-20`` as
    ``0.00000000000000000001``): its shortest text that reads back as the same float.
    """
    if datatype is not None and datatype not in _UNTYPED:
        typed = _typed(value, datatype)
        if typed is not None:
            return typed
    return _inferred(value)


def _typed(value: Any, datatype: URIRef) -> Literal | None:
    if isinstance(value, bool):
        return Literal(value) if datatype == XSD.boolean else None
    if isinstance(value, int | float):
        if isinstance(value, int) and datatype in _INTEGERS:
            return Literal(str(value), datatype=datatype)
        if datatype == XSD.decimal and math.isfinite(value):
            return Literal(_decimal_text(value), datatype=datatype)
        if datatype in _FLOATS:
            return Literal(_double_text(float(value)), datatype=datatype)
        return None
    if isinstance(value, datetime):
        return Literal(value.isoformat(), datatype=datatype) if datatype in _DATETIMES else None
    if isinstance(value, date):
        return Literal(value.isoformat(), datatype=datatype) if datatype == XSD.date else None
    if isinstance(value, time):
        return Literal(value.isoformat(), datatype=datatype) if datatype == XSD.time else None
    if isinstance(value, str):  # a value of a datatype Neo4j has no type for: its text
        typed = Literal(value, datatype=datatype)
        return None if typed.ill_typed else typed
    return None


def _inferred(value: Any) -> Literal:
    if isinstance(value, bool):
        return Literal(value)
    if isinstance(value, int):
        return Literal(str(value), datatype=XSD.integer)
    if isinstance(value, float):
        if math.isfinite(value):
            return Literal(_decimal_text(value), datatype=XSD.decimal)
        return Literal(_double_text(value), datatype=XSD.double)
    if isinstance(value, datetime):
        return Literal(value.isoformat(), datatype=XSD.dateTime)
    if isinstance(value, date):
        return Literal(value.isoformat(), datatype=XSD.date)
    if isinstance(value, time):
        return Literal(value.isoformat(), datatype=XSD.time)
    return Literal(str(value))


def _decimal_text(value: float) -> str:
    text = format(Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def _double_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(value)


def ontology_prefixes(files: Iterable[SourceFile]) -> dict[str, str]:
    """The prefixes the ontology's files declare (the first file to bind a prefix wins)."""
    prefixes: dict[str, str] = {}
    for source in files:
        for prefix, namespace in source.prefixes.items():
            if prefix:
                prefixes.setdefault(prefix, namespace)
    return prefixes


class RdfWriter:
    """Nodes and relationships of one model, written as RDF into :attr:`graph`.

    Feed it pages (:meth:`add`), then call :meth:`finish`. What the vocabulary cannot name
    (a label, a key, a relationship type or an individual that is not the ontology's) is
    left out and counted in :attr:`skipped`, by kind and name.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        datatypes: Mapping[str, URIRef],
        *,
        prefixes: Mapping[str, str] | None = None,
        model_prefix: str | None = None,
        live: bool = False,
    ) -> None:
        self.vocabulary = vocabulary
        self.datatypes = datatypes
        self.live = live
        self.model_prefix = model_prefix
        self.skipped: dict[str, Counter[str]] = defaultdict(Counter)
        self.graph = Graph(bind_namespaces="none")
        for prefix, namespace in {"rdf": str(RDF), "rdfs": str(RDFS), "xsd": str(XSD)}.items():
            self.graph.bind(prefix, namespace)
        for prefix, namespace in (prefixes or {}).items():
            if _PREFIX.match(prefix):
                self.graph.bind(prefix, namespace, override=False)
        if live:
            self.graph.bind(LIVE_PREFIX, str(LIVE), replace=True)
        self._namespaces: Counter[str] = Counter()  # of the subjects' IRIs
        self._classes = {info.name: URIRef(iri) for iri, info in vocabulary.classes.items()}
        self._keys: dict[str, PropertyInfo] = {}
        self._rel_types: dict[str, URIRef] = {}
        # a datatype or object property's name is unique; an annotation property's may
        # repeat one, and yields to it
        for info in sorted(
            vocabulary.properties.values(), key=lambda p: (p.kind == "annotation", p.iri)
        ):
            self._keys.setdefault(info.name, info)
            if info.kind == "object":
                self._rel_types.setdefault(info.rel_type, URIRef(info.iri))
        self._annotations = {local_name(str(p)): p for p in ANNOTATIONS}
        self._individuals: dict[str, list[str]] = defaultdict(list)
        for iri in sorted(vocabulary.individuals):
            self._individuals[local_name(iri)].append(iri)

    def add(self, nodes: Iterable[NodeRecord], rels: Iterable[RelRecord] = ()) -> None:
        for node in nodes:
            self.add_node(node)
        for rel in rels:
            self.add_rel(rel)

    def add_node(self, node: NodeRecord) -> None:
        subject = URIRef(node.iri)
        self._namespaces[node.iri[: len(node.iri) - len(local_name(node.iri))]] += 1
        props = node.props
        for klass in self._types(node.labels, _names(props.get(ALIGNED_LABELS))):
            self.graph.add((subject, RDF.type, klass))
        aligned = _names(props.get(ALIGNED_KEYS))
        # a node that was never loaded (a mapped model, say) has no modelKeys: all its own
        model_keys = _names(props["modelKeys"]) if "modelKeys" in props else None
        for key, value in props.items():
            if key in BOOKKEEPING or key in aligned:
                continue
            if model_keys is None or key in model_keys:
                self._model_value(subject, key, value)
            elif self.live:
                predicate = LIVE[quote(key, safe="")]
                for one in _values(value):
                    self.graph.add((subject, predicate, literal(one)))

    def add_rel(self, rel: RelRecord) -> None:
        predicate = self._rel_types.get(rel.type)
        if predicate is None:
            self.skipped["relationship type"][rel.type] += 1
            return
        self.graph.add((URIRef(rel.source), predicate, URIRef(rel.target)))

    def finish(self) -> Graph:
        """The graph, with a prefix for the namespace most subjects are in (``model_prefix``,
        when that is free and a usable prefix) unless the ontology binds one already."""
        if self._namespaces:
            namespace, _ = self._namespaces.most_common(1)[0]
            bound = {str(ns): prefix for prefix, ns in self.graph.namespaces()}
            taken = set(bound.values())
            if namespace and namespace not in bound:
                wanted = self.model_prefix or ""
                prefix = wanted if _PREFIX.match(wanted) and wanted not in taken else "model"
                suffix = 1
                while prefix in taken:
                    prefix, suffix = f"model{suffix}", suffix + 1
                self.graph.bind(prefix, namespace)
        return self.graph

    def _types(self, labels: Iterable[str], aligned: frozenset[str]) -> list[URIRef]:
        """The most specific classes among ``labels``: a class that is a superclass of
        another one's is left out (a load puts its label back)."""
        classes: list[URIRef] = []
        for label in labels:
            if label == TWIN_LABEL or label in aligned:
                continue
            klass = self._classes.get(label)
            if klass is None:
                self.skipped["label"][label] += 1
            else:
                classes.append(klass)
        ancestors = {c: self.vocabulary.ancestors(str(c)) for c in classes}
        return sorted(
            c
            for c in classes
            if not any(
                str(c) in ancestors[other] and str(other) not in ancestors[c]
                for other in classes
                if other != c
            )
        )

    def _model_value(self, subject: URIRef, key: str, value: Value) -> None:
        annotation = self._annotations.get(key)
        if annotation is not None:
            for one in _values(value):
                self.graph.add((subject, annotation, Literal(str(one))))
            return
        info = self._keys.get(key)
        if info is None:
            self.skipped["key"][key] += 1
            return
        predicate = URIRef(info.iri)
        datatype = self.datatypes.get(info.iri)
        for one in _values(value):
            term: Node | None = None
            if info.kind != "datatype" and isinstance(one, str):
                term = self._individual(one, info)
            if term is None and info.kind == "object":
                self.skipped["individual"][f"{key}={one}"] += 1
                continue
            self.graph.add((subject, predicate, term or literal(one, datatype)))

    def _individual(self, name: str, info: PropertyInfo) -> URIRef | None:
        """The ontology's individual called ``name``, one of the property's range if the
        name is shared."""
        candidates = self._individuals.get(name, [])
        if info.range:
            wanted = set(info.range)
            fitting = [
                iri
                for iri in candidates
                if any(
                    wanted & self.vocabulary.ancestors(k) for k in self.vocabulary.individuals[iri]
                )
            ]
            candidates = fitting or (candidates if info.kind == "object" else [])
        elif info.kind != "object":  # an annotation of no range: its text is a literal
            return None
        return URIRef(candidates[0]) if candidates else None


def to_rdf(
    graph: PropertyGraph,
    vocabulary: Vocabulary,
    datatypes: Mapping[str, URIRef],
    *,
    live: bool = False,
    prefixes: Mapping[str, str] | None = None,
    model_prefix: str | None = None,
) -> Graph:
    """A whole property graph at once (:class:`RdfWriter` takes it in pages)."""
    writer = RdfWriter(
        vocabulary, datatypes, prefixes=prefixes, model_prefix=model_prefix, live=live
    )
    writer.add(graph.nodes.values(), graph.rels)
    return writer.finish()


def serialize(graph: Graph, form: str) -> str:
    """``graph`` as Turtle or JSON-LD (``form``: a key of :data:`FORMATS`); JSON-LD is
    compacted with the prefixes its IRIs use."""
    if form not in FORMATS:
        raise ValueError(f"unknown format {form!r}; use one of {', '.join(FORMATS)}")
    if form == "turtle":
        return graph.serialize(format="turtle")
    return graph.serialize(
        format="json-ld", context=used_prefixes(graph), auto_compact=True, indent=2
    )


def used_prefixes(graph: Graph) -> dict[str, str]:
    """The bound prefixes whose namespace holds an IRI of ``graph`` (a datatype included)."""
    spaces: set[str] = set()
    for triple in graph:
        for term in triple:
            iri = term.datatype if isinstance(term, Literal) else term
            if isinstance(iri, URIRef):
                spaces.add(iri[: len(iri) - len(local_name(str(iri)))])
    return {prefix: str(ns) for prefix, ns in graph.namespaces() if str(ns) in spaces}


def _values(value: Value) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _names(value: Any) -> frozenset[str]:
    """A list of names kept on a node (``modelKeys``, ``alignedKeys``...); absent: none."""
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    return frozenset({value}) if isinstance(value, str) else frozenset()
