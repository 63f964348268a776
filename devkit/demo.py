"""``kgtwin demo``: the whole twin running on one machine, in one command.

In order: the local Neo4j (started unless ``NEO4J_URI`` names a server, or it already
runs); an MQTT broker on 127.0.0.1 (``--broker`` if given, else Mosquitto where it is
installed, else the embedded Python broker, so no root is needed); the example site
``--site`` names (:mod:`devkit.demo_sites`) loaded, a no-op when it is there already, with
the vocabularies it needs added to the ontology the server then reads too; an operator
token; the telemetry simulator; and the server with ingestion on. It prints where to look,
then serves until Ctrl-C (or SIGTERM), and stops everything it started, in reverse order:
nothing is left running.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TextIO

from neo4j import Driver

from kgtwin.devkit import launcher, questdb
from kgtwin.devkit.broker import EmbeddedBroker, LocalBroker, find_mosquitto
from kgtwin.devkit.demo_sites import SITES, DemoSite, Example
from kgtwin.devkit.launcher.process import free_ports
from kgtwin.devkit.settings import local_neo4j, local_questdb
from kgtwin.graph.connection import open_driver, ping
from kgtwin.graph.reader import Reader
from kgtwin.graph.tokens import create_token
from kgtwin.ontology.validate import Ontology
from kgtwin.server.loading import load_model
from kgtwin.server.settings import Settings

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    speed: float  # the simulator's speed-up of each point's reporting interval
    faults: tuple[str, ...]  # assets the simulator reports failed
    fault_after: float = 0.0  # seconds after the simulator's start the faults begin
    embedded_broker: bool = False  # the embedded broker even where Mosquitto is installed
    site: str = "dc1"  # the example site, a name of devkit.demo_sites.SITES


def cmd_demo(
    settings: Settings, options: DemoOptions, log_level: str, out: TextIO, err: TextIO
) -> int:
    def say(line: str) -> None:
        print(f"kgtwin demo: {line}", file=err, flush=True)

    # until the server runs, SIGTERM stops the demo as Ctrl-C does (the clean-up runs)
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = _run(settings, options, log_level, out, say)
    except KeyboardInterrupt:
        code = 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    say("stopped; everything it started is stopped too")
    return code


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _run(settings: Settings, options: DemoOptions, log_level: str, out: TextIO, say: Say) -> int:
    site = SITES[options.site]
    # the site's vocabularies: for its validation, and for the API served (same ontology)
    settings = site.settings(settings)
    with contextlib.ExitStack() as stack:
        settings = stack.enter_context(_neo4j(settings, say))
        console = stack.enter_context(_questdb(settings, say))
        settings = stack.enter_context(_broker(settings, options.embedded_broker, say))
        uri, user, password = settings.neo4j_connection()
        driver = open_driver(uri, user, password)
        stack.callback(driver.close)
        ping(driver, settings.neo4j_database)
        if not load_site(driver, site, settings, say):
            return 1
        token = create_token(
            driver, "operator", f"demo-{secrets.token_hex(3)}", database=settings.neo4j_database
        )
        faults_at = stack.enter_context(
            _simulator(settings, Reader(driver, settings.neo4j_database), options, say)
        )
        # anonymous read on: the demo listens on 127.0.0.1 only, and GraphiQL then works
        # without a header; saving scenarios still needs the token
        served = replace(
            settings.override(ingest=True, mqtt_client_id=f"kgtwin-demo-{secrets.token_hex(3)}"),
            anonymous_read=True,
        )
        _print_welcome(
            served, site, (uri, user, password), token.token, console, out, faults_at, options
        )
        return _serve(served, log_level, say)


def load_site(driver: Driver, site: DemoSite, settings: Settings, say: Say) -> bool:
    """Validate and load ``site`` against the ontology of ``settings`` (with the site's
    vocabularies, see :meth:`DemoSite.settings`); False, its problems said, if invalid."""
    extra = f" with {', '.join(site.vocabularies)}" if site.vocabularies else ""
    say(f"loading the example site {site.file.name}: {site.description} (validated{extra} first)")
    result = load_model(
        driver,
        [site.file],
        site.model,
        Ontology.load(settings.ontology_files),
        database=settings.neo4j_database,
    )
    for problem in result.report.problems:
        say(problem.render())
    return result.report.ok


@contextlib.contextmanager
def _neo4j(settings: Settings, say: Say) -> Iterator[Settings]:
    """The configured Neo4j, or the local one: started if it was not running, and then
    stopped again on the way out."""
    if settings.neo4j_uri:
        say(f"using the Neo4j at {settings.neo4j_uri}")
        yield settings
        return
    config = local_neo4j(settings)
    if launcher.status(config).running:
        say(f"using the local Neo4j already running on bolt://127.0.0.1:{config.bolt_port}")
        yield settings
        return
    say("starting the local Neo4j (its first start downloads it from Maven Central)")
    launcher.start(config, progress=say)
    try:
        yield settings
    finally:
        say("stopping the local Neo4j")
        launcher.stop(config)


@contextlib.contextmanager
def _questdb(settings: Settings, say: Say) -> Iterator[str]:
    """History's QuestDB: the configured one, or the local one (started if it was not
    running, and stopped again on the way out); yields the line the welcome shows for it."""
    if settings.questdb_url:
        say(f"history: using the QuestDB at {settings.questdb_url}")
        yield f"{settings.questdb_url}   (its web console)"
        return
    if not settings.history:
        say(settings.history_status())
        yield "off (KGTWIN_HISTORY is false)"
        return
    config = local_questdb(settings)
    if questdb.status(config).running:
        say(f"history: using the local QuestDB already running on {config.http_port}")
        running = questdb.status(config)
        yield _console(running)
        return
    say("starting the local QuestDB for history (its first start downloads it)")
    running = questdb.start(config, progress=say)
    try:
        yield _console(running)
    finally:
        say("stopping the local QuestDB")
        questdb.stop(config)


def _console(running: questdb.QuestDBStatus) -> str:
    return f"{running.console_url}   user {running.user}   password {running.password}"


@contextlib.contextmanager
def _broker(settings: Settings, embedded: bool, say: Say) -> Iterator[Settings]:
    """The configured broker, or one started on a free loopback port for the demo:
    Mosquitto where it is installed, else the embedded Python broker."""
    if settings.mqtt_url is not None:
        say(f"using the MQTT broker at {settings.broker_address().safe_url}")
        yield settings
        return
    (port,) = free_ports(1)
    broker: LocalBroker | EmbeddedBroker
    if not embedded and find_mosquitto() is not None:
        broker = LocalBroker(settings.home / "demo-broker", port)
        kind = "Mosquitto"
    else:
        broker = EmbeddedBroker(port=port)
        kind = "the embedded Python broker" + ("" if embedded else " (no Mosquitto here)")
    broker.start()
    say(f"MQTT broker: {kind} on {broker.address.safe_url}")
    try:
        yield settings.override(mqtt_url=broker.url)
    finally:
        say("stopping the MQTT broker")
        broker.stop()


@contextlib.contextmanager
def _simulator(
    settings: Settings, reader: Reader, options: DemoOptions, say: Say
) -> Iterator[datetime | None]:
    """The telemetry simulator, publishing; yields when the faults begin (None: none)."""
    from kgtwin.devkit.simulator import SimulatorOptions, TelemetrySimulator

    simulator = TelemetrySimulator(
        settings.broker_address(),
        reader,
        SimulatorOptions(
            speed=options.speed, faults=options.faults, fault_after=options.fault_after
        ),
        say=lambda line: say(f"simulator: {line}"),
    )
    simulator.start()
    faults_at = (
        datetime.now(UTC) + timedelta(seconds=options.fault_after) if options.faults else None
    )
    faults = f" with {', '.join(options.faults)} failed" if options.faults else ""
    if options.faults and options.fault_after:
        faults += f" from {options.fault_after:g} s on"
    say(f"telemetry simulator publishing every point in the graph{faults}")
    try:
        yield faults_at
    finally:
        say("stopping the telemetry simulator")
        simulator.stop()


def _serve(settings: Settings, log_level: str, say: Say) -> int:
    """Serve until Ctrl-C or SIGTERM. uvicorn catches the signal, shuts the app down (its
    ingestion worker too) and raises the signal again once done: by then a no-op handler
    is in place, so that nothing interrupts the clean-up of what the demo started."""
    import uvicorn

    from kgtwin.server.app import create_app
    from kgtwin.server.listener import uvicorn_config

    config = uvicorn_config(create_app(settings), settings, log_level=log_level.lower())
    server = uvicorn.Server(config)

    def stopping(signum: int, frame: FrameType | None) -> None:
        say("already stopping")

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stopping)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind
        say(f"the server could not start on {settings.host}:{settings.port}")
        return 1
    say("server stopped")
    return 0


def _print_welcome(
    settings: Settings,
    site: DemoSite,
    neo4j: tuple[str, str, str | None],
    token: str,
    console: str,
    out: TextIO,
    faults_at: datetime | None = None,
    options: DemoOptions | None = None,
) -> None:
    uri, user, password = neo4j
    base = f"http://{settings.host}:{settings.port}"
    browser = (
        f"http://127.0.0.1:{settings.local_http_port}/browser/"
        if not settings.neo4j_uri
        else "(your Neo4j's Browser)"
    )
    print(
        f"""
