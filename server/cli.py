"""``kgtwin``: the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from graph import launcher
from graph.connection import open_driver, ping
from graph.errors import CommitUnknown, GraphError, Neo4jUnavailable
from graph.summary import summarize
from graph.tokens import (
    TokenError,
    TokenInfo,
    check_token_name,
    create_token,
    list_tokens,
    revoke_token,
)
from ontology.errors import OntologyError
from server.auth import Role
from server.model_commands import Output, cmd_load, cmd_validate
from server.settings import Settings, SettingsError, check_model_name
from server.simulator import SIMULATOR_CLIENT_ID, Format, SimulatorOptions
from simulation.errors import SimulationError, UnknownAsset

LOAD_UNKNOWN = 3  # `kgtwin load`: whether the model was saved is unknown

DESCRIPTION = """\
kgtwin - a digital twin server built around a knowledge graph.

The ontology (Turtle + SHACL under ontology/) says what assets are; models (sites) are
validated against it and loaded into Neo4j, where analysts explore them.
"""

EPILOG = """\
examples:
  kgtwin demo                                everything at once: Neo4j, broker, dc1, telemetry, API
  kgtwin neo4j start                         start the local Neo4j (downloads it once)
  kgtwin validate ontology/sites/dc1.ttl     check a site, change nothing
  kgtwin load ontology/sites/dc1.ttl         validate, then sync the site into Neo4j
  kgtwin info                                what the graph holds and how to look at it
  kgtwin serve --port 8000                   the GraphQL API at http://127.0.0.1:8000/graphql
  kgtwin ingest --broker mqtt://127.0.0.1:1883   live telemetry from MQTT onto the points
  kgtwin simulate-telemetry --broker mqtt://127.0.0.1:1883 --fault ups-a1
                                             publish plausible telemetry, UPS A1 failed

Neo4j: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD (and NEO4J_DATABASE) point at any server;
without NEO4J_URI the local one from `kgtwin neo4j start` is used. Every setting can also
come from a TOML file (--config PATH or KGTWIN_CONFIG); flags override the environment,
which overrides the file.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kgtwin",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="TOML settings file (default: $KGTWIN_CONFIG; see server/settings.py)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    validate = commands.add_parser(
        "validate",
        help="check Turtle files against the ontology and its SHACL shapes",
        description="Parse and SHACL-validate FILEs against the ontology. Prints one line per "
        "problem (file:line: subject property: what is wrong (expected ...; found ...)) and "
        "exits 1 if there is any. Never writes to Neo4j.",
    )
    _add_model_files(validate)

    load = commands.add_parser(
        "load",
        help="validate a model, then sync it into Neo4j",
        description="Validate FILEs (they form one model), then make the graph hold exactly that "
        "model: new subjects are created, changed ones updated, removed ones deleted; other "
        "models are never touched. A model with problems changes nothing. A second load of "
        "the same model waits for the first to finish. Exit status: 0 the model is saved, 1 "
        "it is not (problems, or an error), 3 whether it is saved is unknown (Neo4j went away "
        "as it committed; load it again once Neo4j is back).",
    )
    _add_model_files(load)
    load.add_argument("--model", help="model name (default: the first file's name without .ttl)")
    load.add_argument("--batch-size", type=int, default=10_000, help="rows per UNWIND batch")

    commands.add_parser("info", help="summarise what the graph holds and how to look at it")

    serve = commands.add_parser(
        "serve",
        help="run the GraphQL API (uvicorn)",
        description="Serve GraphQL at /graphql (GraphiQL in a browser) and health at /healthz. "
        "Limits, timeouts and anonymous read come from the settings (the [server] and "
        "[limits] sections of the config file, or KGTWIN_MAX_COMPLEXITY, "
        "KGTWIN_REQUEST_TIMEOUT, KGTWIN_RATE_LIMIT, KGTWIN_ANONYMOUS_READ and the others "
        "listed in server/settings.py).",
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or KGTWIN_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000, or KGTWIN_PORT)")
    serve.add_argument(
        "--ingest",
        action="store_true",
        default=None,
        help="also run the MQTT ingestion worker (or KGTWIN_INGEST=true); needs --broker",
    )
    _add_broker_options(serve)
    _add_ingest_bounds(serve)

    ingest = commands.add_parser(
        "ingest",
        help="run the MQTT ingestion worker: live values onto point nodes",
        description="Subscribe to the topics of every point in the graph and set each "
        "point's live value (value, observedAt, receivedAt, quality, stale) from the "
        "messages: a bare number or boolean, JSON {value, ts, unit, quality} or SenML. "
        "Messages that cannot be applied go to kgtwin/deadletter/<topic> with the reason. "
        "QoS 1, persistent session, acknowledged only once written: stop it any time.",
    )
    _add_broker_options(ingest)
    _add_ingest_bounds(ingest)
    ingest.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics and the worker's health on "
        "/healthz (200, or 503 when stalled or failed; default: none)",
    )
    _add_simulate_command(commands)
    _add_demo_command(commands)

    neo4j = commands.add_parser(
        "neo4j",
        help="run a local Neo4j server for development (no Docker needed)",
        description="Run a real Neo4j Community server from Maven Central artifacts, bound to "
        "127.0.0.1, with its jars and data under KGTWIN_HOME (default .kgtwin/).",
    )
    neo4j_commands = neo4j.add_subparsers(dest="action", metavar="ACTION", required=True)
    neo4j_commands.add_parser("start", help="download once, start, wait until Bolt answers")
    neo4j_commands.add_parser("stop", help="shut the server down cleanly")
    neo4j_commands.add_parser("status", help="is it running, where, with which credentials")
    _add_token_command(commands)
    return parser


