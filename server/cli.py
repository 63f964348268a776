"""``kgtwin``: the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from kgtwin.graph.connection import open_driver, ping
from kgtwin.graph.errors import CommitUnknown, GraphError, Neo4jUnavailable, UnknownModel
from kgtwin.graph.summary import summarize
from kgtwin.graph.sync import BATCH_SIZE, TRANSACTION_ROWS, WRITERS
from kgtwin.graph.tokens import (
    TokenError,
    TokenInfo,
    check_token_name,
    create_token,
    list_tokens,
    revoke_token,
)
from kgtwin.ontology.errors import OntologyError
from kgtwin.ontology.naming import renamed
from kgtwin.server.auth import Role
from kgtwin.server.commands import Command, Subcommands, discover
from kgtwin.server.export_command import EXAMPLES as EXPORT_EXAMPLES
from kgtwin.server.export_command import add_export_parser, cmd_export
from kgtwin.server.history_export import EXAMPLES as HISTORY_EXAMPLES
from kgtwin.server.history_export import add_history_parser, cmd_history
from kgtwin.server.model_commands import Output, add_ontology_arguments, cmd_load, cmd_validate
from kgtwin.server.settings import Settings, SettingsError, check_model_name
from kgtwin.simulation.errors import SimulationError, UnknownAsset

LOAD_UNKNOWN = 3  # `kgtwin load`: whether the model was saved is unknown

DESCRIPTION = """\
kgtwin - a digital twin server built around a knowledge graph.

The ontology (Turtle + SHACL under ontology/) says what assets are; models (sites) are
validated against it and loaded into Neo4j, where analysts explore them.
"""

EXAMPLES = (
    "  kgtwin validate ontology/sites/dc1.ttl     check a site, change nothing",
    "  kgtwin load ontology/sites/dc1.ttl         validate, then sync the site into Neo4j",
    "  kgtwin info                                what the graph holds and how to look at it",
    *EXPORT_EXAMPLES,
    *HISTORY_EXAMPLES,
    "  kgtwin serve --port 8000                   the GraphQL API at http://127.0.0.1:8000/graphql",
    "  kgtwin ingest --broker mqtt://127.0.0.1:1883   live telemetry from MQTT onto the points",
)

SETTINGS_NOTE = """\
Neo4j: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD (and NEO4J_DATABASE) point at any server;
without NEO4J_URI the local one is used (127.0.0.1, KGTWIN_NEO4J_BOLT_PORT, with the password
it keeps under KGTWIN_HOME). Every setting can also come from a TOML file (--config PATH or
KGTWIN_CONFIG); flags override the environment, which overrides the file.
"""

CORE_COMMANDS = ("validate", "load", "export", "history", "info", "serve", "ingest", "token")


def epilog(commands: Mapping[str, Command]) -> str:
    """The examples of the core's commands and of the others found, then the settings."""
    examples = [*EXAMPLES, *(line for c in commands.values() for line in c.examples)]
    return "examples:\n" + "\n".join(examples) + "\n\n" + SETTINGS_NOTE


