"""Benchmark: validating a Brick 1.5 building against Brick's own SHACL shapes, kgtwin's
checker (compiled shapes, SPARQL ones run once with Oxigraph, pySHACL for the rest)
against pySHACL alone, side by side in one run.

Generates a building of ``--entities`` entities with ``--violations`` seeded violations
(bench/brick_site.py) as Turtle files, then ``--runs`` times each, interleaved:

- kgtwin: read the files (Oxigraph), add Brick's triples, ``Checker.check``;
- pySHACL: read the files with rdflib, add Brick's triples,
  ``pyshacl.validate(data + Brick, shacl_graph=Brick, inference="none")``.

Brick.ttl is read once, before the timings, for both; compiling Brick's shapes
(``Checker(brick)``, once per ontology load) is timed apart. Prints the medians, the ratio
and whether the two found the same problems: the same set of (focus, path, component,
value), a blank node named by the subject and property pointing at it.

    .venv/bin/python bench/brick_validate.py [--entities 5000] [--violations 25] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import brickschema
import pyshacl
from rdflib import BNode, Graph
from rdflib.term import Node

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.brick_site import brick_site  # noqa: E402
from kgtwin.ontology.files import index, parse_file  # noqa: E402
from kgtwin.ontology.hybrid import Checker  # noqa: E402
from kgtwin.ontology.namespaces import SH  # noqa: E402
from kgtwin.ontology.shacl import ValidationResult  # noqa: E402
from kgtwin.ontology.triples import TripleIndex  # noqa: E402

BRICK = Path(brickschema.__file__).parent / "ontologies" / "1.5" / "Brick.ttl"
Problem = tuple[str, str, str, str]


def named(graph: Graph) -> Callable[[Node | None], str]:
    """A term as text; a blank node as the statement pointing at it."""

    def name(term: Node | None) -> str:
        if isinstance(term, BNode):
            referrers = sorted(f"{s.n3()} {p.n3()}" for s, p in graph.subject_predicates(term))
            return f"[{referrers[0] if referrers else '?'}]"
        return "-" if term is None else term.n3()

    return name


def kgtwin_problems(results: Iterable[ValidationResult], data: Graph) -> set[Problem]:
    name = named(data)
    return {(name(r.focus), name(r.path), r.component.n3(), name(r.value)) for r in results}


def pyshacl_problems(report: Graph, data: Graph) -> set[Problem]:
    name = named(data)
    problems = set()
    for r in report.objects(None, SH.result):
        path = report.value(r, SH.resultPath)
        problems.add(
            (
                name(report.value(r, SH.focusNode)),
                "(path)" if isinstance(path, BNode) else name(path),
                name(report.value(r, SH.sourceConstraintComponent)),
                name(report.value(r, SH.value)),
            )
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--violations", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    site = brick_site(args.entities, args.violations)
    folder = Path(tempfile.mkdtemp(prefix="kgtwin-brick-"))
    paths = site.write(folder)
    print(
        f"Brick 1.5 building: {site.entities:,} entities, {len(site.seeded)} seeded "
        f"violations, {len(paths)} Turtle files in {folder}",
        file=sys.stderr,
    )
    brick_file = parse_file(BRICK)
    brick = Graph()
    for triple in brick_file.triples():
        brick.add(triple)
    started = time.perf_counter()
    checker = Checker(brick)
    compile_s = time.perf_counter() - started

    def run_kgtwin() -> tuple[float, list[ValidationResult], TripleIndex]:
        started = time.perf_counter()
        data = index([parse_file(p) for p in paths])
        data.add_quads(brick_file.quads)
        results = checker.check(data)
        return time.perf_counter() - started, results, data

    def run_pyshacl() -> tuple[float, Graph, Graph]:
        started = time.perf_counter()
        data = Graph()
        for p in paths:
            data.parse(p, format="turtle")
        data += brick
        _conforms, report, _text = pyshacl.validate(
            data, shacl_graph=brick, inference="none", allow_warnings=True
        )
        assert isinstance(report, Graph)
        return time.perf_counter() - started, report, data

    ours: list[float] = []
    theirs: list[float] = []
    mine: set[Problem] = set()
    reference: set[Problem] = set()
    for i in range(args.runs):
        seconds, results, ours_data = run_kgtwin()
        ours.append(seconds)
        seconds_ref, report, data = run_pyshacl()
        theirs.append(seconds_ref)
        print(f"run {i + 1}: kgtwin {seconds:.2f} s, pySHACL {seconds_ref:.2f} s", file=sys.stderr)
        if i == 0:
            mine = kgtwin_problems(results, ours_data.to_graph())
            mine = {(f, "(path)" if p.startswith("[") else p, c, v) for f, p, c, v in mine}
            reference = pyshacl_problems(report, data)

    seeded = {
        (f"[<{s.focus}> <{s.via}>]" if s.via else f"<{s.focus}>", f"<{s.component}>")
        for s in site.seeded
    }
    found = {(f, c) for f, _, c, _ in mine}
    ours_m, theirs_m = statistics.median(ours), statistics.median(theirs)
    print(f"Brick 1.5 shapes over {site.entities:,} entities (+ Brick's {len(brick):,} triples)")
    print(f"  compiling Brick's shapes (once per ontology load): {compile_s:.2f} s")
    print(f"  shapes run by pySHACL in the hybrid: {len(checker.fallback)}")
    print(f"  kgtwin  median of {args.runs}: {ours_m:8.2f} s")
    print(f"  pySHACL median of {args.runs}: {theirs_m:8.2f} s   (baseline)")
    print(f"  ratio: kgtwin is {theirs_m / ours_m:.1f}x faster (goal: at least 10x)")
    same = mine == reference
    print(
        f"  problems: kgtwin {len(mine)}, pySHACL {len(reference)}, same set: {same}; "
        f"seeded violations found: {len(seeded & found)}/{len(seeded)}"
    )
    if not same:
        for p in sorted(mine - reference)[:10]:
            print("    only kgtwin:", p)
        for p in sorted(reference - mine)[:10]:
            print("    only pySHACL:", p)
    return 0 if same and seeded <= found else 1


if __name__ == "__main__":
    sys.exit(main())
