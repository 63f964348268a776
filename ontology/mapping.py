"""RDF -> property graph: the pure half of a load.

A model's subjects become twin nodes labelled with their class and every superclass;
literal values become node properties; object values that name another subject of the
model become relationships typed ``UPPER_SNAKE`` after the ontology's object property;
object values that name an ontology individual (a QUDT unit, say) become a property holding
that individual's local name.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kgtwin.graph.records import NodeRecord, PropertyGraph, RelRecord, Value
from kgtwin.ontology.files import Locator
from kgtwin.ontology.namespaces import ANNOTATIONS, RDF
from kgtwin.ontology.problems import Problem
from kgtwin.ontology.triples import TripleIndex
from kgtwin.ontology.vocabulary import Vocabulary, local_name

TWIN_LABEL = "Twin"
ONTOLOGY_MODEL = "ontology"


def map_model(
    data: TripleIndex, locator: Locator, vocabulary: Vocabulary
) -> tuple[PropertyGraph, list[Problem]]:
    """Map a model's triples to nodes and relationships, collecting every problem found."""
    mapper = _Mapper(data, locator, vocabulary)
    return mapper.run(), mapper.problems


def map_ontology(vocabulary: Vocabulary) -> PropertyGraph:
    """The ontology as ``(:Class)-[:SUBCLASS_OF]->(:Class)`` and ``(:Relationship)`` nodes."""
    nodes: dict[str, NodeRecord] = {}
    rels: set[RelRecord] = set()
    # classes of the ontology's individuals (units, quantity kinds): a property ranging over
    # them is stored as a node property holding the individual's name, never as an edge
    individual_classes = frozenset().union(*vocabulary.individuals.values())
    for info in vocabulary.classes.values():
        nodes[info.iri] = NodeRecord(
            info.iri,
            ("Class", "OntologyTerm"),
            {"iri": info.iri, "name": info.name, "label": info.label, "comment": info.comment},
        )
        rels.update(RelRecord(info.iri, "SUBCLASS_OF", parent) for parent in info.parents)
    for prop in vocabulary.properties.values():
        if prop.kind != "object":
            continue
        props: dict[str, Value] = {
            "iri": prop.iri,
            "name": prop.name,
            "type": prop.rel_type,
            "label": prop.label,
            "comment": prop.comment,
            "domain": [local_name(d) for d in prop.domain],
            "range": [local_name(r) for r in prop.range],
        }
        direction = vocabulary.dependency_direction(prop.iri)
        if direction is not None:
            props["dependencyDirection"] = direction
        if prop.range and all(r in individual_classes for r in prop.range):
            props["asProperty"] = True
        nodes[prop.iri] = NodeRecord(prop.iri, ("OntologyTerm", "Relationship"), props)
        rels.update(RelRecord(prop.iri, "SUBPROPERTY_OF", parent) for parent in prop.parents)
    return PropertyGraph(nodes, frozenset(r for r in rels if r.target in nodes))


def to_neo4j_value(literal: Literal) -> Value | None:
    """A literal as a Neo4j property value, or None if it is ill-typed for its datatype."""
    if literal.ill_typed:
        return None
    value = literal.toPython()
    if isinstance(value, bool | int | str | datetime | date | time):
        return value
    if isinstance(value, float | Decimal):
        return float(value)
    return str(literal)


