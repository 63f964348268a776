"""Neo4j Browser set up for the twin: the style and the guide made from the ontology, and
a headless Chromium that connects Browser to a local Neo4j started by the launcher and
finds both applied."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgtwin.devkit.launcher import free_ports
from kgtwin.devkit.launcher.home import browser_settings
from kgtwin.ontology.catalogue import Catalogue
from kgtwin.ontology.files import default_ontology_files
from kgtwin.ontology.validate import Ontology
from kgtwin.server.app import create_app
from kgtwin.server.neo4j_browser import RECIPES, grass, guide, recipes
from tests.browser import browser, not_neo4j_browsers
from tests.conftest import REPO
from tests.neo4j_service import private_neo4j
from tests.server.serving import serving, settings_for

EXTRA = """
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dc: <https://w3id.org/kgtwin/datacentre#> .
@prefix x: <https://example.org/battery#> .
x:BatteryCabinet a owl:Class ; rdfs:subClassOf dc:UPS ;
    rdfs:label "battery cabinet" ; rdfs:comment "Strings of batteries behind a UPS." .
"""


def catalogue(*extra: Path) -> Catalogue:
    ontology = Ontology.load([*default_ontology_files(), *extra])
    return Catalogue.build(ontology.graph, ontology.vocabulary)


def rules(style: str) -> list[str]:
    """The labels the style has a rule for, in its order."""
    return re.findall(r"^node\.(\w+) \{", style, re.MULTILINE)


def test_every_class_gets_a_colour_of_its_own_and_the_specific_rule_comes_last(
    tmp_path: Path,
) -> None:
    extra = tmp_path / "battery.ttl"
    extra.write_text(EXTRA)
    style = grass(catalogue(extra))
    labels = rules(style)
    assert "BatteryCabinet" in labels  # a class an SME adds is styled without a code change
    assert labels[0] == "Twin"
    for general, specific in (("Asset", "ElectricalAsset"), ("ElectricalAsset", "UPS")):
        assert labels.index(general) < labels.index(specific)
    assert labels.index("UPS") < labels.index("BatteryCabinet")
    assert {"Class", "Relationship", "Model", "Scenario", "ApiToken"} <= set(labels)
    colours = re.findall(r"^  color: (#[0-9A-F]{6});", style, re.MULTILINE)
    assert len(set(colours)) > 0.9 * len(colours)  # hashed hues: a rare collision at most
    assert grass(catalogue(extra)) == style  # the same from one start to the next
    point = style[style.index("node.TemperatureSensor {") :].split("\n}\n")[0]
    assert "caption: '{id} {value} {unit}';" in point


def test_the_guide_has_the_classes_and_the_readme_recipes_as_cards() -> None:
    cards = recipes(RECIPES.read_text())
    page = guide(catalogue(), cards)
    assert page.startswith("<title>kgtwin</title>")
    assert page.count("<slide") == 4 + len(cards)
    assert page.count('<pre class="code runnable">') == len(cards) >= 8
    assert "<code>UPS</code>" in page
    assert "<code>FEEDS</code>" in page
    readme = (REPO / "README.md").read_text()
    assert "```cypher\n" + RECIPES.read_text() + "```" in readme  # one set of recipes


def test_the_launcher_points_browser_at_the_servers_style_and_guide() -> None:
    assert browser_settings("http://127.0.0.1:8000/browser") == {
        "browser.post_connect_cmd": "style http://127.0.0.1:8000/browser/kgtwin.grass; "
        "guide http://127.0.0.1:8000/browser/kgtwin.html",
        "browser.remote_content_hostname_whitelist": "127.0.0.1",
    }
    assert browser_settings(None) == {}


@pytest.mark.neo4j
@pytest.mark.browser
def test_browser_connected_to_the_local_neo4j_shows_the_guide_and_the_style() -> None:
    (port,) = free_ports(1)
    content = f"http://127.0.0.1:{port}/browser"
    with private_neo4j(REPO / ".kgtwin", "neo4j-browser", content) as (cfg, running):
        assert running.password is not None
        settings = settings_for(running.bolt_uri, running.user, running.password)
        with serving(create_app(settings), settings=settings, port=port), browser() as page:
            page.connect_neo4j_browser(cfg.http_port, running.password)
            text = page.wait_for(
                "document.body.innerText.includes('The twin in this graph') "
                "&& document.body.innerText",
                60,
            )
            assert "kgtwin" in text  # the guide's title, in the guide drawer
            assert "node.UPS {" in text  # the :style frame shows the twin's style
            assert f"{content}/kgtwin.html" in page.requests
            assert not not_neo4j_browsers(page.outside()), page.outside()
