"""The ontology as the graph needs it: classes with their hierarchy, properties with their
kinds, relationship types and dependency direction. Built from whatever RDFS/OWL the
ontology files declare; nothing here lists domain terms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef

from kgtwin.graph.labels import SYSTEM_LABELS, SYSTEM_TYPES
from kgtwin.ontology.errors import VocabularyError
from kgtwin.ontology.namespaces import KGT, OWL, QUDT, RDF, RDFS, RESERVED_KEYS

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def local_name(iri: str) -> str:
    """``https://w3id.org/kgtwin/core#feeds`` -> ``feeds``; ``.../unit/KiloW`` -> ``KiloW``."""
    for separator in ("#", "/", ":"):
        _, sep, tail = iri.rpartition(separator)
        if sep and tail:
            return tail
    return iri


def relationship_type(name: str) -> str:
    """``hasPoint`` -> ``HAS_POINT``; ``suppliesChilledWater`` -> ``SUPPLIES_CHILLED_WATER``."""
    return _CAMEL.sub("_", name).replace("-", "_").upper()


@dataclass(frozen=True, slots=True)
class ClassInfo:
    iri: str
    name: str  # the Neo4j label
    label: str
    comment: str
    parents: tuple[str, ...]


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

    @property
    def rel_type(self) -> str:
        return relationship_type(self.name)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    classes: dict[str, ClassInfo]
    properties: dict[str, PropertyInfo]
    individuals: dict[str, frozenset[str]]  # ontology individuals (units...) -> their classes
    class_closure: dict[str, frozenset[str]]  # class -> itself and every superclass
    property_closure: dict[str, frozenset[str]]  # property -> itself and every super-property

    @classmethod
    def from_graph(cls, graph: Graph) -> Vocabulary:
        classes = _classes(graph)
        properties = _properties(graph)
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
            _closure({iri: info.parents for iri, info in properties.items()}),
        )
        vocabulary.check()
        return vocabulary

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

    def dependency_direction(self, property_iri: str) -> str | None:
        for iri in self.property_ancestors(property_iri):
            info = self.properties.get(iri)
            if info is not None and info.dependency is not None:
                return info.dependency
        return None

    def check(self) -> None:
        """Refuse an ontology the property graph cannot represent unambiguously."""
        _unique("class", [(c.iri, c.name) for c in self.classes.values()])
        _unique(
            "property",
            [(p.iri, p.name) for p in self.properties.values() if p.kind != "annotation"],
        )
        for info in self.classes.values():
            if not _NAME.match(info.name):
                raise VocabularyError(
                    f"class {info.iri}: its local name {info.name!r} cannot be a Neo4j label; "
                    "use letters, digits and underscores, starting with a letter"
                )
            if info.name in SYSTEM_LABELS:
                raise VocabularyError(
                    f"class {info.iri}: its label {info.name!r} is reserved by kgtwin for its "
                    f"own nodes ({', '.join(sorted(SYSTEM_LABELS))}); rename the class"
                )
        for prop in self.properties.values():
            if not _NAME.match(prop.name):
                raise VocabularyError(
                    f"property {prop.iri}: local name {prop.name!r} is not a valid identifier"
                )
            if prop.kind == "object" and prop.rel_type in SYSTEM_TYPES:
                raise VocabularyError(
                    f"property {prop.iri}: its relationship type {prop.rel_type!r} is reserved "
                    f"by kgtwin ({', '.join(sorted(SYSTEM_TYPES))}); rename the property"
                )
            if prop.kind == "datatype" and prop.name in RESERVED_KEYS:
                raise VocabularyError(
                    f"property {prop.iri}: the name {prop.name!r} is reserved by the graph "
                    f"({', '.join(sorted(RESERVED_KEYS))}); rename the property"
                )


def _text(graph: Graph, subject: URIRef, predicate: URIRef) -> str:
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
    for value in values:
        if value.language in (None, "en"):
            return str(value)
    return str(values[0]) if values else ""


def _iris(graph: Graph, subject: URIRef, predicate: URIRef) -> tuple[str, ...]:
    return tuple(sorted(str(o) for o in graph.objects(subject, predicate) if isinstance(o, URIRef)))


def _classes(graph: Graph) -> dict[str, ClassInfo]:
    iris: set[URIRef] = set()
    for kind in (OWL.Class, RDFS.Class):
        iris.update(s for s in graph.subjects(RDF.type, kind) if isinstance(s, URIRef))
    for sub, sup in graph.subject_objects(RDFS.subClassOf):
        iris.update(x for x in (sub, sup) if isinstance(x, URIRef))
    iris -= {OWL.Thing, RDFS.Resource, OWL.Class, RDFS.Class}
    names = {str(iri) for iri in iris}
    return {
        str(iri): ClassInfo(
            iri=str(iri),
            name=local_name(str(iri)),
            label=_text(graph, iri, RDFS.label),
            comment=_text(graph, iri, RDFS.comment),
            parents=tuple(p for p in _iris(graph, iri, RDFS.subClassOf) if p in names),
        )
        for iri in iris
    }


def _properties(graph: Graph) -> dict[str, PropertyInfo]:
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
    properties = {}
    for iri, kind in found.items():
        direction = graph.value(iri, KGT.dependencyDirection)
        unit = graph.value(iri, QUDT.unit)
        properties[str(iri)] = PropertyInfo(
            iri=str(iri),
            name=local_name(str(iri)),
            kind=kind,
            label=_text(graph, iri, RDFS.label),
            comment=_text(graph, iri, RDFS.comment),
            domain=_iris(graph, iri, RDFS.domain),
            range=_iris(graph, iri, RDFS.range),
            parents=tuple(p for p in _iris(graph, iri, RDFS.subPropertyOf) if URIRef(p) in found),
            unit=str(unit) if isinstance(unit, URIRef) else None,
            dependency=local_name(str(direction)) if isinstance(direction, URIRef) else None,
        )
    return properties


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
            raise VocabularyError(
                f"{what}es {other} and {iri} share the local name {name!r}; in the graph they "
                "would be the same label or key. Rename one of them."
                if what == "class"
                else f"properties {other} and {iri} share the local name {name!r}; rename one"
            )
