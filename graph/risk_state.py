"""The twin's risk as last published, shared by every server's risk watch, so that each
change is published once however many servers watch.

``(:RiskState {name: 'present'})`` holds one entry per risk: its key (kind and asset IRI),
what makes it that risk (``facts``: compared to tell a changed risk from the same one) and
the event data it was published with. :func:`exchange` write-locks that node, reads the
entries, lets the caller publish the difference to the entries it computed, and stores
those only if the caller says the broker took the events: a server that comes second finds
the first one's entries and publishes nothing, and a failed publication is tried again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import LiteralString

import neo4j
from neo4j import Driver

from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.reader import Reader

NAME = "present"

LOCK: LiteralString = """
MERGE (s:RiskState {name: $name})
SET s.lockedAt = datetime()
RETURN coalesce(s.keys, []) AS keys, coalesce(s.facts, []) AS facts, coalesce(s.data, []) AS data
"""

MODELS: LiteralString = """
UNWIND $iris AS iri
MATCH (n:Twin {iri: iri})
RETURN n.iri AS iri, n.model AS model
"""

STORE: LiteralString = """
MATCH (s:RiskState {name: $name})
SET s.keys = $keys, s.facts = $facts, s.data = $data, s.storedAt = datetime()
"""


@dataclass(frozen=True, slots=True)
class Entry:
    facts: str  # JSON: what the risk is (not its explanation)
    data: str  # JSON: the event data it was published with


Entries = Mapping[str, Entry]  # key -> entry
Publish = Callable[[Entries], bool]  # the entries stored -> whether the events went out


def read_models(reader: Reader, iris: Sequence[str]) -> dict[str, str]:
    """The model of each of these twin nodes."""
    rows = reader.rows(MODELS, "reading the models of assets at risk", iris=list(iris))
    return {r["iri"]: r["model"] for r in rows if isinstance(r["model"], str)}


def exchange(driver: Driver, entries: Entries, publish: Publish, database: str | None) -> bool:
    """Store ``entries`` as the present, if ``publish`` (given what was stored, under the
    lock) says the events of the difference were published; whether they were stored."""
    with (
        neo4j_errors("publishing the twin's risk"),
        driver.session(database=database, default_access_mode=neo4j.WRITE_ACCESS) as session,
        session.begin_transaction() as tx,
    ):
        record = tx.run(LOCK, name=NAME).single(strict=True)
        stored = {
            key: Entry(facts, data)
            for key, facts, data in zip(
                record["keys"], record["facts"], record["data"], strict=True
            )
        }
        if not publish(stored):
            tx.rollback()
            return False
        if stored == entries:
            tx.commit()  # nothing changed
            return True
        keys = list(entries)
        tx.run(
            STORE,
            name=NAME,
            keys=keys,
            facts=[entries[k].facts for k in keys],
            data=[entries[k].data for k in keys],
        )
        tx.commit()
        return True