def build_parser(others: Mapping[str, Command] | None = None) -> argparse.ArgumentParser:
    """The parser of every command: the core's, and ``others`` (default: those the
    installed packages declare, see :mod:`server.commands`)."""
    found = discover(taken=CORE_COMMANDS) if others is None else others
    parser = argparse.ArgumentParser(
        prog="kgtwin",
        description=DESCRIPTION,
        epilog=epilog(found),
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
    load.add_argument(
        "--batch-size",
        type=_rows,
        default=BATCH_SIZE,
        help=f"rows per UNWIND statement (default {BATCH_SIZE:,})",
    )
    load.add_argument(
        "--transaction-rows",
        type=_rows,
        default=TRANSACTION_ROWS,
        help="rows written per transaction, which bounds the memory the load takes in Neo4j "
        f"(default {TRANSACTION_ROWS:,}). A load that writes more is committed in several "
        "transactions, and the model is hidden from readers until the last one",
    )
    load.add_argument(
        "--writers",
        type=_writers,
        default=WRITERS,
        help=f"sessions writing at once when the load takes several transactions (default "
        f"{WRITERS}; 1 to {MAX_WRITERS}): each keeps one of Neo4j's cores busy, and holds a "
        "batch in Neo4j's heap until it commits (on 2 cores, 3 writers loaded a 1M-asset "
        "site slower than 2)",
    )
    load.add_argument(
        "--verify",
        action="store_true",
        help="validate and sync even when the files and the ontology are those the model was "
        "loaded from (by their digest), which otherwise changes nothing at once: the sync "
        "repairs what was changed by hand in the graph",
    )

    add_export_parser(commands)
    add_history_parser(commands)

    commands.add_parser("info", help="summarise what the graph holds and how to look at it")

    serve = commands.add_parser(
        "serve",
        help="run the GraphQL API (uvicorn)",
        description="Serve GraphQL at /graphql (GraphiQL in a browser) and health at /healthz. "
        "With a broker (--broker), the server follows the twin's events on it (its "
        "subscriptions stream them, with or without --ingest) and its live risk watch "
        "publishes risk events there (docs/events.md). "
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
    add_broker_options(serve)
    _add_share_group(serve)
    _add_ingest_bounds(serve)
    add_history_options(serve)

    ingest = commands.add_parser(
        "ingest",
        help="run the MQTT ingestion worker: live values onto point nodes",
        description="Subscribe to the topics of every point in the graph and set each "
        "point's live value (value, observedAt, receivedAt, quality, stale) from the "
        "messages: a bare number or boolean, JSON {value, ts, unit, quality} or SenML. "
        "Messages that cannot be applied go to kgtwin/deadletter/<topic> with the reason. "
        "QoS 1, persistent session, acknowledged only once written: stop it any time.",
    )
    add_broker_options(ingest)
    _add_share_group(ingest)
    _add_ingest_bounds(ingest)
    add_history_options(ingest)
    ingest.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics and the worker's health on "
        "/healthz (200, or 503 when stalled or failed; default: none)",
    )
    for name, command in found.items():
        command.add_parser(commands, name)
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


def _add_token_command(commands: Subcommands) -> None:
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


def add_broker_options(
    command: argparse.ArgumentParser,
    client_id_help: str = "MQTT client id: the broker keeps this worker's session under it "
    "(default kgtwin-ingest, or KGTWIN_MQTT_CLIENT_ID)",
) -> None:
    """--broker and --client-id, as every command that talks to a broker takes them (other
    packages' commands too: the devkit's simulate-telemetry)."""
    command.add_argument(
        "--broker",
        metavar="URL",
        help="mqtt://[user[:password]@]host[:port] or mqtts://... (or KGTWIN_MQTT_URL; "
        "KGTWIN_MQTT_USERNAME / KGTWIN_MQTT_PASSWORD keep credentials out of the URL)",
    )
    command.add_argument("--client-id", help=client_id_help)


def _add_share_group(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--share-group",
        metavar="NAME",
        help="share the messages with every worker started with this NAME: subscribe through "
        "MQTT shared subscriptions ($share/NAME/<filter>), so that the broker gives each "
        "message to one of them. Each worker needs a --client-id of its own that stays the "
        "same across its restarts: its share waits in that session while it is away "
        "(or KGTWIN_SHARE_GROUP; default: none, this worker takes every message)",
    )


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


def add_history_options(command: argparse.ArgumentParser) -> None:
    """Where history goes (server/settings.py, sections [questdb] and [history])."""
    command.add_argument(
        "--questdb",
        metavar="URL",
        help="the history store: a QuestDB's http(s)://host:port (or QUESTDB_URL; "
        "QUESTDB_USER / QUESTDB_PASSWORD keep credentials off the command line; default: the "
        "local QuestDB of `kgtwin questdb start`, once started)",
    )
    command.add_argument(
        "--no-history",
        dest="history",
        action="store_false",
        default=None,
        help="keep and serve no history, even with a QuestDB (or KGTWIN_HISTORY=false)",
    )
    command.add_argument(
        "--history-retention-days",
        metavar="DAYS",
        help="days raw history rows are kept (default 30, or KGTWIN_HISTORY_RETENTION_DAYS)",
    )
    command.add_argument(
        "--history-rollup-retention-days",
        metavar="DAYS",
        help="days the one-minute rollup is kept, no fewer than the raw rows (default 365, "
        "or KGTWIN_HISTORY_ROLLUP_RETENTION_DAYS)",
    )


def history_options(args: argparse.Namespace) -> dict[str, object]:
    return {
        "questdb_url": args.questdb,
        "history": args.history,
        "history_retention_days": args.history_retention_days,
        "history_rollup_retention_days": args.history_rollup_retention_days,
    }


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


MAX_ROWS = 1_000_000  # per statement or transaction: more would only take Neo4j's memory
MAX_WRITERS = 16  # sessions a load writes with at once


def _writers(value: str) -> int:
    """A number of writing sessions, 1 to :data:`MAX_WRITERS`."""
    try:
        writers = int(value)
    except ValueError:
        writers = 0
    if not 1 <= writers <= MAX_WRITERS:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_WRITERS}, got {value!r}"
        )
    return writers


