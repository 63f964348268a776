"""The ``kgtwin`` command line, run as a user would (in-process, real Neo4j)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver

from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.validate import Ontology, validate
from kgtwin.server.cli import main
from tests.conftest import DC1, FIXTURES

INVALID = FIXTURES / "ontology" / "invalid"
VALIDATE_PHASES = ["reading the model", "checking shapes", "mapping to the graph"]


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("validate", "load", "info", "neo4j"):
        assert command in out


def test_validate_prints_one_line_per_problem_and_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # validate never talks to Neo4j: point it at a port where nothing listens
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    code = main(["validate", str(INVALID / "unknown_unit.ttl"), str(INVALID / "syntax_error.ttl")])
    assert code == 1
    # a model that does not parse is not checked further: the syntax error comes first
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{INVALID / 'syntax_error.ttl'}:18: ")
    assert "Turtle syntax error" in line
    assert main(["validate", str(INVALID / "unknown_unit.ttl")]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{INVALID / 'unknown_unit.ttl'}:15: site:p1 kgt:unit: ")
    assert "found unit:FURLONG-PER-FORTNIGHT (declared nowhere: unknown)" in line


def test_validate_valid_site_exits_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    assert main(["validate", str(DC1)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "valid" in captured.err


def test_validate_shows_its_phases_and_a_summary_unless_quiet_or_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    assert main(["validate", str(DC1)]) == 0
    err = capsys.readouterr().err  # not a terminal: plain lines
    phases = [line.split(":")[0].strip(" .") for line in err.splitlines()[:-1]]
    assert phases == ["reading the ontology", *VALIDATE_PHASES]
    assert err.splitlines()[-1].startswith(f"{DC1}: valid (")
    assert main(["validate", "--quiet", str(DC1)]) == 0
    assert capsys.readouterr() == ("", "")
    bad = str(INVALID / "unknown_unit.ttl")
    assert main(["validate", "-q", bad]) == 1
    out, err = capsys.readouterr()
    assert (len(out.splitlines()), err) == (1, "")
    assert main(["validate", "--json", bad]) == 1
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert (document["ok"], err) == (False, "")
    assert document["problems"][0]["line"] == 15
    assert document["problems"][0]["found"].startswith("unit:FURLONG-PER-FORTNIGHT")
    with pytest.raises(SystemExit) as usage:
        main(["validate", "--json", "--quiet", bad])
    assert usage.value.code == 2


def test_load_shows_its_phases_unless_quiet_or_json(
    driver: Driver, neo4j_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", str(DC1)]) == 0
    err = capsys.readouterr().err
    phases = list(dict.fromkeys(line.split(":")[0].strip(" .") for line in err.splitlines()))
    assert phases == [
        "reading the ontology",
        *VALIDATE_PHASES,
        "reading the graph",
        "creating nodes",
        "creating relationships",
        "committing",
    ]
    assert main(["load", "-q", str(DC1)]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["load", "--json", str(DC1), "--model", "copy"]) == 1  # its IRIs are dc1's
    out, err = capsys.readouterr()
    assert out == ""
    assert "already belong to another model" in err
    driver.execute_query("MATCH (n:Twin {model: 'dc1'})-[r:FEEDS]->() DELETE r")
    # the files are those dc1 was loaded from: found so by their digest, nothing done
    assert main(["load", "--json", str(DC1)]) == 0
    out, err = capsys.readouterr()
    assert (json.loads(out)["unchanged"]["model"], err) == ("dc1", "")
    records, _, _ = driver.execute_query("MATCH ({model: 'dc1'})-[r:FEEDS]->() RETURN r")
    assert records == []
    # --verify validates and syncs them, which repairs the hand edit
    assert main(["load", "--json", "--verify", str(DC1)]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert (document["ok"], err) == (True, "")
    assert document["model"]["changed"] is True
    assert document["model"]["nodes_created"] == 0
    assert document["model"]["rels_created"] > 0
    assert document["ontology"]["changed"] is False


def test_load_prints_a_summary_and_reload_is_up_to_date(
    driver: Driver, neo4j_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", str(DC1)]) == 0
    out = capsys.readouterr().out
    assert "model 'dc1' loaded" in out
    assert "0 removed" in out
    assert main(["load", str(DC1)]) == 0
    assert "model 'dc1' already up to date" in capsys.readouterr().out
    assert main(["info"]) == 0
    info = capsys.readouterr().out
    assert "model dc1:" in info
    assert "FEEDS" in info
    assert "named with their prefix" not in info  # dc1's ontology has no shared names


def test_info_lists_the_terms_named_with_their_prefix(
    driver: Driver, neo4j_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    collisions = FIXTURES / "ontology" / "collisions"
    ontology = [f"--ontology={p}" for p in default_ontology_files()]
    ontology.append(f"--ontology={collisions / 'vocabulary.ttl'}")
    assert main(["load", *ontology, "-q", str(collisions / "model.ttl")]) == 0
    capsys.readouterr()
    assert main(["info"]) == 0
    info = capsys.readouterr().out
    assert "Ontology terms named with their prefix" in info
    assert "  a_ApiToken <https://example.org/a#ApiToken>" in info


def test_load_of_invalid_model_exits_nonzero_and_writes_nothing(
    driver: Driver, neo4j_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", str(INVALID / "wrong_datatype.ttl"), "--model", "x"]) == 1
    assert "nothing was loaded" in capsys.readouterr().err
    records, _, _ = driver.execute_query("MATCH (n) RETURN count(n)")
    assert records[0][0] == 0


def test_bad_model_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", str(DC1), "--model", "no spaces"]) == 2
    assert "model name 'no spaces' is not usable" in capsys.readouterr().err


@pytest.mark.parametrize("writers", ["0", "17", "two", "-1", "²"])
def test_writers_out_of_range_is_a_usage_error(
    writers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["load", str(DC1), "--writers", writers])
    assert usage.value.code == 2
    assert f"expected a whole number from 1 to 16, got '{writers}'" in capsys.readouterr().err


def test_neo4j_down_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    assert main(["load", str(DC1)]) == 1
    assert "Neo4j is not reachable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest"], "no MQTT broker: give --broker mqtt://HOST:PORT"),
        (["ingest", "--broker", "http://127.0.0.1:1883"], "http"),
        (["ingest", "--broker", "mqtt://user:hunter2@"], "***"),
    ],
)
def test_ingest_without_a_usable_broker_url_exits_2_saying_why(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "hunter2" not in err  # a password in the URL is never printed


def test_a_model_class_named_api_token_never_gets_the_label(tmp_path: Path) -> None:
    """Regression: such a model minted an admin token once loaded. The class is now named
    with its prefix (evil_ApiToken), so no twin node can carry kgtwin's ApiToken label."""
    attack = FIXTURES / "ontology" / "attack" / "api_token.ttl"
    model = tmp_path / "model.ttl"
    text = attack.read_text(encoding="utf-8")
    prefixes = "".join(line + "\n" for line in text.splitlines() if line.startswith("@prefix"))
    model.write_text(prefixes + text[text.index("evil:forged") :], encoding="utf-8")
    ontology = Ontology.load([*default_ontology_files(), attack])
    assert ontology.vocabulary.classes["https://example.org/evil#ApiToken"].name == (
        "evil_ApiToken"
    )
    report = validate([model], ontology)
    graph = report.raise_for_problems()
    (forged,) = [n for n in graph.nodes.values() if n.props["id"] == "forged"]
    assert "ApiToken" not in forged.labels
    assert "evil_ApiToken" in forged.labels


