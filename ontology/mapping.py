"""RDF -> property graph: the pure half of a load.

A model's subjects become twin nodes labelled with their class and every superclass;
literal values become node properties; object values that name another subject of the
model become relationships typed ``UPPER_SNAKE`` after the ontology's object property;
object values that name an ontology individual (a QUDT unit, say) become a property holding
that individual's local name.

A blank node a subject describes (``ref:hasExternalReference [ a ref:TimeseriesReference ;
ref:hasTimeseriesId "..." ]``, ``brick:area [ brick:value 100 ]``) becomes a node of its own
with a stable IRI named after the path to it (``...#ahu1_hasExternalReference_1``), linked
like any other. Alignments (``kgt:means``, ``kgt:path``) add the kgtwin labels and keys the
engine reads; a node lists the ones added so in ``alignedLabels`` and ``alignedKeys``.
Statements in the live namespace (``kgtlive:``, written by ``kgtwin export --live``) are
not the model's and are skipped.
"""

from __future__ import annotations

import difflib
from collections import defaultdict, deque
from collections.abc import Collection, Iterable
from datetime import date, datetime, time
from decimal import Decimal

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kgtwin.graph.records import NodeRecord, PropertyGraph, RelRecord, Value
from kgtwin.ontology.files import Locator
from kgtwin.ontology.namespaces import ANNOTATIONS, LIVE, RDF
from kgtwin.ontology.naming import plain_name
from kgtwin.ontology.problems import Problem
from kgtwin.ontology.triples import Objects, TripleIndex
from kgtwin.ontology.vocabulary import PropertyInfo, Vocabulary, local_name

TWIN_LABEL = "Twin"
ONTOLOGY_MODEL = "ontology"
ALIGNED_LABELS = "alignedLabels"
ALIGNED_KEYS = "alignedKeys"
# Blank nodes inside blank nodes get IRIs to this depth (each level lengthens the IRI, so a
# hostile chain would otherwise cost memory quadratic in its length); deeper is a problem.
MAX_BLANK_NESTING = 8
# Values of literal terms converted once per term and shared by every node giving the term
# (a float from a decimal is a new object at each conversion, and a million-asset site gives
# a few ratings four million times); at most this many, so distinct values cost no more.
LITERAL_MEMO = 65_536


def map_model(
    data: TripleIndex,
    locator: Locator,
    vocabulary: Vocabulary,
    subjects: Collection[int] | None = None,
) -> tuple[PropertyGraph, list[Problem]]:
    """Map a model's triples to nodes and relationships, collecting every problem found.
    ``subjects``: the ids of the model's subjects, when ``data`` holds more (the
    ontology's statements); default: every subject in ``data``."""
    mapper = _Mapper(data, locator, vocabulary, data.spo if subjects is None else subjects)
    return mapper.run(), mapper.problems