def _rows(value: str) -> int:
    """A number of rows, 1 to :data:`MAX_ROWS`."""
    try:
        rows = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of rows, got {value!r}"
        ) from None
    if not 1 <= rows <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_ROWS:,}, got {rows:,}")
    return rows


def _add_model_files(command: argparse.ArgumentParser) -> None:
    """The FILE..., --ontology, --quiet and --json arguments that validate and load share."""
    command.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add_ontology_arguments(command)
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
    commands = discover(taken=CORE_COMMANDS)
    args = build_parser(commands).parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    out, err = sys.stdout, sys.stderr
    settings: Settings | None = None
    try:
        settings = Settings.from_env(config=args.config)
        if args.command == "validate":
            return cmd_validate(
                settings.with_ontology(args.ontology, args.vocabulary),
                args.files,
                args.output,
                out,
                err,
            )
        if args.command == "load":
            model = check_model_name(args.model or args.files[0].stem)
            return cmd_load(
                settings.with_ontology(args.ontology, args.vocabulary),
                args.files,
                model,
                (args.batch_size, args.transaction_rows, args.writers),
                args.output,
                out,
                err,
                verify=args.verify,
            )
        if args.command == "export":
            return cmd_export(settings, args, out, err)
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
                share_group=args.share_group,
                **_ingest_bounds(args),
                **history_options(args),
            )
            return cmd_serve(served, args.log_level, err)
        if args.command == "ingest":
            worker = settings.override(
                mqtt_url=args.broker,
                mqtt_client_id=args.client_id,
                share_group=args.share_group,
                **_ingest_bounds(args),
                **history_options(args),
            )
            return cmd_ingest(worker, args.metrics_port, err)
        if args.command == "history":
            return cmd_history(settings, args, out, err)
        if args.command in commands:
            return commands[args.command].run(settings, args, out, err)
        raise AssertionError(f"unknown command {args.command!r}")  # argparse refuses it first
    except (SettingsError, OntologyError, GraphError, SimulationError) as exc:
        print(f"kgtwin: error: {exc}", file=err)
        if isinstance(exc, CommitUnknown):
            return LOAD_UNKNOWN
        local = settings is not None and not settings.neo4j_uri
        if isinstance(exc, Neo4jUnavailable) and local and args.command != "neo4j":
            start = " `kgtwin neo4j start`" if "neo4j" in commands else ""
            print(f"kgtwin: is the local Neo4j running?{start}", file=err)
        return 2 if isinstance(exc, SettingsError | UnknownAsset | UnknownModel) else 1
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
        loaded = (
            f"{m.nodes} nodes, {m.relationships} relationships, loaded {m.loaded_at}"
            if m.loaded_at
            else "never loaded in full"
        )
        print(f"  model {m.name}: {loaded}", file=out)
        if m.loading_since is not None:
            print(
                f"    hidden from readers: a load began at {m.loading_since} and has not "
                "completed (still running, or stopped midway: load the model again)",
                file=out,
            )
    if summary.labels:
        print("Twin nodes by label:", file=out)
        print("  " + ", ".join(f"{label} {count}" for label, count in summary.labels), file=out)
    if summary.rel_types:
        print("Relationships by type:", file=out)
        print("  " + ", ".join(f"{t} {count}" for t, count in summary.rel_types), file=out)
    _print_renamed(summary.terms, out)
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