TOKEN_EPILOG = """\
roles: viewer (read) < operator < admin; a role may do everything the ones below it may.

examples:
  kgtwin token create --role viewer --name dashboard   prints the token, once
  kgtwin token list
  kgtwin token revoke dashboard

Clients send the token as `Authorization: Bearer <token>`. Only its SHA-256 is kept, so a
lost token cannot be shown again: revoke it and create a new one. A revoked token stops
working within a few seconds (servers cache token lookups briefly).
"""


def _add_token_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser(
        "token",
        help="create, list and revoke the API's bearer tokens",
        description="Manage the bearer tokens that GraphQL clients authenticate with.\n"
        "Tokens live in Neo4j (as hashes) and are shared by every server on that database.",
        epilog=TOKEN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create a token and print it (only the token, on stdout, this once)",
        description="Create a token and print it alone on stdout, so that "
        "`TOKEN=$(kgtwin token create --role viewer)` captures it. It is never shown again.",
    )
    create.add_argument(
        "--role",
        required=True,
        choices=[role.label for role in Role],
        help="what the token may do (viewer < operator < admin)",
    )
    create.add_argument(
        "--name",
        type=_token_name,
        help="a unique name to list and revoke it by (default: token-<8 hex digits>)",
    )
    actions.add_parser("list", help="list tokens: name, role, created, status (never secrets)")
    revoke = actions.add_parser(
        "revoke",
        help="revoke a token by name (it stops working within seconds)",
        description="Revoke the token NAME. It stays listed as revoked; its name stays taken.",
    )
    revoke.add_argument("name", metavar="NAME")


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


def _add_demo_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="the whole twin at once: Neo4j, broker, example site, telemetry, API",
        description="Start the local Neo4j (unless NEO4J_URI is set), an MQTT broker on "
        "127.0.0.1 (Mosquitto where it is installed, else an embedded Python broker; or "
        "--broker), load the example site, start the telemetry simulator and the GraphQL "
        "server with ingestion on, and print the URLs and a token. Ctrl-C stops everything "
        "it started.",
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
        help="start with this asset reported failed by the simulator; repeatable",
    )


