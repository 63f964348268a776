"""What an analyst's Neo4j Browser shows of the twin: a style and a guide, generated from
the ontology the server loaded and served at ``/browser/kgtwin.grass`` and
``/browser/kgtwin.html``.

- The style (GRASS) gives every class a colour of its own (from its name, so it stays the
  same from one start to the next) and a caption: an asset's id, a point's id with its
  live value and unit, an ontology term's name. Neo4j Browser applies the rules in order,
  a later one winning, so they go from general to specific (``Twin``, then each class
  after its parents): a node takes the colour of its most specific class.
- The guide (Browser's HTML slides) says what the labels and relationship types mean, how
  live values and saved scenarios sit in the graph, lists the classes and relationship
  types, and has the recipes of ``static/browser/recipes.cypher`` as cards to run.

The local Neo4j (``kgtwin neo4j start``) runs ``:style`` and ``:guide`` with them when
Browser connects (``devkit.launcher.home.browser_settings``). Browser fetches them from
its own origin, so both are answered with ``Access-Control-Allow-Origin: *``; they hold
the ontology, which any reader of the API sees too.
"""

from __future__ import annotations

import colorsys
import hashlib
import html
from collections.abc import Iterable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from kgtwin.graph.labels import SYSTEM_LABELS
from kgtwin.ontology.catalogue import Catalogue, ClassSpec

RECIPES = Path(__file__).resolve().parent / "static" / "browser" / "recipes.cypher"
CORS = {"access-control-allow-origin": "*"}
# Browser asks with no-cache headers, so it sends a preflight first
PREFLIGHT = {
    **CORS,
    "access-control-allow-methods": "GET",
    "access-control-allow-headers": "pragma, cache-control",
    "access-control-max-age": "3600",
}

# captions of the labels kgtwin gives its own nodes (Twin: every twin node)
SYSTEM_CAPTIONS = {
    "Twin": "{id}",
    "OntologyTerm": "{name}",
    "Class": "{name}",
    "Relationship": "{type}",
    "Model": "{name}",
    "Scenario": "{name}",
    "ApiToken": "{name}",
}
POINT_CAPTION = "{id} {value} {unit}"


def colour(name: str) -> tuple[str, str, str]:
    """(fill, border, text) for a class: a hue from its name's hash, so a class keeps its
    colour and classes differ."""
    digest = hashlib.sha256(name.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    lightness = 0.45 + (digest[2] / 255) * 0.2
    fill = colorsys.hls_to_rgb(hue, lightness, 0.65)
    border = colorsys.hls_to_rgb(hue, lightness - 0.15, 0.65)
    text = "#000000" if lightness > 0.58 else "#FFFFFF"
    return _hex(fill), _hex(border), text


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(c * 255):02X}" for c in rgb)


