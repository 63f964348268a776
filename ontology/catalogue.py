"""What each class may carry, read from the ontology and its SHACL shapes: enough for a client
to build forms and filters without reading Turtle.

A class's properties are those of the property shapes (``sh:property`` with an IRI
``sh:path``) of every node shape that targets the class or one of its superclasses. When
several shapes constrain one property their constraints are merged: the largest
``sh:minCount``, the smallest ``sh:maxCount``, the most specific class's ``sh:in``.
Nothing here lists domain terms, except the one rule the ontology states only in words:
a rated capacity or design load is in the asset's ``kgt:capacityUnit`` (:data:`UNIT_FROM`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kgtwin.ontology.namespaces import KGT, RDFS, SH, XSD
from kgtwin.ontology.vocabulary import PropertyInfo, Vocabulary, local_name

# Datatype properties whose unit is not fixed but held by another property of the node.
UNIT_FROM: Mapping[str, str] = {
    str(KGT.ratedCapacity): local_name(str(KGT.capacityUnit)),
    str(KGT.designLoad): local_name(str(KGT.capacityUnit)),
}

# Keys every twin node has besides its ontology properties (see ontology.mapping).
NODE_KEYS = ("id", "label", "comment")

_NUMERIC = frozenset({"decimal", "double", "float", "integer", "int", "long", "nonNegativeInteger"})


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One property a class may have, as its shapes (and the vocabulary) describe it."""

    iri: str
    name: str  # the node property key or the relationship's local name
    kind: str  # "datatype", "object" (a link or a unit-like individual), "annotation"
    label: str
    description: str
    datatype: str | None  # XSD local name for literals, e.g. "decimal"
    class_name: str | None  # sh:class / rdfs:range class of the values, local name
    values: tuple[str, ...]  # sh:in: the allowed values (local names for IRIs)
    min_count: int
    max_count: int | None
    unit: str | None  # fixed QUDT unit (local name) of the values
    unit_property: str | None  # or: the node property that holds their unit

    @property
    def numeric(self) -> bool:
        return self.datatype in _NUMERIC


@dataclass(frozen=True, slots=True)
class ClassSpec:
    iri: str
    name: str
    label: str
    comment: str
    parents: tuple[str, ...]  # names
    properties: tuple[PropertySpec, ...]  # by name


