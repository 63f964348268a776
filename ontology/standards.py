"""Standard vocabularies kgtwin knows how to find, each with the alignment that tells the
engine what its terms mean (``ontology/alignments/``).

``--vocabulary brick`` adds Brick 1.5 (with its ASHRAE 223P and ``ref:`` terms) as shipped
in the ``brickschema`` package, and ``alignments/brick.ttl``, to the ontology files.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path

from kgtwin.ontology.errors import OntologyError

ALIGNMENTS_DIR = Path(__file__).resolve().parent / "alignments"


def _brick() -> Path:
    spec = importlib.util.find_spec("brickschema")
    if spec is None or spec.origin is None:
        raise OntologyError(
            "the vocabulary 'brick' needs the brickschema package (Brick 1.5): "
            "pip install 'brickschema==0.8.0' (it comes with kgtwin[demo])"
        )
    path = Path(spec.origin).parent / "ontologies" / "1.5" / "Brick.ttl"
    if not path.is_file():
        raise OntologyError(f"the brickschema package has no Brick 1.5 ({path} is missing)")
    return path


# name -> where the vocabulary's file is
STANDARDS: dict[str, Callable[[], Path]] = {"brick": _brick}


def vocabulary_files(names: Iterable[str]) -> list[Path]:
    """The files of the named standard vocabularies, each followed by its alignment."""
    files: list[Path] = []
    for name in names:
        find = STANDARDS.get(name)
        if find is None:
            raise OntologyError(
                f"unknown vocabulary {name!r}; known: {', '.join(sorted(STANDARDS))} "
                "(give any other one's Turtle files, and an alignment, with --ontology)"
            )
        files += [find(), ALIGNMENTS_DIR / f"{name}.ttl"]
    return files
