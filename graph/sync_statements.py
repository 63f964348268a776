"""The Cypher of a model sync (:mod:`graph.sync`), for one kind of node it owns.

Labels come from code only (``Twin`` or ``OntologyTerm``); relationship types and labels of
the model's nodes reach Cypher as parameters (``$($type)``, ``$($labels)``). Every read
returns a page of bounded size, so neither Neo4j's transaction memory nor the driver's
result grows with the model:

* nodes are read in pages of the ``(model, iri)`` index, in IRI order, each page starting
  after the last IRI of the one before (an ordered index seek with a limit: no sort);
* relationships are read from a page of the model's nodes (by element id) at a time, pages
  cut by the number of relationships leaving them (read with the nodes), not only by the
  number of nodes;
* whether a kept node differs from what the files say is decided by Neo4j, which compares
  the values sent with the ones it holds (value and type, as Python compares them) and
  returns the element ids of the nodes that differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString


@dataclass(frozen=True, slots=True)
class Scope:
    """Which kind of node a sync owns, with the statements for it (labels from code only)."""

    key_label: LiteralString
    read_nodes: LiteralString
    read_rels: LiteralString
    other_models: LiteralString
    find_foreign: LiteralString
    compare_nodes: LiteralString
    create_nodes: LiteralString
    update_nodes: LiteralString
    delete_nodes: LiteralString
    create_rels: LiteralString
    delete_rels: LiteralString


# A row of compare_nodes and update_nodes is [elementId, value, ...]: whether the node
# differs (a value, a value's type, a label or the list of model keys) from the row.
_DIFFERS: LiteralString = (
    "WITH n, r, labels(n) AS have, [k IN $columns | n[k]] AS values "
    "WHERE NOT coalesce(n.modelKeys = $keys "
    "AND size(have) = size($labels) AND all(l IN have WHERE l IN $labels) "
    "AND values = r[1..] AND [v IN values | valueType(v)] = [v IN r[1..] | valueType(v)], "
    "false) "
)


def _scope(label: LiteralString) -> Scope:
    """The statements of a sync over nodes labelled ``label``.

    Parameters shared by the node statements: ``$labels`` (every label of the batch's
    nodes), ``$keys`` (their ``modelKeys``) and ``$columns`` (the keys whose values follow
    the node's IRI or element id in each row).
    """
    by_eid: LiteralString = "(n:" + label + ") WHERE elementId(n) = "
    pair: LiteralString = (
        "(a:" + label + " {iri: $sources[i]})-[x:$($type)]->(b:" + label + " {iri: $targets[i]})"
    )
    return Scope(
        key_label=label,
        # ORDER BY both keys of the index: Neo4j then reads the index in order and stops at
        # the limit (ordering by the IRI alone made it sort the whole model on every page)
        read_nodes="MATCH (n:" + label + ") USING INDEX n:" + label + "(model, iri) "
        "WHERE n.model = $model AND n.iri > $after "
        "WITH n ORDER BY n.model, n.iri LIMIT $page "
        "RETURN collect([n.iri, elementId(n), COUNT { (n)-->() }]) AS nodes",
        # Every relationship out of a page of the model's nodes to a node of the model (or
        # marked as the model's), with whether it is marked so: copies made by hand are
        # not. Collects over the same rows stay aligned as long as none skips a null.
        read_rels="UNWIND $eids AS eid MATCH (a:" + label + ") WHERE elementId(a) = eid "
        "MATCH (a)-[x]->(b:" + label + ") WHERE x.model = $model OR b.model = $model "
        "RETURN type(x) AS type, collect(coalesce(a.iri, '')) AS sources, "
        "collect(coalesce(b.iri, '')) AS targets, "
        "collect(coalesce(x.model = $model, false)) AS owned",
        # whether any node belongs to another model, or to none (made by hand, without a
        # model or with one that is no string): two seeks of the model index and a scan of
        # the label for a model that is no string (the index holds strings only; Neo4j 5.26
        # finds no null with `NOT n.model IS :: STRING NOT NULL`), so that a load into a
        # graph holding no other model skips the look-up of every new IRI
        other_models="MATCH (n:" + label + ") USING INDEX n:" + label + "(model) "
        "WHERE n.model < $model RETURN n.model AS model LIMIT 1 "
        "UNION MATCH (n:" + label + ") USING INDEX n:" + label + "(model) "
        "WHERE n.model > $model RETURN n.model AS model LIMIT 1 "
        "UNION MATCH (n:" + label + ") WHERE n.model IS NULL OR NOT n.model IS :: STRING "
        "RETURN n.model AS model LIMIT 1",
        find_foreign="UNWIND $iris AS iri MATCH (n:" + label + " {iri: iri}) "
        "USING INDEX n:" + label + "(iri) WHERE NOT coalesce(n.model = $model, false) "
        "RETURN n.iri AS iri, n.model AS model LIMIT 10",
        compare_nodes="UNWIND $rows AS r MATCH "
        + by_eid
        + "r[0] "
        + _DIFFERS
        + "RETURN collect(r[0]) AS differ",
        create_nodes="UNWIND $rows AS r CREATE (n:$($labels)) "
        "SET n.iri = r[0], n.model = $model, n.modelKeys = $keys "
        "FOREACH (i IN range(0, size($columns) - 1) | SET n[$columns[i]] = r[i + 1]) "
        "RETURN collect([r[0], elementId(n)]) AS created",
        update_nodes="UNWIND $rows AS r MATCH "
        + by_eid
        + "r[0] "
        + _DIFFERS
        + "FOREACH (k IN [k IN coalesce(n.modelKeys, []) WHERE NOT k IN $keys] | SET n[k] = null) "
        "REMOVE n:$([l IN have WHERE NOT l IN $labels]) "
        "SET n:$($labels), n.modelKeys = $keys "
        "FOREACH (i IN range(0, size($columns) - 1) | SET n[$columns[i]] = r[i + 1]) "
        "RETURN count(n) AS updated",
        delete_nodes="UNWIND $rows AS r MATCH " + by_eid + "r DETACH DELETE n",
        # Relationship batches travel as two parallel lists, $sources and $targets.
        create_rels="UNWIND range(0, size($sources) - 1) AS i "
        "MATCH (a:" + label + ") WHERE elementId(a) = $sources[i] "
        "MATCH (b:" + label + ") WHERE elementId(b) = $targets[i] "
        "CREATE (a)-[:$($type) {model: $model}]->(b)",
        delete_rels="UNWIND range(0, size($sources) - 1) AS i MATCH " + pair + " "
        "USING INDEX a:" + label + "(iri) USING INDEX b:" + label + "(iri) "
        "WHERE x.model = $model OR b.model = $model DELETE x",
    )


TWINS = _scope("Twin")
ONTOLOGY = _scope("OntologyTerm")

READ_MODEL: LiteralString = (
    "MATCH (m:Model {name: $name}) RETURN m.digest AS digest, m.loading AS loading"
)
# Hides the model from readers until the load that sets it completes (graph.visibility).
HIDE_MODEL: LiteralString = (
    "MATCH (m:Model {name: $name}) SET m.loading = $loadId, m.loadingSince = datetime()"
)
WRITE_MODEL: LiteralString = """
MATCH (m:Model {name: $name})
SET m.digest = $digest, m.files = $files, m.loadedAt = datetime($loadedAt),
    m.nodes = $nodes, m.relationships = $relationships, m.loadId = $loadId
REMOVE m.loading, m.loadingSince
"""
READ_LOAD_ID: LiteralString = "MATCH (m:Model {name: $name}) RETURN m.loadId AS loadId"