@dataclass(frozen=True, slots=True)
class RelationshipSpec:
    """An object property as a relationship type of the graph."""

    iri: str
    name: str
    type: str  # UPPER_SNAKE relationship type
    label: str
    comment: str
    direction: str | None  # dependency direction (inherited), None: structural only
    domain: tuple[str, ...]  # class names
    range: tuple[str, ...]
    parents: tuple[str, ...]  # relationship types


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every class with its allowed properties, the literal properties nodes can hold, and
    the relationship types."""

    classes: Mapping[str, ClassSpec]  # by name
    literals: Mapping[str, PropertySpec]  # node property keys a filter may use, by name
    relationships: Mapping[str, RelationshipSpec]  # by type

    def unit_of(self, name: str, props: Mapping[str, Any]) -> str | None:
        """The unit of property ``name`` on a node with ``props``, when there is one."""
        spec = self.literals.get(name)
        if spec is None:
            return None
        if spec.unit_property is not None:
            unit = props.get(spec.unit_property)
            return unit if isinstance(unit, str) else None
        return spec.unit

    @classmethod
    def build(cls, graph: Graph, vocabulary: Vocabulary) -> Catalogue:
        """From the merged ontology graph (vocabulary and shapes) and its vocabulary."""
        own = _shape_properties(graph, vocabulary)
        classes = {}
        for info in vocabulary.classes.values():
            merged: dict[str, PropertySpec] = {}
            # general classes first, so a subclass's shapes refine what its parents allow
            for ancestor in sorted(
                vocabulary.ancestors(info.iri), key=lambda c: len(vocabulary.ancestors(c))
            ):
                for spec in own.get(ancestor, ()):
                    merged[spec.iri] = _merge(merged.get(spec.iri), spec)
            classes[info.name] = ClassSpec(
                iri=info.iri,
                name=info.name,
                label=info.label,
                comment=info.comment,
                parents=tuple(sorted(vocabulary.classes[p].name for p in info.parents)),
                properties=tuple(sorted(merged.values(), key=lambda s: s.name)),
            )
        return cls(classes, _literals(vocabulary), _relationships(vocabulary))


def _shape_properties(graph: Graph, vocabulary: Vocabulary) -> dict[str, list[PropertySpec]]:
    """Class IRI -> the property shapes of the node shapes that target it directly."""
    found: dict[str, list[PropertySpec]] = {}
    for shape, target in graph.subject_objects(SH.targetClass):
        if not isinstance(target, URIRef):
            continue
        for prop_shape in graph.objects(shape, SH.property):
            path = graph.value(prop_shape, SH.path)
            if isinstance(path, URIRef):
                found.setdefault(str(target), []).append(_spec(graph, vocabulary, prop_shape, path))
    return found


def _spec(graph: Graph, vocabulary: Vocabulary, shape: Node, path: URIRef) -> PropertySpec:
    info = vocabulary.properties.get(str(path))
    datatype = graph.value(shape, SH.datatype)
    klass = graph.value(shape, SH["class"])
    members = graph.value(shape, SH["in"])
    min_count = graph.value(shape, SH.minCount)
    max_count = graph.value(shape, SH.maxCount)
    return PropertySpec(
        iri=str(path),
        name=info.name if info else local_name(str(path)),
        kind=info.kind if info else ("annotation" if path in (RDFS.label, RDFS.comment) else ""),
        label=(info.label if info else "") or _text(graph.value(shape, SH.name)),
        description=(info.comment if info else "") or _text(graph.value(shape, SH.description)),
        datatype=local_name(str(datatype))
        if datatype is not None
        else _range_datatype(info) or ("string" if path in (RDFS.label, RDFS.comment) else None),
        class_name=local_name(str(klass)) if klass is not None else _range_class(info),
        values=tuple(_value(v) for v in Collection(graph, members)) if members else (),
        min_count=int(min_count.toPython()) if isinstance(min_count, Literal) else 0,
        max_count=int(max_count.toPython()) if isinstance(max_count, Literal) else None,
        unit=local_name(info.unit) if info and info.unit else None,
        unit_property=UNIT_FROM.get(str(path)),
    )


def _merge(old: PropertySpec | None, new: PropertySpec) -> PropertySpec:
    if old is None:
        return new
    max_counts = [c for c in (old.max_count, new.max_count) if c is not None]
    return replace(
        old,
        datatype=new.datatype or old.datatype,
        class_name=new.class_name or old.class_name,
        values=new.values or old.values,
        min_count=max(old.min_count, new.min_count),
        max_count=min(max_counts) if max_counts else None,
    )


def _literals(vocabulary: Vocabulary) -> dict[str, PropertySpec]:
    """Node property keys: the fixed ones, datatype properties, and object properties whose
    values are ontology individuals (units, quantity kinds), stored as their local name."""
    specs = {
        name: PropertySpec(name, name, "annotation", name, "", "string", None, (), 0, 1, None, None)
        for name in NODE_KEYS
    }
    for info in vocabulary.properties.values():
        if vocabulary.is_key(info):
            specs[info.name] = PropertySpec(
                iri=info.iri,
                name=info.name,
                kind=info.kind,
                label=info.label,
                description=info.comment,
                datatype=_range_datatype(info) or ("string" if info.kind == "object" else None),
                class_name=_range_class(info),
                values=(),
                min_count=0,
                max_count=None,
                unit=local_name(info.unit) if info.unit else None,
                unit_property=UNIT_FROM.get(info.iri),
            )
    return specs


def _relationships(vocabulary: Vocabulary) -> dict[str, RelationshipSpec]:
    """Object properties linking subjects (not those whose values are individuals)."""
    literals = _literals(vocabulary)
    specs = {}
    for info in vocabulary.properties.values():
        if info.kind != "object" or info.name in literals:
            continue
        specs[info.rel_type] = RelationshipSpec(
            iri=info.iri,
            name=info.name,
            type=info.rel_type,
            label=info.label,
            comment=info.comment,
            direction=vocabulary.dependency_direction(info.iri),
            domain=tuple(local_name(d) for d in info.domain),
            range=tuple(local_name(r) for r in info.range),
            parents=tuple(
                sorted(
                    vocabulary.properties[p].rel_type
                    for p in info.parents
                    if p in vocabulary.properties
                )
            ),
        )
    return specs


def _range_datatype(info: PropertyInfo | None) -> str | None:
    if info is None:
        return None
    xsd = [r for r in info.range if r.startswith(str(XSD))]
    return local_name(xsd[0]) if xsd else None


def _range_class(info: PropertyInfo | None) -> str | None:
    if info is None or info.kind != "object":
        return None
    return local_name(info.range[0]) if info.range else None


def _value(node: Node) -> str:
    return local_name(str(node)) if isinstance(node, URIRef) else str(node)


def _text(node: Node | None) -> str:
    return str(node) if isinstance(node, Literal) else ""
