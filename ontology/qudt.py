"""QUDT units and quantity kinds as the ontology's triples declare them: each unit's
symbol, quantity kinds and factors to SI, each kind's dimension. A unit the ontology gets
wrong is refused (``VocabularyError``) with the unit and the property named."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from rdflib import Literal, URIRef
from rdflib.term import Node

from kgtwin.ontology.errors import VocabularyError
from kgtwin.ontology.namespaces import QUDT, RDF
from kgtwin.ontology.pint_parsing import BASE, Dimension
from kgtwin.ontology.triples import Triple
from kgtwin.ontology.vocabulary import local_name

_QKDV = re.compile(
    r"A(?P<A>-?\d+(?:dot\d+)?)E(?P<E>-?\d+(?:dot\d+)?)L(?P<L>-?\d+(?:dot\d+)?)"
    r"I(?P<I>-?\d+(?:dot\d+)?)M(?P<M>-?\d+(?:dot\d+)?)H(?P<H>-?\d+(?:dot\d+)?)"
    r"T(?P<T>-?\d+(?:dot\d+)?)D\d+"
)
"""A QUDT dimension vector's local name: the exponent of each base dimension."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit: ``qudt`` is its local name in the ontology, or None for a unit only pint
    knows (its ``kinds`` then come from its dimension); ``symbol`` is how errors write it.

    In SI, a value is ``value * multiplier + offset``; ``multiplier`` is None when that is
    not known (``note`` says why), and the unit converts to nothing but itself. A unit is
    identified by its name, symbol and kinds: its factors are left out of ``==`` and
    ``hash`` (cheap on the per-message path).
    """

    qudt: str | None
    symbol: str
    kinds: frozenset[str]
    multiplier: Fraction | None = field(default=None, compare=False)
    offset: Fraction = field(default=Fraction(0), compare=False)
    note: str = field(default="", compare=False)

    def describe(self) -> str:
        """``kW (unit:KiloW, Power)``: the unit as an error message names it."""
        kinds = ", ".join(sorted(self.kinds)) or "no quantity kind kgtwin knows"
        name = f"unit:{self.qudt}" if self.qudt else "a pint unit"
        return f"{self.symbol} ({name}, {kinds})"


_READ = frozenset(
    {
        RDF.type,
        QUDT.symbol,
        QUDT.hasQuantityKind,
        QUDT.conversionMultiplier,
        QUDT.conversionOffset,
        QUDT.hasDimensionVector,
    }
)


def read_units(
    triples: Iterable[Triple],
) -> tuple[list[Unit], dict[str, Unit], dict[str, Dimension]]:
    """The units (with their IRIs) and the quantity kinds' dimensions in ``triples``."""
    about: dict[Node, dict[Node, list[Node]]] = {}
    for subject, predicate, value in triples:
        if predicate in _READ:
            about.setdefault(subject, {}).setdefault(predicate, []).append(value)
    dimensions = {}
    for subject, facts in about.items():
        vectors = facts.get(QUDT.hasDimensionVector, [])
        if len(vectors) > 1:
            raise VocabularyError(
                f"quantitykind:{local_name(str(subject))} has {len(vectors)} "
                "qudt:hasDimensionVector values; give it one"
            )
        for vector in vectors:
            dimensions[local_name(str(subject))] = _qudt_dimension(subject, vector)
    units: list[Unit] = []
    iris: dict[str, Unit] = {}
    for subject, facts in about.items():
        if isinstance(subject, URIRef) and QUDT.Unit in facts.get(RDF.type, ()):
            unit = _unit(subject, facts)
            iris[str(subject)] = unit
            units.append(unit)
    _unique("local name", [(u.qudt or "", iri) for iri, u in iris.items()])
    _unique("symbol", [(u.symbol, f"unit:{u.qudt}") for u in units])
    return units, iris, dimensions


def _unit(subject: URIRef, facts: Mapping[Node, list[Node]]) -> Unit:
    name = local_name(str(subject))
    symbols = [str(s) for s in facts.get(QUDT.symbol, ()) if isinstance(s, Literal)]
    if len(symbols) > 1:
        raise VocabularyError(f"unit:{name} has {len(symbols)} qudt:symbol values; give it one")
    multiplier = _number(name, facts, QUDT.conversionMultiplier)
    if multiplier == 0:
        raise VocabularyError(f"unit:{name}: its qudt:conversionMultiplier must not be 0")
    offset = _number(name, facts, QUDT.conversionOffset)
    return Unit(
        qudt=name,
        symbol=symbols[0] if symbols else name,
        kinds=frozenset(local_name(str(k)) for k in facts.get(QUDT.hasQuantityKind, ())),
        multiplier=multiplier,
        offset=offset or Fraction(0),
        note="" if multiplier else f"ontology/core/units.ttl gives unit:{name} no conversion",
    )


def _number(name: str, facts: Mapping[Node, list[Node]], predicate: URIRef) -> Fraction | None:
    values = facts.get(predicate, [])
    if not values:
        return None
    if len(values) > 1:
        raise VocabularyError(f"unit:{name} has {len(values)} {_qname(predicate)} values")
    try:
        return Fraction(str(values[0]))
    except (ValueError, ZeroDivisionError):
        raise VocabularyError(
            f"unit:{name}: {_qname(predicate)} {str(values[0])!r} is not a decimal number "
            "(write e.g. 1000.0)"
        ) from None


def _qname(predicate: URIRef) -> str:
    return f"qudt:{local_name(str(predicate))}"


def _unique(what: str, pairs: Sequence[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for key, owner in pairs:
        if key in seen:
            raise VocabularyError(
                f"{seen[key]} and {owner} have the same {what} {key!r}: a message naming it "
                "would be ambiguous; give one of them another"
            )
        seen[key] = owner


def _qudt_dimension(kind: Node, vector: Node) -> Dimension:
    """The dimension a QUDT dimension vector's name spells (qkdv:A0E0L2I0M1H0T-3D0)."""
    match = _QKDV.fullmatch(local_name(str(vector)))
    if match is None:
        raise VocabularyError(
            f"quantitykind:{local_name(str(kind))}: {vector} is not a QUDT dimension vector "
            "name such as qkdv:A0E0L2I0M1H0T-3D0"
        )
    exponents = {
        BASE[letter][0]: Fraction(text.replace("dot", "."))
        for letter, text in match.groupdict().items()
    }
    return tuple(sorted((k, e) for k, e in exponents.items() if e))


def dimension_of_unit(unit: Unit, dimensions: Mapping[str, Dimension]) -> Dimension | None:
    """The dimension of ``unit``'s kinds, when they have one and agree."""
    found = {dimensions[k] for k in unit.kinds if k in dimensions}
    return found.pop() if len(found) == 1 else None
