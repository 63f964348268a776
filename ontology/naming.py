"""Neo4j names for ontology terms: labels for classes, keys and relationship types for
properties. Deterministic for a given set of ontology files, whatever their order.

The rule (README, "Names in the graph"):

1. A term's name is its local name with every character other than an ASCII letter, digit
   or underscore replaced by ``_`` (``PM2.5_Sensor`` -> ``PM2_5_Sensor``).
2. When several terms would get one name, kgtwin's own vocabulary keeps it: a ``kgt:`` term
   first, then a term of another ``https://w3id.org/kgtwin/`` module. Every other term of
   the group is named after its ontology's declared prefix: ``brick_Point``,
   ``s223_ExternalReference``, ``ref_ExternalReference``. If no kgtwin term is in the
   group, every term of it gets its prefix. A name kgtwin keeps for its own nodes,
   relationships or keys (``graph.labels``, ``namespaces.RESERVED_KEYS``), or one that
   does not start with a letter, is treated the same way (``brick_value``).
3. A name still taken after that (two namespaces declared with one prefix) gets the first
   six hex digits of the SHA-1 of the term's IRI: ``x_Pump_1a2b3c``.

Relationship types are the property's name in UPPER_SNAKE (``brick_hasPoint`` ->
``BRICK_HAS_POINT``); two names giving one type are settled by rule 3.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping

CORE_NAMESPACE = "https://w3id.org/kgtwin/core#"
OWN_NAMESPACES = "https://w3id.org/kgtwin/"

_INVALID = re.compile(r"[^A-Za-z0-9_]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PREFIX_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def split_iri(iri: str) -> tuple[str, str]:
    """``https://w3id.org/kgtwin/core#feeds`` -> (``https://w3id.org/kgtwin/core#``,
    ``feeds``); the local name is what follows the last ``#``, ``/`` or ``:``."""
    for separator in ("#", "/", ":"):
        head, sep, tail = iri.rpartition(separator)
        if sep and tail:
            return head + sep, tail
    return "", iri


def local_name(iri: str) -> str:
    """``https://w3id.org/kgtwin/core#feeds`` -> ``feeds``; ``.../unit/KiloW`` -> ``KiloW``."""
    return split_iri(iri)[1]


@functools.lru_cache(maxsize=4096)
def relationship_type(name: str) -> str:
    """``hasPoint`` -> ``HAS_POINT``; ``brick_hasPoint`` -> ``BRICK_HAS_POINT``. One string
    per name, shared by every caller (the mapping gives it to each of a model's
    relationships: three million at a million assets); the names are an ontology's."""
    return _CAMEL.sub("_", name).replace("-", "_").upper()


def plain_name(local: str) -> str:
    """A local name with what a label may not hold replaced by ``_``."""
    return _INVALID.sub("_", local) or "_"


def renamed(iri: str, name: str) -> bool:
    """Whether ``name`` (a label, key or relationship type) is not the plain form of the
    term's local name: the term got its prefix or a hash (rules 2 and 3)."""
    plain = plain_name(local_name(iri))
    return name not in (plain, relationship_type(plain))


def namespace_prefixes(declared: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Namespace -> prefix from ``(prefix, namespace)`` declarations in file order; the
    first declaration of a namespace wins, empty prefixes are skipped."""
    found: dict[str, str] = {}
    for prefix, namespace in declared:
        if prefix and namespace not in found:
            found[namespace] = plain_name(prefix)
    return found


def _derived_prefix(namespace: str) -> str:
    """A prefix for an undeclared namespace: its last word (``.../y#`` -> ``y``)."""
    words = _PREFIX_WORD.findall(namespace.rstrip("#/:"))
    return words[-1].lower() if words else "ns"


def _rank(namespace: str) -> int:
    if namespace == CORE_NAMESPACE:
        return 0
    return 1 if namespace.startswith(OWN_NAMESPACES) else 2


def assign_names(
    iris: Collection[str],
    prefixes: Mapping[str, str],
    reserved: Collection[str] = (),
    *,
    key: Callable[[str], str] = lambda name: name,
) -> dict[str, str]:
    """IRI -> name for one kind of term (classes, or properties). ``key`` maps a name to
    what must be unique (a property's relationship type); ``reserved`` holds keys no term
    may take."""
    groups: dict[str, list[str]] = defaultdict(list)
    for iri in iris:
        groups[plain_name(local_name(iri))].append(iri)
    names: dict[str, str] = {}
    for base, members in groups.items():
        ranks = {iri: _rank(split_iri(iri)[0]) for iri in members}
        best = min(ranks.values())
        keeper = [iri for iri in members if ranks[iri] == best]
        sole = keeper[0] if len(keeper) == 1 else None
        usable = base[0].isalpha() and key(base) not in reserved
        for iri in members:
            if iri == sole and usable:
                names[iri] = base
            else:
                namespace = split_iri(iri)[0]
                prefix = prefixes.get(namespace) or _derived_prefix(namespace)
                names[iri] = f"{prefix}_{base}" if prefix[0].isalpha() else f"ns_{base}"
    return _settle(names, reserved, key)


def _settle(
    names: dict[str, str], reserved: Collection[str], key: Callable[[str], str]
) -> dict[str, str]:
    """Rule 3: a name (or its key) taken twice, or reserved, gets a hash of the IRI."""
    owners: dict[str, list[str]] = defaultdict(list)
    for iri, name in names.items():
        owners[key(name)].append(iri)
    settled = dict(names)
    for taken, iris in owners.items():
        if taken in reserved:
            clash = iris
        elif len(iris) > 1:
            # the term a plain local name would give keeps it; the others get a hash
            plain = [i for i in iris if names[i] == plain_name(local_name(i))]
            first = plain[0] if len(plain) == 1 else sorted(iris)[0]
            clash = [i for i in iris if i != first]
        else:
            continue
        for iri in clash:
            digest = hashlib.sha1(iri.encode()).hexdigest()[:6]
            settled[iri] = f"{names[iri]}_{digest}"
    return settled