def _add_simulate_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser(
        "simulate-telemetry",
        help="publish plausible telemetry for every point of the loaded site",
        description=SIMULATE_DESCRIPTION,
        epilog=SIMULATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_broker_options(
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


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {value}")
    return number


def _add_broker_options(
    command: argparse.ArgumentParser,
    client_id_help: str = "MQTT client id: the broker keeps this worker's session under it "
    "(default kgtwin-ingest, or KGTWIN_MQTT_CLIENT_ID)",
) -> None:
    command.add_argument(
        "--broker",
        metavar="URL",
        help="mqtt://[user[:password]@]host[:port] or mqtts://... (or KGTWIN_MQTT_URL; "
        "KGTWIN_MQTT_USERNAME / KGTWIN_MQTT_PASSWORD keep credentials out of the URL)",
    )
    command.add_argument("--client-id", help=client_id_help)


def _add_ingest_bounds(command: argparse.ArgumentParser) -> None:
    """The ingestion worker's bounds (server/settings.py, section [ingest])."""
    command.add_argument(
        "--receive-maximum",
        metavar="N",
        help="messages the broker may send before the worker acknowledges them (MQTT 5 "
        "Receive Maximum; default 10000, or KGTWIN_INGEST_RECEIVE_MAXIMUM)",
    )
    command.add_argument(
        "--max-payload-bytes",
        metavar="BYTES",
        help="a larger message is dead-lettered as too_large (default 262144, or "
        "KGTWIN_INGEST_MAX_PAYLOAD_BYTES)",
    )
    command.add_argument(
        "--max-queued-bytes",
        metavar="BYTES",
        help="bytes of messages held and not yet acknowledged; past it the worker stops "
        "reading until some are (default 67108864, or KGTWIN_INGEST_MAX_QUEUED_BYTES)",
    )
    command.add_argument(
        "--stall-after",
        metavar="SECONDS",
        help="health reports a stall when messages wait this long with none finished "
        "(default 60, or KGTWIN_INGEST_STALL_AFTER)",
    )


def _ingest_bounds(args: argparse.Namespace) -> dict[str, object]:
    return {
        "receive_maximum": args.receive_maximum,
        "max_payload_bytes": args.max_payload_bytes,
        "max_queued_bytes": args.max_queued_bytes,
        "stall_after": args.stall_after,
    }


def _token_name(value: str) -> str:
    try:
        return check_token_name(value)
    except TokenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_model_files(command: argparse.ArgumentParser) -> None:
    """The FILE..., --ontology, --quiet and --json arguments that validate and load share."""
    command.add_argument("files", nargs="+", type=Path, metavar="FILE")
    command.add_argument(
        "--ontology",
        action="append",
        type=Path,
        metavar="TTL",
        help="ontology file (repeatable; default: every .ttl under ontology/ but sites/)",
    )
    shown = command.add_mutually_exclusive_group()
    shown.add_argument(
        "--quiet",
        "-q",
        dest="output",
        action="store_const",
        const=Output.QUIET,
        help="no progress and no summary: only the problems, errors and the exit status",
    )
    shown.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const=Output.JSON,
        help="one JSON document on stdout (ok, triples, problems, and what a load changed)",
    )
    command.set_defaults(output=Output.PERSON)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    out, err = sys.stdout, sys.stderr
    settings: Settings | None = None
    try:
        settings = Settings.from_env(config=args.config)
        if args.command == "validate":
            return cmd_validate(
                settings.with_ontology(args.ontology), args.files, args.output, out, err
            )
        if args.command == "load":
            model = check_model_name(args.model or args.files[0].stem)
            return cmd_load(
                settings.with_ontology(args.ontology),
                args.files,
                model,
                args.batch_size,
                args.output,
                out,
                err,
            )
        if args.command == "info":
            return cmd_info(settings, out)
        if args.command == "token":
            return cmd_token(settings, args, out, err)
        if args.command == "serve":
            served = settings.override(
                host=args.host,
                port=args.port,
                ingest=args.ingest,
                mqtt_url=args.broker,
                mqtt_client_id=args.client_id,
                **_ingest_bounds(args),
            )
            return cmd_serve(served, args.log_level, err)
        if args.command == "ingest":
            worker = settings.override(
                mqtt_url=args.broker, mqtt_client_id=args.client_id, **_ingest_bounds(args)
            )
            return cmd_ingest(worker, args.metrics_port, err)
        if args.command == "demo":
            from server.demo import DemoOptions, cmd_demo

            options = DemoOptions(args.speed, tuple(args.fault), args.embedded_broker)
            return cmd_demo(
                settings.override(mqtt_url=args.broker), options, args.log_level, out, err
            )
        if args.command == "simulate-telemetry":
            return cmd_simulate(settings.override(mqtt_url=args.broker), args, err)
        return cmd_neo4j(settings, args.action, out, err)
    except (SettingsError, OntologyError, GraphError, SimulationError) as exc:
        print(f"kgtwin: error: {exc}", file=err)
        if isinstance(exc, CommitUnknown):
            return LOAD_UNKNOWN
        local = settings is not None and not settings.neo4j_uri
        if isinstance(exc, Neo4jUnavailable) and local and args.command != "neo4j":
            print("kgtwin: is the local Neo4j running? `kgtwin neo4j start`", file=err)
        return 2 if isinstance(exc, SettingsError | UnknownAsset) else 1
    except KeyboardInterrupt:
        print("kgtwin: interrupted", file=err)
        return 130


def cmd_info(settings: Settings, out: TextIO) -> int:
    uri, user, password = settings.neo4j_connection()
    driver = open_driver(uri, user, password)
    try:
        version = ping(driver, settings.neo4j_database)
        summary = summarize(driver, settings.neo4j_database)
    finally:
        driver.close()
    print(f"Neo4j {version} at {uri}", file=out)
    if not summary.models:
        print("The graph holds no model yet: try `kgtwin load ontology/sites/dc1.ttl`.", file=out)
    for m in summary.models:
        print(
            f"  model {m.name}: {m.nodes} nodes, {m.relationships} relationships, "
            f"loaded {m.loaded_at}",
            file=out,
        )
    if summary.labels:
        print("Twin nodes by label:", file=out)
        print("  " + ", ".join(f"{label} {count}" for label, count in summary.labels), file=out)
    if summary.rel_types:
        print("Relationships by type:", file=out)
        print("  " + ", ".join(f"{t} {count}" for t, count in summary.rel_types), file=out)
    if not settings.neo4j_uri:
        print(
            f"\nNeo4j Browser: http://127.0.0.1:{settings.local_http_port}/browser/ "
            f"(connect to {uri}; user and password: `kgtwin neo4j status`)",
            file=out,
        )
    print(
        "Try in Browser:\n"
        "  MATCH p = (:UtilityFeed)-[:FEEDS*1..4]->(:UPS) RETURN p\n"
        "  MATCH (a:Asset)-[:HAS_POINT]->(p:Point)\n"
        "    RETURN a.id, p.id, p.unit, p.mqttTopic LIMIT 25\n"
        "  MATCH (c:Class)-[:SUBCLASS_OF*]->(:Class {name: 'Asset'}) RETURN c.name, c.comment",
        file=out,
    )
    return 0


def cmd_serve(settings: Settings, log_level: str, err: TextIO) -> int:
    # Imported here: the other commands do not need the web stack.
    import uvicorn

    from server.app import create_app
    from server.listener import uvicorn_config

    app = create_app(settings)
    print(
        f"kgtwin: serving GraphQL on http://{settings.host}:{settings.port}/graphql "
        f"(anonymous read {'on' if settings.anonymous_read else 'off'})",
        file=err,
        flush=True,
    )
    server = uvicorn.Server(uvicorn_config(app, settings, log_level=log_level.lower()))
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot bind or start
        started = not exc.code
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it stopped on
        started = server.started
    else:
        started = server.started
    if not started:
        print(
            f"kgtwin: error: the server could not start on {settings.host}:{settings.port}",
            file=err,
        )
        return 1
    failure = getattr(app.state, "ingest_failure", None)
    if failure is not None:  # the ingestion worker gave up and shut the server down
        print(f"kgtwin: error: ingestion stopped: {failure}", file=err)
        return 1
    return 0


def cmd_ingest(settings: Settings, metrics_port: int | None, err: TextIO) -> int:
    """Run the ingestion worker until SIGINT or SIGTERM (0), or until it gives up after
    repeated unexpected errors (1: a supervisor should start it again)."""
    import signal
    import threading

    from prometheus_client import CollectorRegistry

    from ingest.metrics import IngestMetrics
    from ingest.worker import IngestWorker
    from server.ingest_health import serve_ingest_http

    config = settings.ingest_config()
    registry = CollectorRegistry()
    driver = open_driver(*settings.neo4j_connection())
    worker = IngestWorker(config, driver, IngestMetrics(registry))
    http = serve_ingest_http(metrics_port, registry, worker.health) if metrics_port else None
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    print(
        f"kgtwin: ingesting from {config.address.safe_url} as {config.client_id!r}"
        + (f"; metrics on http://127.0.0.1:{metrics_port}/metrics" if metrics_port else ""),
        file=err,
        flush=True,
    )
    worker.start()
    try:
        while not done.wait(0.5) and worker.failure is None:
            pass
    finally:
        print("kgtwin: stopping: writing what is queued, then disconnecting", file=err, flush=True)
        worker.stop()
        driver.close()
        if http is not None:
            http.shutdown()
    if worker.failure is not None:
        print(f"kgtwin: error: ingestion stopped: {worker.failure}", file=err)
        return 1
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace, err: TextIO) -> int:
    """Publish simulated telemetry until SIGINT, SIGTERM or ``--duration``."""
    import signal
    import threading

    from graph.reader import Reader
    from server.simulator import TelemetrySimulator

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


