"""The example sites ``kgtwin demo --site`` runs: each one's Turtle file, model name, the
standard vocabularies its ontology needs, and the GraphQL examples the welcome text shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgtwin.ontology.files import SITES_DIR
from kgtwin.server.settings import Settings


@dataclass(frozen=True, slots=True)
class Example:
    """A GraphQL query for the welcome text, with a line saying what it asks."""

    says: str
    query: str


@dataclass(frozen=True, slots=True)
class DemoSite:
    name: str
    file: Path
    model: str
    vocabularies: tuple[str, ...]  # added to the configured ontology (--vocabulary)
    description: str  # for --help and the start line
    examples: tuple[Example, ...]  # run against the freshly loaded site
    live_examples: tuple[Example, ...]  # need the simulator's faults (--fault)
    fault_hint: str  # how to run the demo for the live examples
    history_point: str  # a point whose history the welcome text shows how to read

    def settings(self, settings: Settings) -> Settings:
        """``settings`` with the site's vocabularies added: the ontology the site is
        validated against, and the one the served API reads."""
        return settings.with_ontology(None, list(self.vocabularies))


DC1 = DemoSite(
    name="dc1",
    file=SITES_DIR / "dc1.ttl",
    model="dc1",
    vocabularies=(),
    description="a two-hall data centre (kgtwin's own vocabulary)",
    examples=(
        Example(
            "UPS A1 and its points, with their live values",
            '{ asset(id: "ups-a1") { label points { id value unit observedAt stale } } }',
        ),
        Example(
            "side A's utility feed and generator fail: side B carries everything",
            '{ whatIf(fail: ["utility-feed-a", "generator-a"]) {\n'
            "    summary degraded(first: 3) { id spare explanation } } }",
        ),
        Example(
            "UPS A1 fails: does its twin UPS trip on the load it takes over?",
            '{ whatIf(fail: ["ups-a1"], mode: CAPACITY) {\n'
            "    trips { id load capacity } loads(first: 5) { id load capacity source } } }",
        ),
    ),
    live_examples=(
        Example(
            "what the telemetry reports failed", "{ reportedFailures { id point observedAt } }"
        ),
        Example(
            "UPS B1 failing too takes hall 1's racks down",
            '{ whatIf(fail: ["ups-b1"], fromLiveState: true) {\n'
            "    summary impacted(first: 3) { id explanation } } }",
        ),
    ),
    fault_hint="--fault ups-a1",
    history_point="ups-a1.output-power",
)

OFFICE = DemoSite(
    name="office",
    file=SITES_DIR / "office.ttl",
    model="office",
    vocabularies=("brick",),
    description="an office building's chilled water and air handling, written in Brick",
    examples=(
        Example(
            "air handler 1 and its points, with their live values",
            '{ asset(id: "ahu-1") { label points { id value unit observedAt stale } } }',
        ),
        Example(
            "chilled water pump 1 fails: which zones lose cooling? None, pump 2 carries both coils",
            '{ whatIf(fail: ["chwp-1"]) {\n'
            "    summary impactedCount degraded { id spare explanation } } }",
        ),
        Example(
            "the chiller fails: every zone loses cooling",
            '{ whatIf(fail: ["ch-1"]) {\n    summary impacted(first: 20) { id explanation } } }',
        ),
    ),
    live_examples=(
        Example(
            "what the telemetry reports failed", "{ reportedFailures { id point observedAt } }"
        ),
        Example(
            "pump 1 is down: pump 2 failing too takes every zone's cooling",
            '{ whatIf(fail: ["chwp-2"], fromLiveState: true) {\n'
            "    summary impacted(first: 20) { id explanation } } }",
        ),
    ),
    fault_hint="--fault chwp-1",
    history_point="chwp-1.flow",
)

SITES: dict[str, DemoSite] = {site.name: site for site in (DC1, OFFICE)}
DEFAULT_SITE = DC1.name