def _print_renamed(terms: Sequence[tuple[str, str]], out: TextIO, shown: int = 10) -> None:
    """The ontology terms whose label or type is not their plain local name (README,
    "Names in the graph")."""
    prefixed = [(iri, name) for iri, name in terms if renamed(iri, name)]
    if not prefixed:
        return
    print(
        f"Ontology terms named with their prefix (local name shared, reserved or not a "
        f"label): {len(prefixed)}",
        file=out,
    )
    for iri, name in prefixed[:shown]:
        print(f"  {name} <{iri}>", file=out)
    if len(prefixed) > shown:
        print(
            f"  ... and {len(prefixed) - shown} more: MATCH (c:Class) RETURN c.name, c.iri",
            file=out,
        )


def cmd_serve(settings: Settings, log_level: str, err: TextIO) -> int:
    # Imported here: the other commands do not need the web stack.
    import uvicorn

    from kgtwin.server.app import create_app
    from kgtwin.server.listener import uvicorn_config

    if settings.ingest:
        settings.ingest_config()  # bad ingestion settings: refused before anything connects
    app = create_app(settings)
    print(
        f"kgtwin: serving GraphQL on http://{settings.host}:{settings.port}/graphql "
        f"(anonymous read {'on' if settings.anonymous_read else 'off'}); "
        + (_ingesting(settings) if settings.ingest else "")
        + _events(settings)
        + settings.history_status(),
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


def _events(settings: Settings) -> str:
    """Where the server follows and publishes the twin's events, if anywhere."""
    if settings.mqtt_url is None:
        return "events: off (no broker: subscriptions stream nothing, no risk events); "
    return f"events: {settings.broker_address().safe_url} (kgtwin/events/#); "


def _ingesting(settings: Settings) -> str:
    group = f" in share group {settings.share_group!r}" if settings.share_group else ""
    return f"ingesting as {settings.mqtt_client_id!r}{group}; "


def cmd_ingest(settings: Settings, metrics_port: int | None, err: TextIO) -> int:
    """Run the ingestion worker until SIGINT or SIGTERM (0), or until it gives up after
    repeated unexpected errors (1: a supervisor should start it again)."""
    import signal
    import threading

    from prometheus_client import CollectorRegistry

    from kgtwin.ingest.metrics import IngestMetrics
    from kgtwin.ingest.outbound.listener import EventListener
    from kgtwin.ingest.outbound.publisher import EventPublisher
    from kgtwin.ingest.worker import IngestWorker
    from kgtwin.ontology.units import Units
    from kgtwin.server.history_setup import open_history
    from kgtwin.server.ingest_health import serve_ingest_http

    config = settings.ingest_config()
    units = Units.read(settings.ontology_files)  # the units of ontology/core/units.ttl and others
    registry = CollectorRegistry()
    history = open_history(settings, registry, err)
    driver = open_driver(*settings.neo4j_connection())
    events = EventPublisher(config.address, config.client_id, registry)
    listener = EventListener(events, source=f"/kgtwin/ingest/{config.client_id}")
    worker = IngestWorker(
        config, driver, IngestMetrics(registry), units, listener=listener, history=history
    )
    http = serve_ingest_http(metrics_port, registry, worker.health) if metrics_port else None
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    print(
        f"kgtwin: ingesting from {config.address.safe_url} as {config.client_id!r}"
        + (f" in share group {config.share_group!r}" if config.share_group else "")
        + (f"; metrics on http://127.0.0.1:{metrics_port}/metrics" if metrics_port else ""),
        file=err,
        flush=True,
    )
    events.start()
    worker.start()
    try:
        while not done.wait(0.5) and worker.failure is None:
            pass
    finally:
        print("kgtwin: stopping: writing what is queued, then disconnecting", file=err, flush=True)
        worker.stop()
        events.stop()
        driver.close()
        if http is not None:
            http.shutdown()
    if worker.failure is not None:
        print(f"kgtwin: error: ingestion stopped: {worker.failure}", file=err)
        return 1
    return 0


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
