"""The bundled ontology's units (``ontology/core/units.ttl``), as the worker reads them at
start: each call a fresh :class:`Units` (its own caches and parse budget), the files read
once per session."""

from __future__ import annotations

import functools

from kgtwin.ontology.files import default_ontology_files, parse_files
from kgtwin.ontology.triples import Triple
from kgtwin.ontology.units import ParseBudget, Units


@functools.cache
def _triples() -> tuple[Triple, ...]:
    files, errors = parse_files(default_ontology_files())
    assert not errors, errors
    return tuple(triple for source in files for triple in source.triples())


def ontology_units(*, max_cached: int = 4096, budget: ParseBudget | None = None) -> Units:
    return Units.of(_triples(), max_cached=max_cached, budget=budget)
