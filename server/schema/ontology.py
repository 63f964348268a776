"""GraphQL types of the ontology: classes with the properties their shapes allow, and the
relationship types. Built from the ontology files at start-up (:class:`Catalogue`)."""

from __future__ import annotations

import strawberry

from kgtwin.ontology.catalogue import Catalogue, ClassSpec, PropertySpec, RelationshipSpec
from kgtwin.server.schema.context import GraphInfo, services


@strawberry.type(description="A property a class may have, as its SHACL shapes allow it.")
class PropertyShape:
    iri: str
    name: str = strawberry.field(description="The node property key (or relationship name).")
    kind: str = strawberry.field(description="datatype, object or annotation.")
    label: str
    description: str
    datatype: str | None = strawberry.field(description="XSD datatype of literal values.")
    value_class: str | None = strawberry.field(description="Class of the values (sh:class).")
    values: list[str] = strawberry.field(description="Allowed values (sh:in), if limited.")
    min_count: int
    max_count: int | None
    unit: str | None = strawberry.field(description="Fixed QUDT unit of the values.")
    unit_property: str | None = strawberry.field(
        description="The node property that holds the unit (e.g. capacityUnit)."
    )

    @classmethod
    def of(cls, spec: PropertySpec) -> PropertyShape:
        return cls(
            iri=spec.iri,
            name=spec.name,
            kind=spec.kind,
            label=spec.label,
            description=spec.description,
            datatype=spec.datatype,
            value_class=spec.class_name,
            values=list(spec.values),
            min_count=spec.min_count,
            max_count=spec.max_count,
            unit=spec.unit,
            unit_property=spec.unit_property,
        )


@strawberry.type(description="A class of the ontology; its name is the Neo4j label.")
class OntologyClass:
    iri: str
    name: str
    label: str
    comment: str
    parents: list[str] = strawberry.field(description="Names of the direct superclasses.")

    @strawberry.field(
        description="The properties the shapes of this class (and its superclasses) allow, by name."
    )
    def properties(self, info: GraphInfo) -> list[PropertyShape]:
        spec = services(info).catalogue.classes.get(self.name)
        return [PropertyShape.of(p) for p in spec.properties] if spec else []

    @classmethod
    def of(cls, spec: ClassSpec) -> OntologyClass:
        return cls(
            iri=spec.iri,
            name=spec.name,
            label=spec.label,
            comment=spec.comment,
            parents=list(spec.parents),
        )


@strawberry.type(description="An object property as a relationship type of the graph.")
class RelationshipType:
    iri: str
    name: str
    type: str = strawberry.field(description="The Neo4j relationship type, e.g. FEEDS.")
    label: str
    comment: str
    dependency_direction: str | None = strawberry.field(
        description="SupplierToConsumer (the object depends on the subject), "
        "ConsumerToSupplier (the subject depends on the object), or null: structural only."
    )
    domain: list[str]
    range: list[str]
    parents: list[str] = strawberry.field(description="Types of the super-properties.")

    @classmethod
    def of(cls, spec: RelationshipSpec) -> RelationshipType:
        return cls(
            iri=spec.iri,
            name=spec.name,
            type=spec.type,
            label=spec.label,
            comment=spec.comment,
            dependency_direction=spec.direction,
            domain=list(spec.domain),
            range=list(spec.range),
            parents=list(spec.parents),
        )


@strawberry.type(description="The ontology: classes and relationship types.")
class Ontology:
    catalogue: strawberry.Private[Catalogue]

    @strawberry.field(description="Every class, by name.")
    def classes(self) -> list[OntologyClass]:
        return [OntologyClass.of(self.catalogue.classes[n]) for n in sorted(self.catalogue.classes)]

    @strawberry.field(name="class", description="One class by name, or null.")
    def class_(self, name: str) -> OntologyClass | None:
        spec = self.catalogue.classes.get(name)
        return OntologyClass.of(spec) if spec else None

    @strawberry.field(description="Every relationship type, by type.")
    def relationship_types(self) -> list[RelationshipType]:
        return [
            RelationshipType.of(self.catalogue.relationships[t])
            for t in sorted(self.catalogue.relationships)
        ]

    @strawberry.field(description="The node properties `assets(where:)` can filter on.")
    def properties(self) -> list[PropertyShape]:
        return [
            PropertyShape.of(self.catalogue.literals[n]) for n in sorted(self.catalogue.literals)
        ]
