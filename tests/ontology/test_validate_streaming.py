"""Validation of big models: a model is read straight into the index and mapped after
the check, so a million-asset site validates (and so loads) in under 4 GiB.

Python's allocations at their peak are counted with tracemalloc on a generated site of the
shape bench/scale.py measures; the budget gives 4,000 MB at a million assets. (Holding the
parsed statements as Python objects, as validation did before, needed 8.6 kB an asset.)"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from bench.synthetic import write_site
from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.validate import Ontology, model_digest, validate

KGT = "@prefix kgt: <https://w3id.org/kgtwin/core#> .\n"
ASSETS = 5_000
BUDGET_PER_ASSET = 4_000  # bytes


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load(default_ontology_files())


def test_validation_peaks_under_its_budget_per_asset(tmp_path: Path, ontology: Ontology) -> None:
    site = tmp_path / "site.ttl"
    write_site(site, ASSETS, 3 * ASSETS)
    tracemalloc.start()
    try:
        report = validate([site], ontology)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok
    assert report.graph is not None
    assert len(report.graph.nodes) > ASSETS  # the assets and their points
    assert peak / ASSETS < BUDGET_PER_ASSET, f"{peak / ASSETS:.0f} bytes an asset"


def test_a_model_describing_an_ontology_term_is_mapped_from_its_own_statements(
    tmp_path: Path, ontology: Ontology
) -> None:
    """The ontology's statements join the index for the check; the mapping must not take
    them for the model's (kgt:Asset would be "of class owl:Class")."""
    site = tmp_path / "site.ttl"
    site.write_text(KGT + 'kgt:Asset <http://www.w3.org/2000/01/rdf-schema#comment> "x" .\n')
    report = validate([site], ontology)
    assert [(p.subject, p.kind) for p in report.problems] == [("kgt:Asset", "no-class")]


def test_problems_name_the_file_and_line_of_a_model_read_file_by_file(
    tmp_path: Path, ontology: Ontology
) -> None:
    good, bad = tmp_path / "a.ttl", tmp_path / "b.ttl"
    good.write_text(KGT + "<urn:x:pump> a kgt:Asset .\n")
    bad.write_text(KGT + "\n\n<urn:x:tank> a kgt:Nothing .\n")
    report = validate([bad, good], ontology)
    found = {(p.file, p.line, p.subject, p.kind) for p in report.problems}
    assert (bad, 4, "<urn:x:tank>", "unknown-class") in found
    assert {(file, line) for file, line, subject, _ in found if subject == "<urn:x:pump>"} == {
        (good, 2)
    }


def test_the_digest_read_without_parsing_is_the_validated_one(
    tmp_path: Path, ontology: Ontology
) -> None:
    """A reload finds its files loaded by this digest (server/loading.py): it must be the
    one validation gives, line ends as Python reads them included."""
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "b" / "a.ttl", tmp_path / "z.ttl"
    first.write_bytes((KGT + '<urn:x:pump> a kgt:Asset ;\r\n  kgt:label "p" .\r\n').encode())
    second.write_text(KGT + "<urn:x:tank> a kgt:Asset .\n")
    for files in ([first], [second, first], [first, ontology.files[0].path]):
        assert model_digest(files, ontology) == validate(files, ontology).digest
    assert model_digest([first], ontology) != model_digest([second], ontology)
