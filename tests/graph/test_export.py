"""Reading a model back out of the real Neo4j, page by page (``graph.export``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from neo4j import Driver

from kgtwin.graph.errors import ModelChanged, UnknownModel
from kgtwin.graph.export import model_names, model_size, read_model
from kgtwin.graph.reader import Reader
from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from tests.conftest import DC1, FIXTURES

VALID = FIXTURES / "ontology" / "valid"
SITE = "https://w3id.org/kgtwin/site/dc1#"


def other_site(folder: Path) -> Path:
    """A small model of its own namespace, to load beside dc1."""
    text = (VALID / "minimal_pump.ttl").read_text().replace(SITE, "https://example.org/other#")
    path = folder / "other.ttl"
    path.write_text(text)
    return path


def test_pages_hold_every_node_once_with_its_relationships(
    driver: Driver, ontology: Ontology, tmp_path: Path
) -> None:
    loaded = load_model(driver, [DC1], "dc1", ontology)
    mapped = loaded.report.raise_for_problems()
    load_model(driver, [other_site(tmp_path)], "other", ontology)  # not in the pages
    reader = Reader(driver)
    pages = list(read_model(reader, "dc1", page_size=100))
    assert [len(p.nodes) for p in pages] == [100] * 7 + [47]
    iris = [n.iri for p in pages for n in p.nodes]
    assert iris == sorted(mapped.nodes)
    assert {r for p in pages for r in p.rels} == mapped.rels
    assert sum(len(p.rels) for p in pages) == len(mapped.rels)
    ups = next(n for p in pages for n in p.nodes if n.iri == SITE + "ups-b1")
    assert {"Twin", "UPS", "Asset"} <= set(ups.labels)
    assert ups.props["model"] == "dc1"
    assert "ratedCapacity" in ups.props["modelKeys"]  # type: ignore[operator]
    assert model_size(reader, "dc1") == len(mapped.nodes)


def test_times_come_back_as_python_values(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    observed = datetime(2024, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)
    driver.execute_query(
        "MATCH (p:Twin {iri: $iri}) SET p.observedAt = $at, p.day = date('2024-02-29')",
        iri=SITE + "ups-b1.output-power",
        at=observed,
    )
    (point,) = [
        n
        for page in read_model(Reader(driver), "dc1")
        for n in page.nodes
        if n.iri == SITE + "ups-b1.output-power"
    ]
    assert point.props["observedAt"] == observed
    assert point.props["day"] == datetime(2024, 2, 29).date()


def test_an_unknown_model_is_named_with_the_models_there_are(
    driver: Driver, ontology: Ontology
) -> None:
    load_model(driver, [VALID / "minimal_pump.ttl"], "pumps", ontology)
    reader = Reader(driver)
    assert model_names(reader) == ["pumps"]  # not the ontology's own
    with pytest.raises(UnknownModel, match=r"no model 'dc2'; the models there are: pumps"):
        next(read_model(reader, "dc2"))
    with pytest.raises(UnknownModel, match="no model 'dc2'"):
        model_size(reader, "dc2")


def test_an_empty_graph_says_it_holds_no_model(driver: Driver) -> None:
    with pytest.raises(UnknownModel, match=r"the graph holds no model$"):
        model_size(Reader(driver), "dc1")


def test_a_load_between_two_pages_is_refused(driver: Driver, ontology: Ontology) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    pages = read_model(Reader(driver), "dc1", page_size=500)
    next(pages)
    # the model changes under the export: what was read may mix two versions
    load_model(driver, [VALID / "minimal_pump.ttl"], "dc1", ontology)
    with pytest.raises(ModelChanged, match="loaded again while it was being exported"):
        list(pages)
