"""``kgtwin export`` against the real Neo4j: a model exported, validated and loaded into
an empty graph gives the same nodes, labels, properties and relationships (Turtle and
JSON-LD); ``--live`` adds the live state; the command's output, errors and exit codes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from rdflib import Graph, Literal, URIRef

from kgtwin.graph.reader import Reader
from kgtwin.ontology.namespaces import KGT, LIVE, XSD
from kgtwin.ontology.rdf_out import serialize
from kgtwin.ontology.validate import Ontology, validate
from kgtwin.server.cli import main
from kgtwin.server.export_command import export_model
from kgtwin.server.loading import load_model
from tests.conftest import DC1, OFFICE
from tests.neo4j_service import clean_database

SITE = "https://w3id.org/kgtwin/site/dc1#"
POINT = SITE + "ups-b1.output-power"
# rdflib's JSON-LD parser (tests only read JSON-LD) warns about a class of its own
JSON_LD_PARSER_WARNS = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning"
)


def snapshot(driver: Driver, model: str) -> tuple[list[Any], list[Any]]:
    """The model's nodes (IRI, labels, properties but ``model``) and relationships."""
    nodes, _, _ = driver.execute_query(
        "MATCH (n:Twin {model: $model}) RETURN n.iri AS iri, labels(n) AS labels, "
        "properties(n) AS props ORDER BY iri",
        model=model,
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a:Twin {model: $model})-[r]->(b:Twin) "
        "RETURN a.iri AS a, type(r) AS type, b.iri AS b, r.model = $model AS owned "
        "ORDER BY a, type, b",
        model=model,
    )
    return (
        [
            (r["iri"], sorted(r["labels"]), {k: v for k, v in r["props"].items() if k != "model"})
            for r in nodes
        ],
        [tuple(r.values()) for r in rels],
    )


def reload_as(driver: Driver, ontology: Ontology, exported: Path, model: str) -> None:
    """Validate ``exported`` (no problem at all), then load it into an empty graph."""
    report = validate([exported], ontology)
    assert [p.render() for p in report.problems] == []
    clean_database(driver)
    assert load_model(driver, [exported], model, ontology).report.ok


