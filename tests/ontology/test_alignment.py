"""The README's worked example: a vocabulary kgtwin knows nothing of, aligned by a small
file, maps to the labels, keys and dependency directions the engine reads."""

from __future__ import annotations

from pathlib import Path

from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.validate import Ontology, validate
from tests.conftest import FIXTURES

ACME = FIXTURES / "ontology" / "acme"
PLANT = "https://example.org/plant#"


def test_an_aligned_vocabulary_gives_the_engine_its_labels_keys_and_directions() -> None:
    ontology = Ontology.load(
        [*default_ontology_files(), ACME / "acme.ttl", ACME / "acme-alignment.ttl"]
    )
    report = validate([ACME / "site.ttl"], ontology)
    graph = report.raise_for_problems()
    press, temp = graph.nodes[PLANT + "press"], graph.nodes[PLANT + "press.temp"]
    assert "Asset" in press.labels
    assert "Machine" in press.labels
    assert press.props["alignedLabels"] == ["Asset"]
    assert "Point" in temp.labels
    assert temp.props["unit"] == temp.props["engUnit"] == "DEG_C"
    assert temp.props["mqttTopic"] == temp.props["tag"] == "plant/press/temp"
    assert temp.props["alignedKeys"] == ["mqttTopic", "unit"]
    vocab = ontology.vocabulary
    assert vocab.dependency_direction("https://example.org/acme#poweredBy") == (
        "ConsumerToSupplier"
    )
    assert vocab.engine_meaning("https://example.org/acme#reading") == {
        "https://w3id.org/kgtwin/core#hasPoint"
    }
    rels = {(r.source, r.type, r.target) for r in graph.rels}
    assert (PLANT + "press", "POWERED_BY", PLANT + "drive") in rels
    assert (PLANT + "press", "READING", PLANT + "press.temp") in rels


def test_live_values_of_an_export_are_not_the_models(tmp_path: Path) -> None:
    """`kgtwin export --live` writes kgtlive: statements; validating or loading the file
    skips them (no unknown-property problem, no key)."""
    ontology = Ontology.load(
        [*default_ontology_files(), ACME / "acme.ttl", ACME / "acme-alignment.ttl"]
    )
    site = tmp_path / "site.ttl"
    site.write_text(
        "@prefix kgtlive: <https://w3id.org/kgtwin/live#> .\n"
        + (ACME / "site.ttl").read_text(encoding="utf-8")
        + 'p:press.temp kgtlive:value 21.5 ; kgtlive:quality "good" .\n',
        encoding="utf-8",
    )
    report = validate([site], ontology)
    assert report.problems == ()
    temp = report.raise_for_problems().nodes[PLANT + "press.temp"]
    assert "value" not in temp.props
    assert "quality" not in temp.props
