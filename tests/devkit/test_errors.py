"""One definition of each error class, and the devkit's errors apart from the core's: a
launcher's or a local broker's failure is never a ``GraphError`` (which the ingestion
worker retries on) nor any other core error."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

import pytest

import kgtwin.devkit.broker
from kgtwin.devkit import errors
from kgtwin.graph.errors import GraphError
from kgtwin.ingest.errors import IngestError
from kgtwin.ontology.errors import OntologyError
from kgtwin.server.settings import SettingsError
from kgtwin.simulation.errors import SimulationError

PACKAGES = tuple(
    f"kgtwin.{p}" for p in ("graph", "ingest", "ontology", "simulation", "server", "devkit")
)
DEVKIT_ERRORS = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, errors.DevkitError)
]


@pytest.mark.parametrize("error", DEVKIT_ERRORS, ids=lambda e: e.__name__)
def test_no_devkit_error_is_a_core_error(error: type[Exception]) -> None:
    core = (GraphError, IngestError, OntologyError, SimulationError, SettingsError)
    assert not issubclass(error, core)


def test_each_exception_class_is_defined_once() -> None:
    where: defaultdict[str, list[str]] = defaultdict(list)
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names = [package, *(m.name for m in pkgutil.walk_packages(path, f"{package}."))]
        for name in names:
            module = importlib.import_module(name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseException)
                    and value.__module__ == name
                ):
                    where[value.__name__].append(name)
    assert {name: modules for name, modules in where.items() if len(modules) > 1} == {}


def test_the_brokers_and_the_launcher_raise_the_same_port_and_timeout_errors() -> None:
    assert kgtwin.devkit.broker.PortInUse is errors.PortInUse
    assert kgtwin.devkit.broker.StartTimeout is errors.StartTimeout
