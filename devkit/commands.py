"""The devkit's ``kgtwin`` commands: ``demo``, ``neo4j start|stop|status``,
``questdb start|stop|status`` and ``simulate-telemetry``.

Each is a :class:`server.commands.Command`, declared as an entry point of the group
``kgtwin.commands`` in pyproject.toml; the core's CLI finds them there without importing
devkit. Errors of the devkit (:class:`DevkitError`) print as ``kgtwin: error: ...`` with
exit status 1; the core's errors are left to the CLI, which prints them as its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from kgtwin.devkit import launcher, questdb
from kgtwin.devkit.demo_sites import DEFAULT_SITE, SITES
from kgtwin.devkit.errors import DevkitError
from kgtwin.devkit.launcher.memory import describe, format_size
from kgtwin.devkit.settings import local_neo4j, local_questdb
from kgtwin.devkit.simulator import SIMULATOR_CLIENT_ID, Format, SimulatorOptions
from kgtwin.server.cli import add_broker_options
from kgtwin.server.commands import Command, Subcommands
from kgtwin.server.settings import Settings

Body = Callable[[Settings, argparse.Namespace, TextIO, TextIO], int]


@dataclass(frozen=True, slots=True)
class DevkitCommand:
    """A ``kgtwin`` command of the devkit: how to add its parser, and what it runs."""

    add: Callable[[Subcommands, str], argparse.ArgumentParser]
    body: Body
    examples: tuple[str, ...] = ()

    def add_parser(self, commands: Subcommands, name: str) -> argparse.ArgumentParser:
        return self.add(commands, name)

    def run(self, settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        try:
            return self.body(settings, args, out, err)
        except DevkitError as exc:
            print(f"kgtwin: error: {exc}", file=err)
            return 1


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {value}")
    return number


def _not_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, got {value}")
    return number


# --- kgtwin demo ---------------------------------------------------------------------------

DEFAULT_FAULT_AFTER = 30.0  # seconds of the plant working before --fault takes effect


def _add_demo(commands: Subcommands, name: str) -> argparse.ArgumentParser:
    demo = commands.add_parser(
        name,
        help="the whole twin at once: Neo4j, broker, example site, telemetry, API",
        description="Start the local Neo4j (unless NEO4J_URI is set), an MQTT broker on "
        "127.0.0.1 (Mosquitto where it is installed, else an embedded Python broker; or "
        "--broker), load an example site (--site), start the telemetry simulator and the GraphQL "
        "server with ingestion on, and print the URLs and a token. Ctrl-C stops everything "
        "it started.",
    )
    demo.add_argument(
        "--site",
        choices=list(SITES),
        default=DEFAULT_SITE,
        help="the example site: "
        + "; ".join(f"{s.name}, {s.description}" for s in SITES.values())
        + f" (default {DEFAULT_SITE})",
    )
    demo.add_argument(
        "--broker",
        metavar="URL",
        help="use this MQTT broker (mqtt://HOST:PORT) instead of starting one",
    )
    demo.add_argument(
        "--embedded-broker",
        action="store_true",
        help="start the embedded Python broker even where Mosquitto is installed",
    )
    demo.add_argument(
        "--speed",
        type=_positive,
        default=5.0,
        metavar="X",
        help="telemetry X times as often as each point's expected interval (default 5)",
    )
    demo.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ASSET",
        help="this asset fails in the simulated plant (and its telemetry says so); repeatable",
    )
    demo.add_argument(
        "--fault-after",
        type=_not_negative,
        default=DEFAULT_FAULT_AFTER,
        metavar="SECONDS",
        help="the faults begin this long after the start, so that history holds the plant "
        f"before and after them (default {DEFAULT_FAULT_AFTER:g}; 0: from the start)",
    )
    return demo


def _run_demo(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from kgtwin.devkit.demo import DemoOptions, cmd_demo

    options = DemoOptions(
        args.speed, tuple(args.fault), args.fault_after, args.embedded_broker, args.site
    )
    return cmd_demo(settings.override(mqtt_url=args.broker), options, args.log_level, out, err)


DEMO = DevkitCommand(
    _add_demo,
    _run_demo,
    examples=(
        "  kgtwin demo                                "
        "everything at once: Neo4j, broker, dc1, telemetry, API",
        "  kgtwin demo --site office --fault chwp-1   "
        "the Brick office building, chilled water pump 1 failed",
    ),
)


# --- kgtwin neo4j --------------------------------------------------------------------------


def _add_neo4j(commands: Subcommands, name: str) -> argparse.ArgumentParser:
    neo4j = commands.add_parser(
        name,
        help="run a local Neo4j server for development (no Docker needed)",
        description="Run a real Neo4j Community server from Maven Central artifacts, bound to "
        "127.0.0.1, with its jars and data under KGTWIN_HOME (default .kgtwin/). Its heap and "
        "page cache are sized from the machine unless set (kgtwin neo4j start --help). "
        f"{_machine_sizes()}",
    )
    actions = neo4j.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser(
        "start",
        help="download once, start, wait until Bolt answers",
        description="Start the local Neo4j (downloading its jars once) and wait until Bolt "
        "answers. Heap and page cache are each a quarter of this machine's memory, the heap "
        "within 1g-8g and the page cache within 512m-8g, unless given here, in "
        "KGTWIN_NEO4J_HEAP / KGTWIN_NEO4J_PAGECACHE or in the config file's [local] section "
        f"(heap, pagecache). {_machine_sizes()} A running server keeps its sizes until it is "
        "stopped and started again.",
    )
    start.add_argument(
        "--heap", metavar="SIZE", help="Neo4j's heap, like 4g (default: from the machine)"
    )
    start.add_argument(
        "--pagecache",
        metavar="SIZE",
        help="Neo4j's page cache, like 2g (default: from the machine)",
    )
    actions.add_parser("stop", help="shut the server down cleanly")
    actions.add_parser(
        "status", help="is it running, where, with which credentials and how much memory"
    )
    return neo4j


def _machine_sizes() -> str:
    """What the sizes from the machine are here, for the help of ``kgtwin neo4j start``."""
    try:
        memory = launcher.machine_memory()
    except DevkitError:
        return ""
    heap, pagecache = launcher.machine_sizes(memory)
    return (
        f"On this machine ({describe(memory)}): heap {format_size(heap)}, page cache "
        f"{format_size(pagecache)}."
    )


def _run_neo4j(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.action == "start":
        settings = settings.override(local_heap=args.heap, local_pagecache=args.pagecache)
    config = local_neo4j(settings)
    if args.action == "start":
        status = launcher.start(config, progress=lambda line: print(line, file=err, flush=True))
        _print_status(status, out)
        return 0
    if args.action == "stop":
        stopped = launcher.stop(config)
        print("Neo4j stopped" if stopped else "Neo4j was not running", file=out)
        return 0
    status = launcher.status(config)
    _print_status(status, out)
    return 0 if status.running else 3


def _print_status(status: launcher.Neo4jStatus, out: TextIO) -> None:
    state = f"running (pid {status.pid})" if status.running else "not running"
    print(f"Neo4j {status.version}: {state}", file=out)
    print(f"  Bolt:    {status.bolt_uri}", file=out)
    print(f"  Browser: {status.http_url}/browser/", file=out)
    print(f"  user {status.user}, password {status.password or '(set on first start)'}", file=out)
    print(f"  home:    {status.home}", file=out)
    memory = status.memory
    print(
        f"  memory:  heap {memory.heap} ({_origin(memory.heap_origin)}), page cache "
        f"{memory.pagecache} ({_origin(memory.pagecache_origin)})",
        file=out,
    )
    print(f"           transactions at most {memory.transactions} together", file=out)


def _origin(origin: str | None) -> str:
    if origin == "machine":
        return "from the machine"
    if origin == "setting":
        return "from a setting"
    return "from its neo4j.conf"


NEO4J = DevkitCommand(
    _add_neo4j,
    _run_neo4j,
    examples=(
        "  kgtwin neo4j start                         start the local Neo4j (downloads it once)",
    ),
)


# --- kgtwin questdb ------------------------------------------------------------------------


def _add_questdb(commands: Subcommands, name: str) -> argparse.ArgumentParser:
    qdb = commands.add_parser(
        name,
        help="run a local QuestDB for telemetry history (no Docker needed)",
        description=f"Run a real QuestDB {questdb.QUESTDB_VERSION} server from its Maven "
        "Central jar, bound to 127.0.0.1, with its jar and data under KGTWIN_HOME (default "
        ".kgtwin/): HTTP on KGTWIN_QUESTDB_HTTP_PORT (default 9000) serves the web console, "
        "SQL over REST (/exec) and InfluxDB line protocol writes (/write); the PostgreSQL wire "
        "protocol listens on KGTWIN_QUESTDB_PG_PORT (default 8812). Both take user admin with "
        "a password generated on the first start into KGTWIN_HOME/questdb/password. kgtwin "
        "keeps telemetry history in it when QUESTDB_URL is unset (docs/history.md).",
    )
    actions = qdb.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser(
        "start",
        help="download once, start, wait until SQL answers over HTTP",
        description="Start the local QuestDB (downloading its jar once, about 30 MB) and wait "
        "until it answers SELECT 1 over HTTP; then print where its console is, its user and "
        "where its password is kept.",
    )
    actions.add_parser("stop", help="shut the server down cleanly")
    actions.add_parser("status", help="is it running, where, and with which user")
    return qdb


def _run_questdb(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = local_questdb(settings)
    if args.action == "start":
        status = questdb.start(config, progress=lambda line: print(line, file=err, flush=True))
        _print_questdb_status(status, settings, out)
        return 0
    if args.action == "stop":
        stopped = questdb.stop(config)
        print("QuestDB stopped" if stopped else "QuestDB was not running", file=out)
        return 0
    status = questdb.status(config)
    _print_questdb_status(status, settings, out)
    return 0 if status.running else 3


def _print_questdb_status(status: questdb.QuestDBStatus, settings: Settings, out: TextIO) -> None:
    state = f"running (pid {status.pid})" if status.running else "not running"
    password = settings.local_questdb_password_file
    kept = f"in {password}" if status.password else f"set on first start, in {password}"
    print(f"QuestDB {status.version}: {state}", file=out)
    print(f"  console:    {status.console_url}   (SQL: /exec, line protocol: /write)", file=out)
    print(f"  PostgreSQL: {status.pg_address}", file=out)
    print(f"  user {status.user}, password {kept}", file=out)
    print(f"  home:       {status.home}", file=out)


QUESTDB = DevkitCommand(
    _add_questdb,
    _run_questdb,
    examples=(
        "  kgtwin questdb start                       "
        "start the local QuestDB for history (downloads it once)",
    ),
)


# --- kgtwin simulate-telemetry -------------------------------------------------------------

SIMULATE_DESCRIPTION = """\
Read the points and the dependency graph from Neo4j and publish a physically plausible
value for every point to its MQTT topic (QoS 1), each at its expected interval, in the
payload formats ingestion accepts (bare values, JSON objects and SenML; some numbers in
another unit of their kind, such as W for a kW point). --fault reports assets failed, so
that the live state and the what-if answers change. Runs until Ctrl-C, SIGTERM or
--duration.
"""

SIMULATE_EPILOG = """\
examples:
  kgtwin simulate-telemetry --broker mqtt://127.0.0.1:1883
  kgtwin simulate-telemetry --broker mqtt://127.0.0.1:1883 --speed 10 --fault ups-a1
  kgtwin simulate-telemetry --broker mqtt://127.0.0.1:1883 --rate 500 --format senml
  kgtwin simulate-telemetry --broker mqtt://127.0.0.1:1883 --fault utility-feed-a --duration 60

