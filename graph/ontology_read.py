"""The ontology as the graph holds it: the closed set of classes and relationship types.

Read from the ``(:Class)`` and ``(:Relationship)`` nodes a load writes. Every class name or
relationship type that reaches a query from outside is checked here first; an unknown one
raises an error that lists the valid choices. Labels and types then go to Cypher only as
parameters (``n:$(label)``, ``type(r) IN $types``), never as query text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import LiteralString

from kgtwin.graph.errors import UnknownClass, UnknownRelationship
from kgtwin.graph.reader import Reader

SUPPLIER_TO_CONSUMER = "SupplierToConsumer"
CONSUMER_TO_SUPPLIER = "ConsumerToSupplier"

READ_TERMS: LiteralString = """
MATCH (c:Class) WHERE NOT c:Twin
OPTIONAL MATCH (c)-[:SUBCLASS_OF]->(p:Class)
WITH c, collect(p.name) AS parents
RETURN 'class' AS kind, c {.iri, .name, .label, .comment} AS term, parents
UNION ALL
MATCH (r:Relationship) WHERE NOT r:Twin
OPTIONAL MATCH (r)-[:SUBPROPERTY_OF]->(p:Relationship)
WITH r, collect(p.type) AS parents
RETURN 'relationship' AS kind,
       r {.iri, .name, .type, .label, .comment, .dependencyDirection, .domain, .range,
          .asProperty, .means} AS term,
       parents
"""


@dataclass(frozen=True, slots=True)
class ClassTerm:
    iri: str
    name: str  # the Neo4j label
    label: str
    comment: str
    parents: tuple[str, ...]  # names


@dataclass(frozen=True, slots=True)
class RelationshipTerm:
    iri: str
    name: str
    type: str  # the Neo4j relationship type
    label: str
    comment: str
    direction: str | None  # SupplierToConsumer, ConsumerToSupplier, or None: no dependency
    domain: tuple[str, ...]
    range: tuple[str, ...]
    parents: tuple[str, ...]  # types
    as_property: bool = False  # values are ontology individuals, stored as a node property
    means: tuple[str, ...] = ()  # the types of kgtwin's it is aligned to (kgt:means)


@dataclass(frozen=True)
class Terms:
    """The classes (by name) and relationship types (by type) of the loaded ontology."""

    classes: Mapping[str, ClassTerm]
    relationships: Mapping[str, RelationshipTerm]

    def check_class(self, name: str) -> ClassTerm:
        term = self.classes.get(name)
        if term is None:
            raise UnknownClass(_unknown("class", name, self.classes))
        return term

    def check_relationships(self, types: Iterable[str]) -> tuple[str, ...]:
        """``types`` in order, without repeats, each checked against the ontology."""
        checked: list[str] = []
        for rel_type in types:
            term = self.relationships.get(rel_type)
            if term is None:
                raise UnknownRelationship(_unknown("relationship type", rel_type, self.edges))
            if term.as_property:
                raise UnknownRelationship(
                    f"{rel_type} is not an edge in the graph: its values (ontology individuals "
                    f"such as units) are stored as the node property {term.name!r}; valid "
                    f"choices: {', '.join(sorted(self.edges))}"
                )
            if rel_type not in checked:
                checked.append(rel_type)
        return tuple(checked)

    @cached_property
    def edges(self) -> dict[str, RelationshipTerm]:
        """The relationship types that are edges in the graph (not stored as properties)."""
        return {t: r for t, r in self.relationships.items() if not r.as_property}

    def types_meaning(self, rel_type: str) -> tuple[str, ...]:
        """The edge types that are ``rel_type`` or mean it (``brick:hasLocation kgt:means
        kgt:locatedIn``: ``HAS_LOCATION`` means ``LOCATED_IN``), sorted."""
        return tuple(
            sorted(t for t, r in self.edges.items() if t == rel_type or rel_type in r.means)
        )

    @cached_property
    def dependency_types(self) -> tuple[str, ...]:
        """The relationship types that carry a dependency direction, sorted."""
        return tuple(sorted(t for t, r in self.relationships.items() if r.direction))

    def reversed_types(self, types: Iterable[str]) -> frozenset[str]:
        """Of ``types``, those whose edge points from consumer to supplier (``dependsOn``):
        walking downstream (from supplier to consumer) follows them backwards."""
        return frozenset(
            t for t in types if self.relationships[t].direction == CONSUMER_TO_SUPPLIER
        )

    @cached_property
    def _depth(self) -> dict[str, int]:
        depth: dict[str, int] = {}

        def visit(name: str, seen: frozenset[str]) -> int:
            if name not in depth:
                parents = [p for p in self.classes[name].parents if p in self.classes]
                depth[name] = 1 + max(
                    (visit(p, seen | {name}) for p in parents if p not in seen), default=-1
                )
            return depth[name]

        for name in self.classes:
            visit(name, frozenset())
        return depth

    def most_specific_first(self, labels: Iterable[str]) -> list[ClassTerm]:
        """The classes among ``labels`` (other labels ignored), deepest in the hierarchy
        first, then by name."""
        known = {label for label in labels if label in self.classes}
        ordered = sorted(known, key=lambda name: (-self._depth[name], name))
        return [self.classes[name] for name in ordered]


def read_terms(reader: Reader) -> Terms:
    """One statement: every class and relationship type of the ontology in the graph."""
    classes: dict[str, ClassTerm] = {}
    relationships: dict[str, RelationshipTerm] = {}
    for row in reader.rows(READ_TERMS, "reading the ontology's classes and relationships"):
        term, parents = row["term"], tuple(sorted(row["parents"]))
        if row["kind"] == "class":
            classes[term["name"]] = ClassTerm(
                term["iri"], term["name"], term["label"] or "", term["comment"] or "", parents
            )
        else:
            relationships[term["type"]] = RelationshipTerm(
                iri=term["iri"],
                name=term["name"],
                type=term["type"],
                label=term["label"] or "",
                comment=term["comment"] or "",
                direction=term["dependencyDirection"],
                domain=tuple(term["domain"] or ()),
                range=tuple(term["range"] or ()),
                parents=parents,
                as_property=term["asProperty"] is True,
                means=tuple(term["means"] or ()),
            )
    return Terms(classes, relationships)


def _unknown(what: str, name: str, valid: Mapping[str, object]) -> str:
    if not valid:
        return f"unknown {what} {name!r}: the graph holds no ontology yet (load a model first)"
    close = difflib.get_close_matches(name, list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{hint}; valid choices: {', '.join(sorted(valid))}"
