"""The README's worked example: a vocabulary kgtwin knows nothing of, aligned by a small
file, maps to the labels, keys and dependency directions the engine reads."""

from __future__ import annotations

from pathlib import Path

from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.mapping import MAX_BLANK_NESTING
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


def blank_chain(depth: int) -> str:
    nested = "[ a acme:Sensor ]"
    for _ in range(depth - 1):
        nested = f"[ a acme:Sensor ; acme:reading {nested} ]"
    return nested


def test_blank_nodes_a_subject_describes_become_nodes_even_in_a_cycle(tmp_path: Path) -> None:
    ontology = Ontology.load([*default_ontology_files(), ACME / "acme.ttl"])
    site = tmp_path / "site.ttl"
    site.write_text(
        "@prefix acme: <https://example.org/acme#> .\n@prefix p: <https://example.org/plant#> .\n"
        f"p:press a acme:Machine ; acme:reading {blank_chain(3)}, _:a .\n"
        "_:a a acme:Sensor ; acme:reading _:b .\n_:b a acme:Sensor ; acme:reading _:a .\n",
        encoding="utf-8",
    )
    graph = validate([site], ontology).raise_for_problems()
    ids = sorted(n.props["id"] for n in graph.nodes.values())
    assert len(ids) == 6  # the press, three nested sensors, the two of the cycle
    assert "press_reading_1_reading_1_reading_1" in ids
    assert {(r.source, r.target) for r in graph.rels} >= {
        (PLANT + "press", PLANT + "press_reading_1"),
        (PLANT + "press_reading_1", PLANT + "press_reading_1_reading_1"),
    }


def test_a_hostile_chain_of_blank_nodes_is_cut_at_the_nesting_bound(tmp_path: Path) -> None:
    """Each level lengthens the IRI the next one gets: a chain 2,000 deep would otherwise
    cost memory quadratic in its length. Past the bound it is a problem, not a node."""
    ontology = Ontology.load([*default_ontology_files(), ACME / "acme.ttl"])
    site = tmp_path / "site.ttl"
    site.write_text(
        "@prefix acme: <https://example.org/acme#> .\n@prefix p: <https://example.org/plant#> .\n"
        f"p:press a acme:Machine ; acme:reading {blank_chain(2000)} .\n",
        encoding="utf-8",
    )
    report = validate([site], ontology)
    deep = [p for p in report.problems if p.kind == "blank-node"]
    assert len(deep) == 2000 - MAX_BLANK_NESTING
    assert f"nest more than {MAX_BLANK_NESTING} deep" in deep[0].message
    assert not report.ok