def _general_first(classes: Iterable[ClassSpec]) -> list[ClassSpec]:
    """Each class after all its parents (then by name)."""
    by_name = {c.name: c for c in classes}
    depth: dict[str, int] = {}

    def level(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in depth:
            parents = [p for p in by_name[name].parents if p in by_name and p not in seen]
            depth[name] = 1 + max((level(p, seen | {name}) for p in parents), default=-1)
        return depth[name]

    return sorted(by_name.values(), key=lambda c: (level(c.name), c.name))


def _rule(label: str, props: dict[str, str]) -> str:
    body = "".join(f"  {key}: {value};\n" for key, value in props.items())
    return f"node.{label} {{\n{body}}}\n"


def grass(catalogue: Catalogue) -> str:
    """The Browser style of the twin's classes and of kgtwin's own labels."""
    parts = [
        "node {\n  diameter: 50px;\n  color: #A5ABB6;\n  border-color: #9AA1AC;\n"
        "  border-width: 2px;\n  text-color-internal: #FFFFFF;\n  font-size: 10px;\n"
        "  caption: '{id}';\n}\n",
        "relationship {\n  color: #A5ABB6;\n  shaft-width: 1px;\n  font-size: 8px;\n"
        "  padding: 3px;\n  text-color-external: #000000;\n  text-color-internal: #FFFFFF;\n"
        "  caption: '<type>';\n}\n",
        _rule("Twin", {"caption": "'{id}'"}),
    ]
    ancestors = _ancestors(catalogue)
    for spec in _general_first(catalogue.classes.values()):
        fill, border, text = colour(spec.name)
        props = {
            "color": fill,
            "border-color": border,
            "text-color-internal": text,
            "caption": f"'{POINT_CAPTION if 'Point' in ancestors[spec.name] else '{id}'}'",
        }
        if "Point" in ancestors[spec.name]:
            props["diameter"] = "35px"
        elif "Location" in ancestors[spec.name]:
            props["diameter"] = "65px"
        parts.append(_rule(spec.name, props))
    for label in sorted(SYSTEM_LABELS - {"Twin"}):
        fill, border, text = colour(label)
        caption = SYSTEM_CAPTIONS.get(label, "{id}")
        parts.append(
            _rule(
                label,
                {
                    "color": fill,
                    "border-color": border,
                    "text-color-internal": text,
                    "caption": f"'{caption}'",
                    "diameter": "40px",
                },
            )
        )
    return "\n".join(parts)


def _ancestors(catalogue: Catalogue) -> dict[str, frozenset[str]]:
    classes = catalogue.classes
    found: dict[str, frozenset[str]] = {}

    def of(name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        if name not in found:
            spec = classes.get(name)
            parents = () if spec is None else spec.parents
            inherited = frozenset().union(*(of(p, seen | {name}) for p in parents if p not in seen))
            found[name] = frozenset({name}) | inherited
        return found[name]

    return {name: of(name) for name in classes}


def recipes(text: str) -> list[tuple[str, str]]:
    """(title, Cypher) of each recipe: a ``//`` line, then the statement's lines."""
    found: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("//"):
            found.append((line.removeprefix("//").strip(), []))
        elif line.strip() and found:
            found[-1][1].append(line)
    return [(title, "\n".join(lines)) for title, lines in found if lines]


def guide(catalogue: Catalogue, cards: list[tuple[str, str]]) -> str:
    """The kgtwin guide for Neo4j Browser: slides of HTML."""
    e = html.escape
    classes = "".join(
        f"<tr><td><code>{e(c.name)}</code></td><td>{e(', '.join(c.parents))}</td>"
        f"<td>{e(c.comment)}</td></tr>"
        for c in _general_first(catalogue.classes.values())
    )
    relationships = "".join(
        f"<tr><td><code>{e(r.type)}</code></td><td>{e(r.direction or 'structural')}</td>"
        f"<td>{e(r.comment)}</td></tr>"
        for r in sorted(catalogue.relationships.values(), key=lambda r: r.type)
    )
    slides = [
        "<h3>The twin in this graph</h3>"
        "<p>Every twin node has the label <code>Twin</code>, the label of its class "
        "<em>and of every superclass</em> (<code>MATCH (p:Pump)</code> finds every kind of "
        "pump), its <code>iri</code>, its <code>id</code> (the IRI's local name) and the "
        "<code>model</code> it was loaded from. Each class has a colour of its own here; a "
        "node takes its most specific class's.</p>"
        "<p>The ontology is in the graph too: <code>(:Class)-[:SUBCLASS_OF]-&gt;(:Class)</code>"
        " and <code>(:Relationship {type, dependencyDirection})</code>; each loaded model is "
        "a <code>(:Model {name, digest})</code>. <code>Scenario</code> and "
        "<code>ApiToken</code> nodes are kgtwin's own.</p>",
        "<h3>Live values and scenarios</h3>"
        "<p>A point (<code>:Point</code>, linked by <code>HAS_POINT</code>) holds the present "
        "only: <code>value</code>, <code>unit</code>, <code>observedAt</code> (the source's "
        "time), <code>receivedAt</code>, <code>quality</code> and <code>stale</code>. A "
        "status point's <code>failedWhen</code> is the value that means its asset failed.</p>"
        "<p>A saved what-if is a <code>(:Scenario)</code> with its inputs and result, and "
        "<code>FAILS</code> to each asset it failed.</p>",
        f"<h3>Classes</h3><table><tr><th>class</th><th>parents</th><th></th></tr>{classes}</table>",
        "<h3>Relationship types</h3><p>Dependency direction: SupplierToConsumer means the "
        "object depends on the subject.</p>"
        f"<table><tr><th>type</th><th>dependency</th><th></th></tr>{relationships}</table>",
        *(
            f'<h3>{e(title)}</h3><pre class="code runnable">{e(cypher)}</pre>'
            for title, cypher in cards
        ),
    ]
    body = "".join(f'<slide class="row-fluid">{s}</slide>\n' for s in slides)
    return f'<title>kgtwin</title>\n<article class="guide">\n{body}</article>\n'


class Content:
    """The style and the guide of a server's catalogue, made on first request."""

    def __init__(self) -> None:
        self._made: tuple[Catalogue, str, str] | None = None

    def of(self, catalogue: Catalogue) -> tuple[str, str]:
        if self._made is None or self._made[0] is not catalogue:
            cards = recipes(RECIPES.read_text())
            self._made = (catalogue, grass(catalogue), guide(catalogue, cards))
        return self._made[1], self._made[2]


def routes() -> list[Route]:
    """``/browser/kgtwin.grass`` and ``/browser/kgtwin.html``, from the catalogue of the
    app's services."""
    content = Content()

    async def style_file(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        style, _page = content.of(request.app.state.services.catalogue)
        return PlainTextResponse(style, headers=CORS)

    async def guide_file(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        _style, page = content.of(request.app.state.services.catalogue)
        return HTMLResponse(page, headers=CORS)

    return [
        Route("/browser/kgtwin.grass", style_file, methods=["GET", "OPTIONS"]),
        Route("/browser/kgtwin.html", guide_file, methods=["GET", "OPTIONS"]),
    ]