kgtwin demo is running. Ctrl-C stops everything.

  site            {site.name}: {site.description}
  GraphiQL        {base}/graphql
  metrics         {base}/metrics      health: {base}/healthz
  Neo4j Browser   {browser}
  Bolt            {uri}   user {user}   password {password or "(as configured)"}
  MQTT broker     {settings.broker_address().safe_url}   (dead letters: kgtwin/deadletter/#)
  history         QuestDB console {console}
  API token       {token}   (operator role: can also save what-if scenarios)

Reading needs no token here (anonymous read is on); to save a what-if scenario, add the
header {{"Authorization": "Bearer {token}"}}. In GraphiQL, try:

{_examples(site.examples)}

What the telemetry reports failed, and a what-if that starts from it (run the demo with
{site.fault_hint} to see them change):

{_examples(site.live_examples)}

The twin's events, as CloudEvents on the broker (the present retained under kgtwin/state/),
and what the reported failures put at risk now (riskChanged streams its changes):

  {_follow_events(settings)}
  {{ risks {{ reportedFailures total risks {{ kind assetId path }} }} }}

History (every value ingestion applies, kept in QuestDB), e.g. the last 10 minutes of
{site.history_point}, one average a minute:

{_examples((history_example(site.history_point, datetime.now(UTC)),))}
{_fidelity(faults_at, options)}""",
        file=out,
        flush=True,
    )


def _follow_events(settings: Settings) -> str:
    """The mosquitto_sub command that follows the twin's state and failures."""
    broker = settings.broker_address()
    login = f" -u {broker.username} -P '<password>'" if broker.username else ""
    return (
        f"mosquitto_sub -h {broker.host} -p {broker.port}{login} -v "
        "-t 'kgtwin/state/#' -t 'kgtwin/events/+/failureReported/#'"
    )


def history_example(point: str, now: datetime) -> Example:
    """A ``history`` query for ``point`` over the ten minutes before ``now``."""
    start = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Example(
        f"{point} from {start:%H:%M} to {end:%H:%M} UTC, one average a minute",
        f'{{ history(points: ["{point}"], from: "{start:%Y-%m-%dT%H:%M}Z",\n'
        f'    to: "{end:%Y-%m-%dT%H:%M}Z", every: "1m") {{ samples {{ time value }} }} }}',
    )


def _fidelity(faults_at: datetime | None, options: DemoOptions | None) -> str:
    """With --fault: when the faults begin, and the query that compares the capacity
    what-if of them with what history then observes."""
    if faults_at is None or options is None:
        return ""
    example = compare_example(options.faults, faults_at)
    verb = "fails" if len(options.faults) == 1 else "fail"
    return f"""
{", ".join(options.faults)} {verb} at {faults_at:%H:%M:%S} UTC (--fault-after). A few minutes
later, set what the capacity what-if predicts from the loads measured just before beside
what history observed after:

{_examples((example,))}
"""


def compare_example(faults: tuple[str, ...], faults_at: datetime) -> Example:
    """``compareWithObserved`` of ``faults``: from the loads measured 5 s before
    ``faults_at``, against those observed from 5 s after it for ten minutes."""
    at = faults_at.replace(microsecond=0)
    before, start = at - timedelta(seconds=5), at + timedelta(seconds=5)
    end = start + timedelta(minutes=10)
    failed = ", ".join(f'"{asset}"' for asset in faults)
    return Example(
        "predicted against observed loads, per asset the what-if moved load onto",
        f'{{ compareWithObserved(fail: [{failed}], baselineAt: "{before:%Y-%m-%dT%H:%M:%S}Z",\n'
        f'    from: "{start:%Y-%m-%dT%H:%M:%S}Z", to: "{end:%Y-%m-%dT%H:%M:%S}Z") {{\n'
        "    summary mape assets { id predicted observed percentError } } }",
    )


def _examples(examples: tuple[Example, ...]) -> str:
    """Each example as a GraphQL comment and its query, indented, ready to paste."""
    lines: list[str] = []
    for example in examples:
        lines.append(f"  # {example.says}")
        lines.extend(f"  {line}" for line in example.query.splitlines())
    return "\n".join(lines)
