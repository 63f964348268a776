"""The W3C SHACL Core test suite (tests/fixtures/shacl-core, see its README) run through
kgtwin's validation path: the compiled checker for the shapes it implements, pySHACL for
the others (:class:`~kgtwin.ontology.hybrid.Checker`). Each test's full result set must
equal the manifest's, as a multiset of (focus, path, value, source shape, component,
severity); messages are free text and not compared.

Blank nodes: the manifest names a blank node of its own file with the same label
(``_:b1``), so when the data or shapes graph is the manifest's own file, blank nodes are
compared as themselves; otherwise (and always for result paths, which the report writes
as copies) by their structure, the sorted statements about them, recursively.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Namespace
from rdflib.collection import Collection
from rdflib.term import Node

from kgtwin.ontology.files import parse_file
from kgtwin.ontology.hybrid import Checker
from kgtwin.ontology.namespaces import RDF, SH
from kgtwin.ontology.shacl import Unsupported, compile_shapes
from kgtwin.ontology.triples import TripleIndex

SUITE = Path(__file__).parents[1] / "fixtures" / "shacl-core"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")

# Tests kgtwin does not pass, with the reason. Keep this list short.
XFAIL: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    name: str
    manifest: Path
    node: Node


def cases() -> list[Case]:
    found: list[Case] = []
    todo = [SUITE / "manifest.ttl"]
    while todo:
        path = todo.pop(0)
        g = _parse(path)
        for include in g.objects(None, MF.include):
            todo.append(_file(include))
        for head in g.objects(None, MF.entries):
            for entry in Collection(g, head):
                name = f"{path.parent.name}/{_file(entry).name}".removesuffix(".ttl")
                found.append(Case(name, path, entry))
    return sorted(found, key=lambda c: c.name)


def _file(node: Node) -> Path:
    return Path(str(node).removeprefix("file://").split("#")[0])


_PARSED: dict[Path, Graph] = {}


def _parse(path: Path) -> Graph:
    """The file as kgtwin reads Turtle (Oxigraph, literals as written), in rdflib."""
    if path not in _PARSED:
        graph = Graph()
        for triple in parse_file(path).triples():
            graph.add(triple)
        _PARSED[path] = graph
    return _PARSED[path]


def describe(graph: Graph, node: Node | None, depth: int = 0) -> str:
    """A blank node as the sorted statements about it (recursively); others as N3."""
    if node is None:
        return "-"
    if not isinstance(node, BNode) or depth > 16:
        return node.n3()
    pairs = list(graph.predicate_objects(node))
    if (node, RDF.first, None) in graph:  # a list is read as a list (core/path/path-strange)
        pairs = [(p, o) for p, o in pairs if p in (RDF.first, RDF.rest)]
    inner = sorted(f"{p.n3()} {describe(graph, o, depth + 1)}" for p, o in pairs)
    return "[" + "; ".join(inner) + "]"


Key = tuple[str, str, str, str, str, str]


def run(case: Case) -> tuple[Counter[Key], Counter[Key]]:
    manifest = _parse(case.manifest)
    action = manifest.value(case.node, MF.action)
    data_graph = _parse(_file(manifest.value(action, SHT.dataGraph)))
    shapes_graph = _parse(_file(manifest.value(action, SHT.shapesGraph)))
    data = TripleIndex()
    data.add(data_graph)

    def term(graph: Graph, node: Node | None, own: bool) -> str:
        return node.n3() if own and node is not None else describe(graph, node)

    data_own, shapes_own = data_graph is manifest, shapes_graph is manifest
    actual = Counter(
        (
            term(data_graph, r.focus, data_own),
            describe(shapes_graph, r.path),
            term(data_graph, r.value, data_own),
            term(shapes_graph, r.shape, shapes_own),
            r.component.n3(),
            r.severity.n3(),
        )
        for r in Checker(shapes_graph).check(data)
    )
    report = manifest.value(case.node, MF.result)
    expected = Counter(
        (
            term(manifest, manifest.value(r, SH.focusNode), data_own),
            describe(manifest, manifest.value(r, SH.resultPath)),
            term(manifest, manifest.value(r, SH.value), data_own),
            term(manifest, manifest.value(r, SH.sourceShape), shapes_own),
            manifest.value(r, SH.sourceConstraintComponent).n3(),  # type: ignore[union-attr]
            manifest.value(r, SH.resultSeverity).n3(),  # type: ignore[union-attr]
        )
        for r in manifest.objects(report, SH.result)
    )
    return actual, expected


CASES = cases()


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(reason=XFAIL[case.name], strict=True)] if case.name in XFAIL else []
    return pytest.param(case, id=case.name, marks=marks)


def test_the_suite_is_all_there() -> None:
    assert len(CASES) == 98
    assert all(_parse(c.manifest).value(c.node, RDF.type) == SHT.Validate for c in CASES), (
        "every core test is a validation test"
    )


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_w3c_shacl_core(case: Case) -> None:
    actual, expected = run(case)
    assert actual == expected


def test_every_core_test_compiles() -> None:
    """Nothing in SHACL Core needs pySHACL: each shapes graph of the suite compiles."""
    refused = []
    for case in CASES:
        manifest = _parse(case.manifest)
        action = manifest.value(case.node, MF.action)
        try:
            compile_shapes(_parse(_file(manifest.value(action, SHT.shapesGraph))))
        except Unsupported as exc:
            refused.append(f"{case.name}: {exc}")
    assert refused == []