What it publishes: electrical load that follows the IT load (a daily cycle) up from the racks
through PDUs, UPSs, switchgear and transformers to the feeds; temperatures that follow the
cooling (CRAH units, chilled water, cold aisles); pump flow, pressure, speed and vibration;
states (running, available, healthy, active source, transfer switch position). A failed
asset, and everything the failure takes down (as a what-if answers it), reports no power, no
flow and false on its status points; its load moves to the redundant suppliers, generators
start when their utility feed is lost, and halls warm when their cooling zone is down.
"""


def _add_simulate(commands: Subcommands, name: str) -> argparse.ArgumentParser:
    simulate = commands.add_parser(
        name,
        help="publish plausible telemetry for every point of the loaded site",
        description=SIMULATE_DESCRIPTION,
        epilog=SIMULATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_options(
        simulate,
        client_id_help="MQTT client id of the simulator (default kgtwin-simulator, or "
        "KGTWIN_MQTT_CLIENT_ID when it names another id than the ingestion worker's "
        "default); two clients with one id disconnect each other",
    )
    pace = simulate.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=_positive,
        default=1.0,
        metavar="X",
        help="report each point X times as often as its expected interval, with the "
        "simulated clock X times as fast (default 1)",
    )
    pace.add_argument(
        "--rate",
        type=_positive,
        metavar="N",
        help="publish N messages per second over all points together (sets the speed)",
    )
    simulate.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ASSET",
        help="report this asset (id or IRI) failed; repeatable",
    )
    simulate.add_argument(
        "--format",
        choices=[f.value for f in Format],
        default=Format.MIXED.value,
        help="payload format: bare values, JSON objects, SenML packs, or all three in turn "
        "(default mixed)",
    )
    simulate.add_argument(
        "--duration",
        type=_positive,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until stopped)",
    )
    simulate.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the measurement noise and of the unit and format choices: the same "
        "seed publishes the same values (default 0)",
    )
    return simulate


def _run_simulate(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Publish simulated telemetry until SIGINT, SIGTERM or ``--duration``."""
    import signal
    import threading

    from kgtwin.devkit.simulator import TelemetrySimulator
    from kgtwin.graph.connection import open_driver
    from kgtwin.graph.reader import Reader

    settings = settings.override(mqtt_url=args.broker)
    address = settings.broker_address()
    options = SimulatorOptions(
        speed=args.speed,
        rate=args.rate,
        faults=tuple(args.fault),
        format=Format(args.format),
        duration=args.duration,
        seed=args.seed,
        client_id=_simulator_client_id(settings, args.client_id),
    )

    def say(line: str) -> None:
        print(f"kgtwin: {line}", file=err, flush=True)

    driver = open_driver(*settings.neo4j_connection())
    try:
        simulator = TelemetrySimulator(
            address, Reader(driver, settings.neo4j_database), options, say=say
        )
        done = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: done.set())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            simulator.start()
            while not done.is_set() and not simulator.wait(0.2):
                pass
        finally:
            simulator.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        driver.close()
    return 0


def _simulator_client_id(settings: Settings, flag: str | None) -> str:
    """``--client-id``; else the configured id unless it is the ingestion worker's default
    (the two would disconnect each other); else kgtwin-simulator."""
    if flag:
        return flag
    if settings.mqtt_client_id != Settings().mqtt_client_id:
        return settings.mqtt_client_id
    return SIMULATOR_CLIENT_ID


SIMULATE_TELEMETRY = DevkitCommand(
    _add_simulate,
    _run_simulate,
    examples=(
        "  kgtwin simulate-telemetry --broker mqtt://127.0.0.1:1883 --fault ups-a1",
        "                                             publish plausible telemetry, UPS A1 failed",
    ),
)

if TYPE_CHECKING:  # what the core's CLI expects of each (server.commands.Command)
    _COMMANDS: tuple[Command, ...] = (DEMO, NEO4J, QUESTDB, SIMULATE_TELEMETRY)
