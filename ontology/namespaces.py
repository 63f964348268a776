"""Every IRI and namespace the Python code names, in one place."""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

KGT = Namespace("https://w3id.org/kgtwin/core#")
QUDT = Namespace("http://qudt.org/schema/qudt/")
UNIT = Namespace("http://qudt.org/vocab/unit/")
# Live state (value, observedAt, ...) in an export; a model's mapper ignores it on reload.
KGTLIVE = Namespace("https://w3id.org/kgtwin/live#")

# Properties a model file may use on any subject besides the ontology's own.
ANNOTATIONS = frozenset({RDFS.label, RDFS.comment, RDFS.seeAlso})

# Node property keys the graph owns; an ontology may not define properties with these names.
RESERVED_KEYS = frozenset(
    {
        "iri",
        "id",
        "model",
        "modelKeys",
        "label",
        "comment",
        "value",
        "observedAt",
        "receivedAt",
        "quality",
        "stale",
    }
)

__all__ = [
    "ANNOTATIONS",
    "KGT",
    "KGTLIVE",
    "OWL",
    "QUDT",
    "RDF",
    "RDFS",
    "RESERVED_KEYS",
    "SH",
    "UNIT",
    "XSD",
]