def test_validate_reports_shapes_pyshacl_refuses_as_a_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: validate crashed when pySHACL refused a shape."""
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    shapes = FIXTURES / "ontology" / "shapes" / "refused_by_pyshacl.shapes.ttl"
    core = [f"--ontology={p}" for p in default_ontology_files()]
    assert main(["validate", *core, f"--ontology={shapes}", str(DC1)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("<ontology>: -: the SHACL shapes cannot be run, so the model was not")
    assert "sh:minCount must be a literal with datatype xsd:integer" in line


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--questdb", "ftp://tsdb:9000"], "is not an HTTP address"),
        (["--questdb", "http://admin:pw@tsdb:9000"], "credentials go in the user and password"),
        (
            ["--history-retention-days", "90", "--history-rollup-retention-days", "30"],
            "the one-minute rollup is kept at least as long as raw rows",
        ),
        (["--history-retention-days", "0"], "is not a number of days"),
    ],
)
def test_history_flags_are_checked_before_anything_connects(
    flags: list[str],
    error: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KGTWIN_HOME", str(tmp_path))
    monkeypatch.setenv("QUESTDB_URL", "http://127.0.0.1:1")
    assert main(["ingest", "--broker", "mqtt://127.0.0.1:1", *flags]) == 2
    assert error in capsys.readouterr().err
    assert not (tmp_path / "history-spool").exists()


@pytest.mark.parametrize("command", ["ingest", "serve"])
def test_a_share_group_without_a_client_id_of_its_own_exits_2_saying_why(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--ingest"] if command == "serve" else []
    args = [command, *extra, "--broker", "mqtt://127.0.0.1:1", "--share-group", "dc1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "in share group 'dc1' every worker needs a client id of its own" in err
    assert main([*args[:-1], "dc/1"]) == 2
    assert "must not contain '/'" in capsys.readouterr().err