def test_export_validates_and_loads_back_to_the_same_graph(
    driver: Driver, ontology: Ontology, tmp_path: Path
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    before = snapshot(driver, "dc1")
    result = export_model(Reader(driver), "dc1", ontology, page_size=200)
    assert (result.nodes, result.relationships, result.skipped) == (747, 1121, {})
    exported = tmp_path / "dc1-export.ttl"
    exported.write_text(serialize(result.graph, "turtle"), encoding="utf-8")
    reload_as(driver, ontology, exported, "dc1-again")
    assert snapshot(driver, "dc1-again") == before


@JSON_LD_PARSER_WARNS
def test_json_ld_export_holds_the_same_model(
    driver: Driver,
    neo4j_env: dict[str, str],
    ontology: Ontology,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    before = snapshot(driver, "dc1")
    as_json, as_turtle = tmp_path / "dc1.jsonld", tmp_path / "dc1.ttl"
    assert main(["export", "--model", "dc1", "--format", "jsonld", "-o", str(as_json)]) == 0
    assert main(["export", "--model", "dc1", "--output", str(as_turtle), "--quiet"]) == 0
    capsys.readouterr()
    from_json = Graph().parse(as_json, format="json-ld")
    from_turtle = Graph().parse(as_turtle, format="turtle")
    assert len(from_json) == len(from_turtle)
    assert set(from_json) == set(from_turtle)
    converted = tmp_path / "from-json.ttl"
    converted.write_text(from_json.serialize(format="turtle"), encoding="utf-8")
    reload_as(driver, ontology, converted, "dc1-json")
    assert snapshot(driver, "dc1-json") == before


def test_live_export_adds_the_live_state(
    driver: Driver,
    neo4j_env: dict[str, str],
    ontology: Ontology,
    capsys: pytest.CaptureFixture[str],
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    observed = datetime(2024, 5, 6, 7, 8, 9, 125000, tzinfo=UTC)
    received = datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC)
    driver.execute_query(
        "MATCH (p:Twin {iri: $iri}) SET p.value = 212.5, p.observedAt = $observed, "
        "p.receivedAt = $received, p.quality = 'good', p.stale = false",
        iri=POINT,
        observed=observed,
        received=received,
    )
    assert main(["export", "--model", "dc1", "--quiet"]) == 0
    plain = Graph().parse(data=capsys.readouterr().out, format="turtle")
    assert main(["export", "--model", "dc1", "--live", "-q"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "@prefix kgtlive: <https://w3id.org/kgtwin/live#> ." in out
    live = Graph().parse(data=out, format="turtle")
    point = URIRef(POINT)
    assert live.value(point, LIVE.value) == Literal("212.5", datatype=XSD.decimal)
    assert live.value(point, LIVE.observedAt).toPython() == observed  # type: ignore[union-attr]
    assert live.value(point, LIVE.receivedAt).toPython() == received  # type: ignore[union-attr]
    assert live.value(point, LIVE.quality) == Literal("good")
    assert live.value(point, LIVE.stale) == Literal(False)
    assert live.value(point, KGT.mqttTopic) == Literal("dc1/ups-b1/output-power")
    # the live triples are all it adds, and only where there is live state
    added = set(live) - set(plain)
    assert set(plain) <= set(live)
    assert {s for s, _, _ in added} == {point}
    assert all(str(p).startswith(str(LIVE)) for _, p, _ in added)
    assert not any(str(p).startswith(str(LIVE)) for _, p, _ in plain)


def test_export_to_stdout_shows_progress_and_a_summary_on_stderr(
    driver: Driver,
    neo4j_env: dict[str, str],
    ontology: Ontology,
    capsys: pytest.CaptureFixture[str],
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    assert main(["export", "--model", "dc1", "--page-size", "300"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("@prefix ")
    assert "dc1:ups-b1 a dc:UPS ;" in out
    phases = list(dict.fromkeys(line.split(":")[0].strip(" .") for line in err.splitlines()))
    assert phases[:3] == ["reading the ontology", "reading the graph", "writing turtle"]
    assert "model 'dc1': 747 nodes, 1,121 relationships" in err.splitlines()[-1]
    assert "written to stdout" in err


def test_an_unknown_model_is_an_error_that_lists_the_models(
    driver: Driver,
    neo4j_env: dict[str, str],
    ontology: Ontology,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert main(["export", "--model", "dc1"]) == 2
    assert "no model 'dc1'; the graph holds no model" in capsys.readouterr().err
    load_model(driver, [DC1], "dc1", ontology)
    target = tmp_path / "dc2.ttl"
    assert main(["export", "--model", "dc2", "-o", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "kgtwin: error: the graph holds no model 'dc2'; the models there are: dc1" in err
    assert not target.exists()


def test_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--model", "no spaces"]) == 2
    assert "model name 'no spaces' is not usable" in capsys.readouterr().err
    for argv in (["export"], ["export", "--model", "dc1", "--format", "xml"]):
        with pytest.raises(SystemExit) as usage:
            main(argv)
        assert usage.value.code == 2
    with pytest.raises(SystemExit) as usage:
        main(["export", "--model", "dc1", "--page-size", "0"])
    assert usage.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_an_unwritable_output_fails_and_keeps_the_old_file(
    driver: Driver,
    neo4j_env: dict[str, str],
    ontology: Ontology,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    load_model(driver, [DC1], "dc1", ontology)
    assert main(["export", "--model", "dc1", "-o", str(tmp_path / "missing" / "x.ttl")]) == 1
    assert "kgtwin: error: cannot write" in capsys.readouterr().err
    kept = tmp_path / "kept.ttl"
    kept.write_text("old")
    assert main(["export", "--model", "dc2", "-o", str(kept)]) == 2  # no such model
    assert kept.read_text() == "old"
    assert main(["export", "--model", "dc1", "-q", "-o", str(kept)]) == 0
    assert kept.read_text().startswith("@prefix ")
    assert [p.name for p in tmp_path.iterdir()] == ["kept.ttl"]  # no temporary file left


def test_the_brick_office_exports_and_loads_back_to_the_same_graph(
    driver: Driver, brick_ontology: Ontology, tmp_path: Path
) -> None:
    """Brick's own vocabulary out again: blank timeseries references come back as the
    nodes they became, aligned labels and keys are left to the next load to derive."""
    assert load_model(driver, [OFFICE], "office", brick_ontology).report.ok
    before = snapshot(driver, "office")
    result = export_model(Reader(driver), "office", brick_ontology)
    assert result.skipped == {}
    text = serialize(result.graph, "turtle")
    assert "brick:Chilled_Water_Pump" in text
    assert "alignedKeys" not in text
    assert "kgt:mqttTopic" not in text  # the topic stays in ref:hasTimeseriesId
    exported = tmp_path / "office-export.ttl"
    exported.write_text(text, encoding="utf-8")
    reload_as(driver, brick_ontology, exported, "office")
    assert snapshot(driver, "office") == before