def map_ontology(vocabulary: Vocabulary) -> PropertyGraph:
    """The ontology as ``(:Class)-[:SUBCLASS_OF]->(:Class)`` and ``(:Relationship)`` nodes."""
    nodes: dict[str, NodeRecord] = {}
    rels: set[RelRecord] = set()
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
        for key, meant in (
            ("means", vocabulary.engine_meaning(prop.iri)),
            ("meansInverse", vocabulary.engine_meaning_inverse(prop.iri)),
        ):
            if meant:
                props[key] = sorted(vocabulary.properties[m].rel_type for m in meant)
        if vocabulary.is_key(prop):  # stored as a node property, never as an edge
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
    def __init__(
        self, data: TripleIndex, locator: Locator, vocabulary: Vocabulary, subjects: Collection[int]
    ) -> None:
        self.data = data
        self.model_subjects = subjects
        self.locator = locator
        self.qname = locator.qname
        self.vocab = vocabulary
        self.rdf_type = data.intern(RDF.type)
        self.problems: list[Problem] = []
        self.skolem: dict[int, URIRef] = {}  # blank node id -> the IRI its node gets
        self.too_deep: set[int] = set()  # described blank nodes below MAX_BLANK_NESTING
        self.meant: dict[str, list[Value]] = defaultdict(list)  # keys alignments give a node
        self.names: dict[int, str] = {}  # subject id -> its IRI (see run)
        self.label_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        # one string per individual and literal value, shared by every node that has it
        # (not one made per use: a million assets give a few units a million times)
        self.individuals: dict[int, str] = {}  # term id -> the individual's local name
        self.literals: dict[int, Value | None] = {}  # term id -> value (LITERAL_MEMO)
        # property -> the kgtwin key properties it means (brick:hasUnit -> kgt:unit)
        self.key_meanings: dict[str, list[PropertyInfo]] = {}
        # each path alignment as (its property's key, its steps' term ids; None: a step
        # this model never uses, so the path reaches nothing)
        self.paths = [
            (
                vocabulary.properties[alignment.means].name,
                [data.find(URIRef(step)) for step in alignment.path],
            )
            for alignment in vocabulary.paths
        ]

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
        named = {s for s in self.model_subjects if isinstance(terms[s], URIRef)}
        self.skolemize(named)
        subjects = named | self.skolem.keys() if self.skolem else named
        for s in self.model_subjects:
            if isinstance(terms[s], BNode) and s not in self.skolem:
                self.problem(
                    terms[s],
                    None,
                    f"blank nodes nest more than {MAX_BLANK_NESTING} deep here; give this "
                    "one an IRI"
                    if s in self.too_deep
                    else "a blank node no subject of the model describes; give it an IRI",
                    "blank-node",
                )

        # each subject's IRI as one string, shared by its node and every relationship to
        # or from it (a million-asset site has three million relationships)
        self.names = {i: str(self.iri(i)) for i in subjects}
        nodes: dict[str, NodeRecord] = {}
        rels: set[RelRecord] = set()
        ids: dict[str, str] = {}
        for subject_id in sorted(subjects, key=self.names.__getitem__):
            subject = self.iri(subject_id)
            record = self.node(subject_id, self.data.spo[subject_id], rels)
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
        return PropertyGraph(nodes, rels)

    def iri(self, term_id: int) -> URIRef:
        """The IRI of a subject: its own, or the one its blank node was given."""
        term = self.skolem.get(term_id) or self.data.terms[term_id]
        assert isinstance(term, URIRef)
        return term

    def skolemize(self, named: set[int]) -> None:
        """Give every blank node a named subject describes (directly or through other blank
        nodes, at most :data:`MAX_BLANK_NESTING` deep) an IRI: the describing subject's IRI,
        ``_``, the property's local name, ``_`` and its rank among that property's blank
        values (ordered by what they say). A model without blank nodes costs one pass over
        its subjects."""
        terms, spo = self.data.terms, self.data.spo
        described = {s for s in self.model_subjects if isinstance(terms[s], BNode)}
        if not described:
            return
        parents = sorted(
            (
                s
                for s in named
                if any(o in described for objects in spo[s].values() for o in objects)
            ),
            key=lambda i: str(terms[i]),
        )
        taken = {str(terms[s]) for s in named}
        queue = deque((parent, 0) for parent in parents)
        while queue:
            parent, depth = queue.popleft()
            base = str(self.iri(parent))
            for p_id in sorted(spo[parent], key=lambda i: str(terms[i])):
                blanks = [o for o in spo[parent][p_id] if o in described and o not in self.skolem]
                if depth == MAX_BLANK_NESTING:
                    self.too_deep.update(blanks)
                    continue
                blanks.sort(key=self.signature)
                for rank, blank in enumerate(blanks, start=1):
                    iri = f"{base}_{plain_name(local_name(str(terms[p_id])))}_{rank}"
                    while iri in taken:
                        iri += "_"
                    taken.add(iri)
                    self.skolem[blank] = URIRef(iri)
                    queue.append((blank, depth + 1))

    def signature(self, blank: int) -> list[tuple[str, str]]:
        terms = self.data.terms
        return sorted(
            (str(terms[p]), "" if isinstance(terms[o], BNode) else str(terms[o]))
            for p, objects in self.data.spo.get(blank, {}).items()
            for o in objects
        )

    def node(
        self,
        subject_id: int,
        pairs: dict[int, Objects],
        rels: set[RelRecord],
    ) -> NodeRecord | None:
        terms = self.data.terms
        subject = self.iri(subject_id)
        name = self.names[subject_id]
        described = subject_id in self.skolem
        types = [str(terms[o]) for o in pairs.get(self.rdf_type, ())]
        if not types and not described:
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
                self.value(subject, name, p, o_id, values, rels)
        self.align_paths(subject_id)
        aligned_keys = {key for key in self.meant if key not in values}
        for key in aligned_keys:
            values[key] = self.meant[key]
        self.meant = defaultdict(list)
        props: dict[str, Value] = {"iri": name, "id": local_name(name)}
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
        if aligned_keys:
            props[ALIGNED_KEYS] = sorted(aligned_keys)
        aligned_labels = self.vocab.aligned_labels(types)
        if aligned_labels:
            props[ALIGNED_LABELS] = list(aligned_labels)
        return NodeRecord(name, self.labels(types, aligned_labels), props)

    def labels(self, types: list[str], aligned: Iterable[str]) -> tuple[str, ...]:
        """A node's labels; nodes of the same classes share one tuple."""
        key = (*types, "", *aligned)
        found = self.label_sets.get(key)
        if found is None:
            found = self.label_sets[key] = (
                TWIN_LABEL,
                *sorted({*self.vocab.labels_for(types), *aligned}),
            )
        return found

    def literal_value(self, term_id: int, literal: Literal) -> Value | None:
        """:func:`to_neo4j_value` of the literal term ``term_id``, memoized (LITERAL_MEMO)."""
        if term_id in self.literals:
            return self.literals[term_id]
        value = to_neo4j_value(literal)
        if len(self.literals) < LITERAL_MEMO:
            self.literals[term_id] = value
        return value

    def align_paths(self, subject_id: int) -> None:
        """Values the vocabulary's path alignments reach from the subject, as meant keys."""
        spo, terms = self.data.spo, self.data.terms
        for key, steps in self.paths:
            reached = [subject_id]
            for step_id in steps:
                if step_id is None:
                    reached = []
                    break
                reached = [o for s in reached for o in spo.get(s, {}).get(step_id, ())]
            for term in map(terms.__getitem__, reached):
                value = to_neo4j_value(term) if isinstance(term, Literal) else None
                if value is not None:
                    self.meant[key].append(value)

    def meant_keys(self, prop: PropertyInfo) -> list[PropertyInfo]:
        """The kgtwin properties holding a value that ``prop`` means (not itself)."""
        found = self.key_meanings.get(prop.iri)
        if found is None:
            found = self.key_meanings[prop.iri] = [
                self.vocab.properties[m]
                for m in sorted(self.vocab.engine_meaning(prop.iri))
                if m != prop.iri and self.vocab.is_key(self.vocab.properties[m])
            ]
        return found

    def value(
        self,
        subject: URIRef,
        name: str,
        p: Node,
        o_id: int,
        values: dict[str, list[Value]],
        rels: set[RelRecord],
    ) -> None:
        """Record one statement about ``subject``: a property value, a relationship, or a
        problem. ``name`` is the subject's IRI as :attr:`names` holds it."""
        o = self.skolem.get(o_id) or self.data.terms[o_id]
        if p in ANNOTATIONS:
            if isinstance(o, Literal):
                key = local_name(str(p))
                if key not in values:
                    # a plain literal's value is the string it was read as: no copy
                    values[key].append(o.value if o.datatype is None else str(o))
            return
        prop = self.vocab.properties.get(str(p))
        if prop is None:
            if str(p).startswith(LIVE):  # no ontology property is in the live namespace
                return
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
            value = self.literal_value(o_id, o)
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
            for meant in self.meant_keys(prop):
                self.meant[meant.name].append(value)
        elif isinstance(o, URIRef):
            target = self.names.get(o_id)
            if target is not None:
                if prop.kind == "object":
                    rels.add(RelRecord(name, prop.rel_type, target))
                else:
                    self.problem(
                        subject,
                        p,
                        "expects a literal value, but names a subject",
                        "link-for-literal",
                        found=self.qname(o),
                    )
            elif str(o) in self.vocab.individuals:
                individual = self.individuals.get(o_id)
                if individual is None:
                    individual = self.individuals[o_id] = local_name(str(o))
                values[prop.name].append(individual)
                for meant in self.meant_keys(prop):
                    self.meant[meant.name].append(individual)
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