class _Mapper:
    def __init__(self, data: TripleIndex, locator: Locator, vocabulary: Vocabulary) -> None:
        self.data = data
        self.locator = locator
        self.qname = locator.qname
        self.vocab = vocabulary
        self.rdf_type = data.intern(RDF.type)
        self.problems: list[Problem] = []

    def problem(
        self,
        subject: Node,
        prop: Node | None,
        message: str,
        kind: str,
        *,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.problems.append(
            Problem(
                file=self.locator.file(subject),
                line=self.locator.line(subject),
                subject=self.qname(subject),
                property=self.qname(prop) if prop is not None else None,
                message=message,
                kind=kind,
                expected=expected,
                found=found,
            )
        )

    def run(self) -> PropertyGraph:
        terms = self.data.terms
        subjects = {s for s in self.data.spo if isinstance(terms[s], URIRef)}
        for s in self.data.spo:
            if isinstance(terms[s], BNode):
                self.problem(
                    terms[s],
                    None,
                    "blank nodes are not supported as subjects; give it an IRI",
                    "blank-node",
                )

        nodes: dict[str, NodeRecord] = {}
        rels: set[RelRecord] = set()
        ids: dict[str, str] = {}
        for subject_id in sorted(subjects, key=lambda i: str(terms[i])):
            subject = terms[subject_id]
            assert isinstance(subject, URIRef)
            record = self.node(subject, self.data.spo[subject_id], subjects, rels)
            if record is None:
                continue
            other = ids.setdefault(str(record.props["id"]), record.iri)
            if other != record.iri:
                self.problem(
                    subject,
                    None,
                    f"shares its local name {record.props['id']!r} with "
                    f"{self.qname(URIRef(other))}; ids must be unique within a model",
                    "duplicate-id",
                )
            nodes[record.iri] = record
        return PropertyGraph(nodes, frozenset(rels))

    def node(
        self,
        subject: URIRef,
        pairs: dict[int, list[int]],
        subjects: set[int],
        rels: set[RelRecord],
    ) -> NodeRecord | None:
        terms = self.data.terms
        types = [str(terms[o]) for o in pairs.get(self.rdf_type, ())]
        if not types:
            self.problem(
                subject, None, "has no class; add `a <Class>` (e.g. `a kgt:Asset`)", "no-class"
            )
            return None
        for t in types:
            if t not in self.vocab.classes:
                self.problem(
                    subject,
                    RDF.type,
                    f"{self.qname(URIRef(t))} is not a class of the ontology"
                    + _suggest(local_name(t), (c.name for c in self.vocab.classes.values())),
                    "unknown-class",
                    found=self.qname(URIRef(t)),
                )
        values: dict[str, list[Value]] = defaultdict(list)
        for p_id, objects in pairs.items():
            if p_id == self.rdf_type:
                continue
            p = terms[p_id]
            for o_id in objects:
                self.value(subject, p, o_id, subjects, values, rels)
        props: dict[str, Value] = {"iri": str(subject), "id": local_name(str(subject))}
        for key, vals in values.items():
            if len(vals) == 1:
                props[key] = vals[0]
            elif len({type(v) for v in vals}) > 1:
                self.problem(
                    subject,
                    None,
                    f"{key} has values of different types; give it one type",
                    "mixed-types",
                    found=", ".join(map(str, vals)),
                )
            else:
                props[key] = sorted(vals)
        return NodeRecord(str(subject), (TWIN_LABEL, *self.vocab.labels_for(types)), props)

    def value(
        self,
        subject: URIRef,
        p: Node,
        o_id: int,
        subjects: set[int],
        values: dict[str, list[Value]],
        rels: set[RelRecord],
    ) -> None:
        """Record one statement about ``subject``: a property value, a relationship, or a
        problem."""
        o = self.data.terms[o_id]
        if p in ANNOTATIONS:
            if isinstance(o, Literal):
                key = local_name(str(p))
                if key not in values:
                    values[key].append(str(o))
            return
        prop = self.vocab.properties.get(str(p))
        if prop is None:
            self.problem(
                subject,
                p,
                "is not a property of the ontology"
                + _suggest(local_name(str(p)), (x.name for x in self.vocab.properties.values())),
                "unknown-property",
            )
            return
        if isinstance(o, Literal):
            if prop.kind == "object":
                self.problem(
                    subject,
                    p,
                    "links to other subjects, but was given a literal",
                    "literal-for-link",
                    expected="an IRI",
                    found=f'"{o}"',
                )
                return
            value = to_neo4j_value(o)
            if value is None:
                self.problem(
                    subject,
                    p,
                    "value does not fit its datatype",
                    "ill-typed",
                    expected=self.qname(o.datatype) if o.datatype else None,
                    found=f'"{o}"',
                )
                return
            values[prop.name].append(value)
        elif isinstance(o, URIRef):
            if o_id in subjects:
                if prop.kind == "object":
                    rels.add(RelRecord(str(subject), prop.rel_type, str(o)))
                else:
                    self.problem(
                        subject,
                        p,
                        "expects a literal value, but names a subject",
                        "link-for-literal",
                        found=self.qname(o),
                    )
            elif str(o) in self.vocab.individuals:
                values[prop.name].append(local_name(str(o)))
            else:
                self.problem(
                    subject,
                    p,
                    f"refers to {self.qname(o)}, which is neither a subject of "
                    "this model nor an individual of the ontology (a typo, or a missing file?)",
                    "dangling-reference",
                    found=self.qname(o),
                )


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
