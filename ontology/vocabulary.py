"""The ontology as the graph needs it: classes with their hierarchy, properties with their
kinds, relationship types and dependency direction, and what other vocabularies' terms mean
to kgtwin's engine (alignments, ``kgt:means``). Built from whatever RDFS/OWL the ontology
files declare; nothing here lists domain terms. Names follow :mod:`ontology.naming`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection

from kgtwin.graph.labels import SYSTEM_LABELS, SYSTEM_TYPES
from kgtwin.ontology.errors import VocabularyError
from kgtwin.ontology.namespaces import KGT, OWL, QUDT, RDF, RDFS, RESERVED_KEYS
from kgtwin.ontology.naming import (
    assign_names,
    local_name,
    namespace_prefixes,
    relationship_type,
    renamed,
)

__all__ = [
    "ClassInfo",
    "PathAlignment",
    "PropertyInfo",
    "Vocabulary",
    "local_name",
    "relationship_type",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_OTHER_WAY = {
    "SupplierToConsumer": "ConsumerToSupplier",
    "ConsumerToSupplier": "SupplierToConsumer",
}
# reserved property names, as the relationship types they would give
_RESERVED_TYPES = frozenset(SYSTEM_TYPES | {relationship_type(k) for k in RESERVED_KEYS})


@dataclass(frozen=True, slots=True)
class ClassInfo:
    iri: str
    name: str  # the Neo4j label
    label: str
    comment: str
    parents: tuple[str, ...]
    means: tuple[str, ...] = ()  # kgtwin classes it means to the engine (kgt:means)


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    iri: str
    name: str  # the node property key (datatype) or the local name (object)
    kind: str  # "object" | "datatype" | "annotation"
    label: str
    comment: str
    domain: tuple[str, ...]
    range: tuple[str, ...]
    parents: tuple[str, ...]
    unit: str | None  # QUDT unit of a datatype property's values, when declared
    dependency: str | None  # local name of the kgt:dependencyDirection individual, inherited
    means: tuple[str, ...] = ()  # kgtwin properties it means to the engine (kgt:means)
    means_inverse: tuple[str, ...] = ()  # ... read the other way round (kgt:meansInverseOf)

    @property
    def rel_type(self) -> str:
        return relationship_type(self.name)


@dataclass(frozen=True, slots=True)
class PathAlignment:
    """``[ kgt:path ( p1 p2 ... ) ; kgt:means kgt:mqttTopic ]``: the values reached from a
    subject along the path are, to the engine, values of the kgtwin property."""

    path: tuple[str, ...]
    means: str


@dataclass(frozen=True, slots=True)
class Vocabulary:
    classes: dict[str, ClassInfo]
    properties: dict[str, PropertyInfo]
    individuals: dict[str, frozenset[str]]  # ontology individuals (units...) -> their classes
    class_closure: dict[str, frozenset[str]]  # class -> itself and every superclass
    property_closure: dict[str, frozenset[str]]  # property -> itself and every super-property
    paths: tuple[PathAlignment, ...] = ()
    ignored: dict[str, int] = field(default_factory=dict)  # OWL constructs not used, counted
    imports: tuple[str, ...] = ()  # owl:imports not given as files (never fetched)
    individual_classes: frozenset[str] = frozenset()  # the classes of ``individuals``

    @classmethod
    def from_graph(cls, graph: Graph, prefixes: Sequence[tuple[str, str]] = ()) -> Vocabulary:
        """``prefixes``: the files' ``(prefix, namespace)`` declarations in order, for the
        names of terms whose local names collide (else the graph's own bindings)."""
        declared = namespace_prefixes(prefixes or [(p, str(n)) for p, n in graph.namespaces()])
        classes = _classes(graph, declared)
        properties = _properties(graph, declared)
        individuals: dict[str, set[str]] = {}
        for subject, klass in graph.subject_objects(RDF.type):
            term = str(subject)
            if (
                isinstance(subject, URIRef)
                and str(klass) in classes
                and term not in classes
                and term not in properties
            ):
                individuals.setdefault(str(subject), set()).add(str(klass))
        vocabulary = cls(
            classes,
            properties,
            {k: frozenset(v) for k, v in individuals.items()},
            _closure({iri: info.parents for iri, info in classes.items()}),
            _closure({iri: info.parents + info.means for iri, info in properties.items()}),
            _paths(graph, properties),
            _ignored(graph),
            _imports(graph),
            frozenset().union(*individuals.values()),
        )
        vocabulary.check()
        return vocabulary

    def summary(self) -> str:
        """One line: what the ontology holds, and what of it kgtwin does not use."""
        terms: list[ClassInfo | PropertyInfo] = [*self.classes.values(), *self.properties.values()]
        prefixed = sum(renamed(info.iri, info.name) for info in terms)
        text = (
            f"{len(self.classes)} classes, "
            f"{sum(p.kind != 'annotation' for p in self.properties.values())} properties"
        )
        if prefixed:
            text += f" ({prefixed} named with their prefix: shared or reserved local names)"
        if self.ignored:
            text += "; not used by kgtwin, ignored: " + ", ".join(
                f"{count} {what}" for what, count in sorted(self.ignored.items())
            )
        if self.imports:
            text += "; owl:imports not given as files, never fetched: " + ", ".join(
                f"<{iri}>" for iri in self.imports
            )
        return text

    def ancestors(self, class_iri: str) -> frozenset[str]:
        """The class and every superclass declared in the ontology."""
        return self.class_closure.get(class_iri, frozenset({class_iri}))

    def property_ancestors(self, property_iri: str) -> frozenset[str]:
        return self.property_closure.get(property_iri, frozenset({property_iri}))

    def labels_for(self, types: Iterable[str]) -> tuple[str, ...]:
        """Neo4j labels for a subject's asserted classes: each class and its superclasses."""
        names = {
            self.classes[c].name for t in types for c in self.ancestors(t) if c in self.classes
        }
        return tuple(sorted(names))

    def is_key(self, prop: PropertyInfo) -> bool:
        """Whether ``prop``'s values are node keys rather than relationships: a datatype
        property, or an object property ranging over the ontology's individuals (units,
        quantity kinds), whose values are stored as the individual's local name."""
        return prop.kind == "datatype" or (
            prop.kind == "object"
            and bool(prop.range)
            and set(prop.range) <= self.individual_classes
        )

    def aligned_labels(self, types: Iterable[str]) -> tuple[str, ...]:
        """The labels of the kgtwin classes (and their superclasses) that the subject's
        classes mean to the engine, less those it has anyway."""
        own = {c for t in types for c in self.ancestors(t)}
        meant = {m for c in own if c in self.classes for m in self.classes[c].means}
        return tuple(sorted(set(self.labels_for(meant)) - set(self.labels_for(own))))

    def engine_meaning(self, property_iri: str) -> frozenset[str]:
        """The kgtwin properties ``property_iri`` means to the engine: those among its
        super-properties and ``kgt:means``, transitively (itself, if a kgtwin term)."""
        return frozenset(
            iri for iri in self.property_ancestors(property_iri) if iri.startswith(str(KGT))
        )

    def engine_meaning_inverse(self, property_iri: str) -> frozenset[str]:
        """The kgtwin properties ``property_iri`` means read the other way round
        (``brick:isPointOf kgt:meansInverseOf kgt:hasPoint``), with their super-properties."""
        return frozenset(
            iri
            for ancestor in self.property_ancestors(property_iri)
            if ancestor in self.properties
            for inverse in self.properties[ancestor].means_inverse
            for iri in self.property_ancestors(inverse)
            if iri.startswith(str(KGT))
        )

    def dependency_direction(
        self, property_iri: str, _seen: frozenset[str] = frozenset()
    ) -> str | None:
        for iri in self.property_ancestors(property_iri):
            info = self.properties.get(iri)
            if info is not None and info.dependency is not None:
                return info.dependency
        seen = _seen | {property_iri}  # an alignment may say two terms invert each other
        for iri in sorted(self.engine_meaning_inverse(property_iri) - seen):
            direction = self.dependency_direction(iri, seen)
            if direction is not None:
                return _OTHER_WAY[direction]
        return None

    def check(self) -> None:
        """The naming rule's guarantees, checked: unique names, none reserved, every one
        fit for a label, a key and a relationship type."""
        _unique("class", [(c.iri, c.name) for c in self.classes.values()])
        named = [p for p in self.properties.values() if p.kind != "annotation"]
        _unique("property", [(p.iri, p.rel_type) for p in named])
        for info in self.classes.values():
            if not _NAME.match(info.name) or info.name in SYSTEM_LABELS:
                raise VocabularyError(f"class {info.iri}: no usable label ({info.name!r})")
        for prop in named:
            if not _NAME.match(prop.name) or prop.rel_type in _RESERVED_TYPES:
                raise VocabularyError(f"property {prop.iri}: no usable name ({prop.name!r})")
        for means in (c.means for c in self.classes.values()):
            for iri in means:
                if iri not in self.classes:
                    raise VocabularyError(f"kgt:means names {iri}, which is not a class")


def _text(graph: Graph, subject: URIRef, predicate: URIRef) -> str:
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
    for value in values:
        if value.language in (None, "en"):
            return str(value)
    return str(values[0]) if values else ""


def _iris(graph: Graph, subject: URIRef, predicate: URIRef) -> tuple[str, ...]:
    return tuple(sorted(str(o) for o in graph.objects(subject, predicate) if isinstance(o, URIRef)))


def _classes(graph: Graph, prefixes: dict[str, str]) -> dict[str, ClassInfo]:
    iris: set[URIRef] = set()
    for kind in (OWL.Class, RDFS.Class):
        iris.update(s for s in graph.subjects(RDF.type, kind) if isinstance(s, URIRef))
    for sub, sup in graph.subject_objects(RDFS.subClassOf):
        iris.update(x for x in (sub, sup) if isinstance(x, URIRef))
    iris -= {OWL.Thing, RDFS.Resource, OWL.Class, RDFS.Class}
    names = {str(iri) for iri in iris}
    labels = assign_names(names, prefixes, SYSTEM_LABELS)
    return {
        str(iri): ClassInfo(
            iri=str(iri),
            name=labels[str(iri)],
            label=_text(graph, iri, RDFS.label),
            comment=_text(graph, iri, RDFS.comment),
            parents=tuple(p for p in _iris(graph, iri, RDFS.subClassOf) if p in names),
            means=tuple(m for m in _iris(graph, iri, KGT.means) if m in names),
        )
        for iri in iris
    }


def _properties(graph: Graph, prefixes: dict[str, str]) -> dict[str, PropertyInfo]:
    kinds = {
        OWL.ObjectProperty: "object",
        OWL.DatatypeProperty: "datatype",
        OWL.AnnotationProperty: "annotation",
    }
    found: dict[URIRef, str] = {}
    for rdf_kind, kind in kinds.items():
        for subject in graph.subjects(RDF.type, rdf_kind):
            if isinstance(subject, URIRef):
                found[subject] = kind
    named = [str(iri) for iri, kind in found.items() if kind != "annotation"]
    names = assign_names(named, prefixes, _RESERVED_TYPES, key=relationship_type)
    properties = {}
    for iri, kind in found.items():
        direction = graph.value(iri, KGT.dependencyDirection)
        unit = graph.value(iri, QUDT.unit)
        properties[str(iri)] = PropertyInfo(
            iri=str(iri),
            name=names.get(str(iri)) or local_name(str(iri)),
            kind=kind,
            label=_text(graph, iri, RDFS.label),
            comment=_text(graph, iri, RDFS.comment),
            domain=_iris(graph, iri, RDFS.domain),
            range=_iris(graph, iri, RDFS.range),
            parents=tuple(p for p in _iris(graph, iri, RDFS.subPropertyOf) if URIRef(p) in found),
            unit=str(unit) if isinstance(unit, URIRef) else None,
            dependency=local_name(str(direction)) if isinstance(direction, URIRef) else None,
            means=tuple(m for m in _iris(graph, iri, KGT.means) if URIRef(m) in found),
            means_inverse=tuple(
                m for m in _iris(graph, iri, KGT.meansInverseOf) if URIRef(m) in found
            ),
        )
    return properties


def _paths(graph: Graph, properties: dict[str, PropertyInfo]) -> tuple[PathAlignment, ...]:
    """``[ kgt:path ( p1 p2 ) ; kgt:means kgt:x ]`` alignments, checked."""
    found = []
    for node, head in graph.subject_objects(KGT.path):
        steps = [str(step) for step in Collection(graph, head)]
        means = graph.value(node, KGT.means)
        if not steps or not isinstance(means, URIRef) or str(means) not in properties:
            raise VocabularyError(
                f"an alignment's kgt:path ({', '.join(steps) or 'empty'}) needs a kgt:means "
                "naming a property of the ontology"
            )
        unknown = [step for step in steps if step not in properties]
        if unknown:
            raise VocabularyError(
                f"an alignment's kgt:path names {', '.join(unknown)}, not properties of the "
                "ontology (is the vocabulary's file given?)"
            )
        found.append(PathAlignment(tuple(steps), str(means)))
    return tuple(sorted(found, key=lambda p: (p.means, p.path)))


# What kgtwin reads of OWL is classes, properties and their hierarchies; these are counted.
_IGNORED = {
    "OWL restrictions": (RDF.type, OWL.Restriction),
    "class equivalences": (OWL.equivalentClass, None),
    "property equivalences": (OWL.equivalentProperty, None),
    "inverse declarations": (OWL.inverseOf, None),
    "annotation properties": (RDF.type, OWL.AnnotationProperty),
    "disjointness axioms": (OWL.disjointWith, None),
    "owl:sameAs statements": (OWL.sameAs, None),
    "property characteristics": (RDF.type, None),
}
_CHARACTERISTICS = frozenset(
    {
        OWL.TransitiveProperty,
        OWL.SymmetricProperty,
        OWL.AsymmetricProperty,
        OWL.IrreflexiveProperty,
        OWL.ReflexiveProperty,
        OWL.FunctionalProperty,
        OWL.InverseFunctionalProperty,
    }
)


def _ignored(graph: Graph) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for what, (predicate, obj) in _IGNORED.items():
        if what == "property characteristics":
            counts[what] = sum(1 for o in graph.objects(None, RDF.type) if o in _CHARACTERISTICS)
        else:
            counts[what] = sum(1 for _ in graph.triples((None, predicate, obj)))
    return {what: n for what, n in counts.items() if n}


def _imports(graph: Graph) -> tuple[str, ...]:
    """owl:imports of ontologies no given file declares: never fetched, reported."""
    given = {str(s) for s in graph.subjects(RDF.type, OWL.Ontology)}
    given |= {str(v) for v in graph.objects(None, OWL.versionIRI)}
    wanted = {str(o) for o in graph.objects(None, OWL.imports) if isinstance(o, URIRef)}
    return tuple(sorted(i for i in wanted if i not in given and i.rstrip("#/") not in given))


def _closure(parents: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    result: dict[str, frozenset[str]] = {}

    def visit(node: str, seen: frozenset[str]) -> frozenset[str]:
        if node in result:
            return result[node]
        acc = {node}
        for parent in parents.get(node, ()):
            if parent not in seen:  # tolerate cycles (owl:equivalentClass written as two ways)
                acc |= visit(parent, seen | {node})
        result[node] = frozenset(acc)
        return result[node]

    for node in parents:
        visit(node, frozenset())
    return result


def _unique(what: str, pairs: list[tuple[str, str]]) -> None:
    owners: dict[str, str] = {}
    for iri, name in sorted(pairs):
        other = owners.setdefault(name, iri)
        if other != iri:
            raise VocabularyError(f"{what} {other} and {iri} would both be named {name!r}")