def cmd_neo4j(settings: Settings, action: str, out: TextIO, err: TextIO) -> int:
    config = settings.local_neo4j
    if action == "start":
        status = launcher.start(config, progress=lambda line: print(line, file=err, flush=True))
        _print_status(status, out)
        return 0
    if action == "stop":
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


def cmd_token(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    uri, user, password = settings.neo4j_connection()
    driver = open_driver(uri, user, password)
    database = settings.neo4j_database
    try:
        ping(driver, database)  # one try: a stopped Neo4j is said at once, not after 30 s
        if args.action == "create":
            issued = create_token(driver, args.role, args.name, database=database)
            print(issued.token, file=out, flush=True)  # alone on stdout: $(kgtwin token ...)
            print(f"token {issued.name!r} ({issued.role}) created; it is shown once", file=err)
        elif args.action == "revoke":
            revoked_now = revoke_token(driver, args.name, database=database)
            state = "revoked" if revoked_now else "was already revoked"
            print(f"token {args.name!r} {state}", file=out)
        else:
            _print_tokens(list_tokens(driver, database=database), out, err)
    finally:
        driver.close()
    return 0


def _print_tokens(infos: list[TokenInfo], out: TextIO, err: TextIO) -> None:
    if not infos:
        print("no tokens yet: try `kgtwin token create --role viewer`", file=err)
        return
    rows = [("NAME", "ROLE", "CREATED", "STATUS")]
    for info in infos:
        status = f"revoked {_utc(info.revoked_at)}" if info.revoked_at else "active"
        rows.append((info.name, info.role, _utc(info.created_at), status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
