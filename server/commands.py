"""Commands that other packages add to ``kgtwin``, found through entry points.

A package declares each of its commands in its ``pyproject.toml``, named as the command::

    [project.entry-points."kgtwin.commands"]
    demo = "kgtwin.devkit.commands:DEMO"

and the object named there is a :class:`Command`. The core imports none of them by name:
:func:`discover` loads what the installed distributions declare in the group
:data:`GROUP`. An entry point whose module cannot be imported (its package, or a dependency
of the extra it needs, is not installed) is left out, so ``kgtwin --help`` does not list
it. kgtwin's development tooling comes this way (``devkit``: ``kgtwin demo``,
``kgtwin neo4j``, ``kgtwin simulate-telemetry``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Collection, Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, TextIO, TypeAlias, runtime_checkable

from kgtwin.server.settings import Settings

logger = logging.getLogger(__name__)

GROUP = "kgtwin.commands"

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


@runtime_checkable
class Command(Protocol):
    """A ``kgtwin`` command from another package."""

    @property
    def examples(self) -> Sequence[str]:
        """Lines for the examples of ``kgtwin --help``: the command line, then what it does."""
        ...

    def add_parser(self, commands: Subcommands, name: str) -> argparse.ArgumentParser:
        """Add the command's parser, called ``name``, to ``commands``."""
        ...

    def run(self, settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        """Run the command; the exit status. Errors of the core packages (``GraphError``,
        ``SettingsError``, ...) may be left to the CLI, which prints them as its own."""
        ...


def discover(
    found: Iterable[EntryPoint] | None = None, taken: Collection[str] = ()
) -> dict[str, Command]:
    """The commands the installed packages declare (``found``: the group's entry points),
    by name. Left out, with a log line why: an entry point whose module is not installed
    (quietly: DEBUG) or fails to import, one that names something other than a
    :class:`Command`, and one named as a command in ``taken`` (the core's own) or as one
    found before it."""
    points = entry_points(group=GROUP) if found is None else found
    commands: dict[str, Command] = {}
    for point in sorted(points, key=lambda p: p.name):
        if point.name in taken or point.name in commands:
            logger.warning(
                "ignoring the kgtwin command %r of %s: the name is taken", point.name, point.value
            )
            continue
        try:
            command = point.load()
        except ModuleNotFoundError as exc:  # its package or a dependency is not installed
            logger.debug("kgtwin command %r is not available: %s", point.name, exc)
            continue
        except (ImportError, AttributeError) as exc:  # installed, but broken
            logger.warning("ignoring the kgtwin command %r: %s", point.name, exc)
            continue
        if not isinstance(command, Command):
            logger.warning(
                "ignoring the kgtwin command %r: %s is not a command", point.name, point.value
            )
            continue
        commands[point.name] = command
    return commands
