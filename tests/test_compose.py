"""The live demo's wiring: docker-compose.yml, the Dockerfile, .env.example and
deploy/mosquitto/, checked without a Docker engine.

The compose file is parsed with PyYAML and its services, ports, volumes, healthchecks and
start-up order checked; the kgtwin commands and environments it gives are run through the
real CLI parser and :class:`Settings`, so a renamed flag or variable fails here. Where the
``docker compose`` client exists, ``docker compose config`` must accept the file (the only
skip, when it does not). The Mosquitto config and entrypoint run under a real Mosquitto, and
QuestDB's environment and healthcheck under a real QuestDB 9.2.2 (the launcher's jar).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from kgtwin.devkit.broker import (
    DEFAULT_MAX_INFLIGHT_MESSAGES,
    DEFAULT_MAX_QUEUED_MESSAGES,
    find_mosquitto_passwd,
    install_mosquitto,
)
from kgtwin.devkit.broker.probe import ProbeFailed, connack_code
from kgtwin.devkit.launcher import free_ports
from kgtwin.devkit.launcher.process import port_open
from kgtwin.devkit.questdb import LocalQuestDBConfig, install
from kgtwin.devkit.questdb.jvm import MAIN, questdb_java, server_environment
from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.server.cli import build_parser
from kgtwin.server.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
MOSQUITTO_CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
MOSQUITTO_ENTRYPOINT = REPO / "deploy" / "mosquitto" / "entrypoint.sh"

SERVICES = {"neo4j", "mosquitto", "questdb", "loader", "kgtwin", "ingest-2", "simulator"}
INGESTING = ("kgtwin", "ingest-2")  # the share group's workers
ONE_SHOT = {"loader"}  # runs to completion; every other service runs until stopped
# required, never defaulted
SECRETS = ("NEO4J_PASSWORD", "MQTT_USERNAME", "MQTT_PASSWORD", "QUESTDB_PASSWORD")
BROKER_URL = "mqtt://mosquitto:1883"
NOT_AUTHORISED = 5  # MQTT 3.1.1 CONNACK code

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_BARE_REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (no quoting, no export) as docker compose reads the simple ones."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: {line!r} is not KEY=value"
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of ``text`` (the forms this repo uses), ``$$`` -> ``$``."""

    def value(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        given = env.get(name)
        if operator and operator.startswith(":") and not given:
            given = None
        if given is not None:
            return given
        if operator and operator.endswith("?"):
            raise AssertionError(f"required variable {name} is missing: {argument}")
        return argument or ""

    parts = text.split("$$")
    return "$".join(_REFERENCE.sub(value, part) for part in parts)


def environment(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    declared = service.get("environment", {})
    assert isinstance(declared, dict), "environment should be a mapping"
    return {key: interpolate(str(value), env) for key, value in declared.items()}


def published_ports(service: Mapping[str, Any]) -> dict[int, str]:
    """Container port -> host port of the short ``[IP:]HOST:CONTAINER`` syntax."""
    ports: dict[int, str] = {}
    for entry in service.get("ports", []):
        host, container = str(entry).rsplit(":", 2)[-2:]
        ports[int(container.split("/")[0])] = host
    return ports


def mounts(service: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Container path -> (source, options) of the short ``SOURCE:TARGET[:MODE]`` syntax."""
    found: dict[str, tuple[str, str]] = {}
    for entry in service.get("volumes", []):
        source, target, *mode = str(entry).split(":")
        found[target] = (source, ":".join(mode))
    return found


# --- the services ----------------------------------------------------------------------


def test_the_seven_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_neo4j_browser_and_bolt_with_auth_from_env_and_a_data_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    neo4j = services["neo4j"]
    assert neo4j["image"] == "neo4j:5-community"
    assert published_ports(neo4j) == {7474: "7474", 7687: "7687"}
    assert neo4j["environment"]["NEO4J_AUTH"].startswith("neo4j/${NEO4J_PASSWORD:?")
    source, _ = mounts(neo4j)["/data"]
    assert source in compose["volumes"], "/data should be a named volume"


def test_neo4j_gets_no_environment_variable_the_image_would_misread(
    services: dict[str, dict[str, Any]],
) -> None:
    # The neo4j image turns every NEO4J_* variable but a few into a neo4j.conf setting
    # (NEO4J_server_memory_heap_max__size -> server.memory.heap.max_size); Neo4j refuses
    # to start on an unknown one, such as the PASSWORD that NEO4J_PASSWORD would make.
    controls = {"NEO4J_AUTH", "NEO4J_AUTH_PATH", "NEO4J_PLUGINS", "NEO4J_DEBUG"}
    for name in services["neo4j"]["environment"]:
        assert name in controls or re.fullmatch(r"NEO4J_[a-z][a-z0-9_]*", name), name


def test_neo4j_password_of_the_example_is_one_neo4j_accepts(env_example: dict[str, str]) -> None:
    # The image refuses "neo4j", splits NEO4J_AUTH at "/", and Neo4j 5 wants 8 characters.
    password = env_example["NEO4J_PASSWORD"]
    assert len(password) >= 8
    assert "/" not in password
    assert password != "neo4j"


def test_mosquitto_mounts_its_config_and_keeps_its_data(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    mosquitto = services["mosquitto"]
    assert mosquitto["image"] == "eclipse-mosquitto:2"
    assert published_ports(mosquitto) == {1883: "1883"}
    volumes = mounts(mosquitto)
    assert volumes["/mosquitto/config/mosquitto.conf"] == (
        "./deploy/mosquitto/mosquitto.conf",
        "ro",
    )
    script_source, script_mode = volumes[mosquitto["entrypoint"][-1]]
    assert (REPO / script_source).resolve() == MOSQUITTO_ENTRYPOINT
    assert script_mode == "ro"
    data_source, _ = volumes["/mosquitto/data"]
    assert data_source in compose["volumes"], "/mosquitto/data should be a named volume"
    # Replacing the entrypoint drops the image's command: it must be given again.
    assert mosquitto["command"] == ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]


def test_questdb_keeps_history_in_a_volume_on_this_machine_only(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    questdb = services["questdb"]
    assert questdb["image"] == "questdb/questdb:9.2.2"
    assert questdb["ports"] == ["127.0.0.1:9000:9000", "127.0.0.1:8812:8812"]
    source, _ = mounts(questdb)["/var/lib/questdb"]
    assert source in compose["volumes"], "/var/lib/questdb should be a named volume"
    env = environment(questdb, env_example)
    user, password = env_example["QUESTDB_USER"], env_example["QUESTDB_PASSWORD"]
    assert (env["QDB_HTTP_USER"], env["QDB_HTTP_PASSWORD"]) == (user, password)
    assert (env["QDB_PG_USER"], env["QDB_PG_PASSWORD"]) == (user, password)
    for off in ("QDB_LINE_TCP_ENABLED", "QDB_LINE_UDP_ENABLED", "QDB_TELEMETRY_ENABLED"):
        assert env[off] == "false", off
    # what the kgtwin service logs in with
    kgtwin = environment(services["kgtwin"], env_example)
    assert (kgtwin["QUESTDB_USER"], kgtwin["QUESTDB_PASSWORD"]) == (user, password)
    # the user has a default; the example's is it
    assert environment(questdb, {"QUESTDB_PASSWORD": password})["QDB_HTTP_USER"] == user


def mosquitto_options() -> dict[str, str]:
    options: dict[str, str] = {}
    for line in MOSQUITTO_CONF.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            assert key not in options, f"{key} is set twice in mosquitto.conf"
            options[key] = value.strip()
    return options


def test_mosquitto_conf_authenticates_persists_and_queues_enough() -> None:
    options = mosquitto_options()
    assert options["listener"] == "1883"
    assert options["allow_anonymous"] == "false"
    assert options["persistence"] == "true"
    assert options["persistence_location"] == "/mosquitto/data/"  # the named volume
    # the file the entrypoint writes from MQTT_USERNAME / MQTT_PASSWORD
    assert f"password_file={options['password_file']}" in MOSQUITTO_ENTRYPOINT.read_text(
        encoding="utf-8"
    )
    assert int(options["max_queued_messages"]) >= DEFAULT_MAX_QUEUED_MESSAGES
    assert int(options["max_inflight_messages"]) >= DEFAULT_MAX_INFLIGHT_MESSAGES
    assert 0 < int(options["sys_interval"]) <= 10  # the healthcheck waits for $SYS


def test_kgtwin_builds_from_this_repo_and_serves_with_ingestion(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    kgtwin = services["kgtwin"]
    assert kgtwin["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert (REPO / kgtwin["build"]["context"] / kgtwin["build"]["dockerfile"]).is_file()
    assert published_ports(kgtwin) == {8000: "8000"}

    args = build_parser().parse_args(kgtwin["command"])
    assert args.command == "serve"
    env = environment(kgtwin, env_example)
    settings = Settings.from_env(env).override(
        host=args.host, port=args.port, ingest=args.ingest, mqtt_url=args.broker
    )
    assert settings.ingest
    assert (settings.host, settings.port) == ("0.0.0.0", 8000)
    assert settings.neo4j_connection() == (
        "bolt://neo4j:7687",
        "neo4j",
        env_example["NEO4J_PASSWORD"],
    )
    broker = settings.broker_address()
    assert (broker.host, broker.port) == ("mosquitto", 1883)
    assert (broker.username, broker.password) == (
        env_example["MQTT_USERNAME"],
        env_example["MQTT_PASSWORD"],
    )
    assert settings.questdb_connection() == QuestDB(
        "http://questdb:9000", "admin", env_example["QUESTDB_PASSWORD"], 8812
    )
    assert kgtwin["depends_on"] == {
        "neo4j": {"condition": "service_healthy"},
        "mosquitto": {"condition": "service_healthy"},
        "questdb": {"condition": "service_healthy"},
        "loader": {"condition": "service_completed_successfully"},
    }


def test_two_ingestion_workers_share_the_telemetry_each_with_its_own_session(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    """Both in one share group, each with a client id of its own (its session) that is not
    the default; the second a `kgtwin ingest` whose healthcheck asks its own /healthz."""
    configs = []
    for name in INGESTING:
        service = services[name]
        args = build_parser().parse_args(service["command"])
        settings = Settings.from_env(environment(service, env_example)).override(
            mqtt_url=args.broker, mqtt_client_id=args.client_id, share_group=args.share_group
        )
        configs.append(settings.ingest_config())
        assert settings.questdb_connection() is not None, f"{name} keeps no history"
        assert service["depends_on"] == services["kgtwin"]["depends_on"], name
    assert {c.share_group for c in configs} == {"kgtwin"}
    assert [c.client_id for c in configs] == ["kgtwin-ingest-1", "kgtwin-ingest-2"]
    assert {(c.address.host, c.address.port) for c in configs} == {("mosquitto", 1883)}
    worker = services["ingest-2"]
    args = build_parser().parse_args(worker["command"])
    assert args.command == "ingest"
    assert f"127.0.0.1:{args.metrics_port}/healthz" in worker["healthcheck"]["test"][-1]
    assert "ports" not in worker  # nothing of it is published
    simulator = Settings.from_env(environment(services["simulator"], env_example))
    assert simulator.mqtt_client_id not in {c.client_id for c in configs}


def test_loader_syncs_dc1_once_neo4j_is_healthy(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    loader = services["loader"]
    assert loader["image"] == services["kgtwin"]["image"]
    assert loader["build"] == services["kgtwin"]["build"]
    args = build_parser().parse_args(loader["command"])
    assert (args.command, args.model) == ("load", "dc1")
    assert [(REPO / path).is_file() for path in args.files] == [True]  # the image's WORKDIR
    settings = Settings.from_env(environment(loader, env_example))
    assert settings.neo4j_connection()[0] == "bolt://neo4j:7687"
    assert loader["restart"] == "no"
    assert loader["depends_on"] == {"neo4j": {"condition": "service_healthy"}}


def test_simulator_publishes_to_the_broker_once_the_server_ingests(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    simulator = services["simulator"]
    assert simulator["image"] == services["kgtwin"]["image"]
    assert simulator["build"] == services["kgtwin"]["build"]
    command = simulator["command"]
    assert command[0] == "simulate-telemetry"
    assert command[command.index("--broker") + 1] == BROKER_URL
    env = environment(simulator, env_example)
    assert env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["KGTWIN_MQTT_USERNAME"] == env_example["MQTT_USERNAME"]
    # One client id per client: a second connection with an id takes the first one over.
    kgtwin_id = Settings.from_env(environment(services["kgtwin"], env_example)).mqtt_client_id
    assert Settings.from_env(env).mqtt_client_id != kgtwin_id
    assert simulator["depends_on"]["kgtwin"] == {"condition": "service_healthy"}


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"
        assert service.get("restart") == "unless-stopped", name


def test_depends_on_conditions_can_be_met(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for other, how in service.get("depends_on", {}).items():
            condition = how["condition"]
            if condition == "service_healthy":
                check = services[other].get("healthcheck", {})
                assert check.get("test"), f"{name} waits on {other}'s health: nothing checks it"
                assert not check.get("disable"), f"{name} waits on {other}'s disabled check"
            else:
                assert condition == "service_completed_successfully", (name, other)
                assert other in ONE_SHOT, f"{name} waits for {other} to exit"


def test_healthchecks_use_only_variables_their_container_has(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test", [])
        env = environment(service, env_example)
        for part in test[1:]:
            command = interpolate(part, env_example)  # what the container is given
            used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", command))
            used |= set(re.findall(r"os\.environ\[\"([A-Za-z_][A-Za-z0-9_]*)\"\]", command))
            used.discard("SYS")  # '$SYS/broker/uptime', quoted: an MQTT topic
            used -= set(re.findall(r"\bread(?: -[a-z]+)* ([A-Za-z_][A-Za-z0-9_]*)", command))
            assert used <= set(env), f"{name}'s healthcheck uses {sorted(used - set(env))}"


# --- secrets and .env ------------------------------------------------------------------


def values(node: object) -> Iterator[str]:
    """Every string value of the parsed compose file: what Compose interpolates."""
    if isinstance(node, dict):
        for value in node.values():
            yield from values(value)
    elif isinstance(node, list):
        for value in node:
            yield from values(value)
    elif isinstance(node, str):
        yield node


def references(compose: dict[str, Any]) -> Iterator[re.Match[str]]:
    for value in values(compose):
        yield from _REFERENCE.finditer(value.replace("$$", ""))


def test_every_variable_used_is_documented_in_env_example(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    for value in values(compose):
        bare = _BARE_REFERENCE.findall(value.replace("$$", ""))
        assert not bare, f"write ${{{bare[0]}}} (or $${bare[0]} for the container's shell)"
    used = {match.group(1) for match in references(compose)}
    assert used, "docker-compose.yml should take its secrets from .env"
    assert used <= set(env_example), f"not in .env.example: {sorted(used - set(env_example))}"


def test_every_variable_in_env_example_has_a_comment() -> None:
    blocks = ENV_EXAMPLE.read_text(encoding="utf-8").split("\n\n")
    for block in blocks:
        lines = block.strip().splitlines()
        settings = [line for line in lines if line and not line.startswith("#")]
        if settings:
            assert lines[0].startswith("#"), f"explain {settings} in .env.example"


def test_secrets_are_required_and_never_written_into_the_compose_file(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    for match in references(compose):
        if match.group(1) in SECRETS:
            assert match.group(2) == ":?", f"{match.group(0)}: a secret has no default"
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|(^|_)AUTH$|SECRET|TOKEN", key):
                assert "${" in str(value), f"{name}: {key} should come from .env"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for secret in ("NEO4J_PASSWORD", "MQTT_PASSWORD", "QUESTDB_PASSWORD"):
        assert env_example[secret] not in text, f"the example {secret} is in the compose file"


def test_env_stays_out_of_git_and_out_of_the_image() -> None:
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignored
    excluded = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    for entry in (".env", ".git", ".venv", ".kgtwin", "**/__pycache__", ".pytest_cache"):
        assert entry in excluded, f".dockerignore should exclude {entry}"


# --- the Dockerfile --------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, arguments = (current + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return instructions


def test_dockerfile_runs_kgtwin_as_a_user_with_a_healthcheck() -> None:
    instructions = dockerfile_instructions()
    by_name: dict[str, list[str]] = {}
    for keyword, arguments in instructions:
        by_name.setdefault(keyword, []).append(arguments)
    assert by_name["FROM"] == ["python:3.11-slim"]
    assert any("pip install ." in run for run in by_name["RUN"])

    user = by_name["USER"][-1].split(":")[0]
    assert user not in ("root", "0"), "the image should not run as root"
    last_user = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")
    last_run = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "RUN")
    assert last_user > last_run

    (healthcheck,) = by_name["HEALTHCHECK"]
    assert "CMD python -c" in healthcheck
    assert "/healthz" in healthcheck
    assert json.loads(by_name["ENTRYPOINT"][-1]) == ["kgtwin"]
    assert json.loads(by_name["CMD"][-1]) == ["serve", "--ingest"]
    build_parser().parse_args(json.loads(by_name["CMD"][-1]))


def test_dockerfile_serves_on_the_port_it_exposes(services: dict[str, dict[str, Any]]) -> None:
    instructions = dockerfile_instructions()
    exposed = [arguments for keyword, arguments in instructions if keyword == "EXPOSE"]
    env = " ".join(arguments for keyword, arguments in instructions if keyword == "ENV")
    assert exposed == ["8000"]
    assert "KGTWIN_PORT=8000" in env.split()
    assert "KGTWIN_HOST=0.0.0.0" in env.split()  # reachable from outside the container
    assert 8000 in published_ports(services["kgtwin"])


def test_dockerfile_copies_only_what_the_context_keeps() -> None:
    excluded = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            *sources, _ = arguments.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: no such path"
                assert source.rstrip("/") not in excluded, f"COPY {source}: .dockerignore'd"


def test_the_image_has_the_devkit_command_the_simulator_runs(
    services: dict[str, dict[str, Any]],
) -> None:
    command = services["simulator"]["command"]
    assert build_parser().parse_args(command).command == "simulate-telemetry"
    copied = [
        arguments.split()[0]
        for keyword, arguments in dockerfile_instructions()
        if keyword == "COPY"
    ]
    assert "devkit" in copied  # simulate-telemetry is a devkit command


# --- docker compose config, where the client has the compose plugin ---------------------


@pytest.fixture(scope="module")
def docker_compose() -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no `docker` client on PATH, so `docker compose config` cannot run")
    done = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        pytest.skip(f"`docker compose version` failed: {output[0] if output else done}")
    return [docker, "compose", "--project-directory", str(REPO), "-f", str(COMPOSE_FILE)]


def compose_environment() -> dict[str, str]:
    """This process's environment without the variables .env.example sets, so that only
    the env file given to `docker compose` decides them."""
    example = read_env_file(ENV_EXAMPLE)
    return {key: value for key, value in os.environ.items() if key not in example}


def test_docker_compose_config_accepts_the_file(
    docker_compose: list[str], tmp_path: Path, env_example: dict[str, str]
) -> None:
    env_file = tmp_path / ".env"
    shutil.copyfile(ENV_EXAMPLE, env_file)
    done = subprocess.run(
        [*docker_compose, "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=compose_environment(),
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == SERVICES
    kgtwin_env = resolved["services"]["kgtwin"]["environment"]
    assert kgtwin_env["NEO4J_PASSWORD"] == env_example["NEO4J_PASSWORD"]


def test_docker_compose_config_refuses_to_run_without_the_secrets(
    docker_compose: list[str], tmp_path: Path
) -> None:
    empty = tmp_path / ".env"
    empty.write_text("", encoding="utf-8")
    done = subprocess.run(
        [*docker_compose, "--env-file", str(empty), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=compose_environment(),
    )
    assert done.returncode != 0
    assert "NEO4J_PASSWORD" in done.stderr or "MQTT_" in done.stderr, done.stderr


# --- deploy/mosquitto under a real Mosquitto ---------------------------------------------


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} exactly once"
    return text.replace(old, new)


@pytest.fixture
def mosquitto_from_deploy(tmp_path: Path, env_example: dict[str, str]) -> Iterator[int]:
    """deploy/mosquitto/entrypoint.sh starting Mosquitto on deploy/mosquitto/mosquitto.conf,
    as in the container but with the container's paths moved into ``tmp_path``, the
    listener on a free loopback port, and the image's own entrypoint (a chown to the image's
    user, then exec) reduced to the exec. Yields the port."""
    mosquitto = install_mosquitto()  # the test set-up's job, as for the session's broker
    passwd_tool = find_mosquitto_passwd(mosquitto)
    assert passwd_tool is not None, "mosquitto_passwd is missing: install mosquitto"
    (port,) = free_ports(1)
    (tmp_path / "config").mkdir()
    (tmp_path / "data").mkdir()
    conf = replace_once(
        MOSQUITTO_CONF.read_text(encoding="utf-8"),
        "\nlistener 1883\n",
        f"\nlistener {port} 127.0.0.1\n",
    ).replace("/mosquitto/", f"{tmp_path}/")
    if os.geteuid() == 0:
        # As root Mosquitto drops to the user 'mosquitto', which cannot enter pytest's
        # 0700 temporary folders (the image's entrypoint chowns /mosquitto instead).
        conf += "\nuser root\n"
    conf_file = tmp_path / "config" / "mosquitto.conf"
    conf_file.write_text(conf, encoding="utf-8")
    script = MOSQUITTO_ENTRYPOINT.read_text(encoding="utf-8")
    script = replace_once(script, "/mosquitto/config/passwd", str(tmp_path / "config" / "passwd"))
    script = replace_once(script, 'chown mosquitto:mosquitto "$password_file"\n', "")
    script = replace_once(script, "exec /docker-entrypoint.sh ", "exec ")
    script_file = tmp_path / "entrypoint.sh"
    script_file.write_text(script, encoding="utf-8")

    env = {
        **os.environ,
        "PATH": f"{passwd_tool.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MQTT_USERNAME": env_example["MQTT_USERNAME"],
        "MQTT_PASSWORD": env_example["MQTT_PASSWORD"],
    }
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["sh", str(script_file), str(mosquitto), "-c", str(conf_file)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                connack_code("127.0.0.1", port, None, None, timeout=1.0)
                break
            except ProbeFailed:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_mosquitto_from_deploy_lets_in_only_the_env_user(
    mosquitto_from_deploy: int, env_example: dict[str, str], tmp_path: Path
) -> None:
    port = mosquitto_from_deploy
    user, password = env_example["MQTT_USERNAME"], env_example["MQTT_PASSWORD"]
    assert connack_code("127.0.0.1", port, user, password, timeout=5.0) == 0
    assert connack_code("127.0.0.1", port, None, None, timeout=5.0) == NOT_AUTHORISED
    assert connack_code("127.0.0.1", port, user, password + "x", timeout=5.0) != 0
    passwd = tmp_path / "config" / "passwd"
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o600
    assert password not in passwd.read_text(encoding="utf-8")  # hashed


def test_mosquitto_healthcheck_passes_against_it(
    mosquitto_from_deploy: int, services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    mosquitto_sub = shutil.which("mosquitto_sub")
    assert mosquitto_sub is not None, "mosquitto_sub is missing: install mosquitto-clients"
    kind, command = services["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = replace_once(
        interpolate(command, env_example), "-p 1883", f"-p {mosquitto_from_deploy}"
    )
    env = {**os.environ, **environment(services["mosquitto"], env_example)}
    done = subprocess.run(
        ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    wrong = {**env, "MQTT_PASSWORD": "not-the-password"}
    done = subprocess.run(
        ["sh", "-c", command], env=wrong, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode != 0, "the healthcheck should fail without the right password"


# --- the questdb service's environment and healthcheck under a real QuestDB ---------------


@pytest.fixture(scope="module")
def questdb_from_deploy(
    tmp_path_factory: pytest.TempPathFactory,
    services: dict[str, dict[str, Any]],
    env_example: dict[str, str],
) -> Iterator[tuple[int, int, int]]:
    """QuestDB 9.2.2 (the launcher's jar) with the questdb service's environment, as in the
    container but with its root in a temporary folder and its HTTP, PostgreSQL and health
    servers on free loopback ports. Yields those three ports once it answers SQL."""
    tmp_path = tmp_path_factory.mktemp("questdb")
    cfg = LocalQuestDBConfig(root=REPO / ".kgtwin")  # for the shared jar only
    jar = install(cfg, progress=lambda _line: None)
    http, pg, health = free_ports(3)
    env = {
        **server_environment(os.environ),
        **environment(services["questdb"], env_example),
        "QDB_HTTP_BIND_TO": f"127.0.0.1:{http}",
        "QDB_PG_NET_BIND_TO": f"127.0.0.1:{pg}",
        "QDB_HTTP_MIN_NET_BIND_TO": f"127.0.0.1:{health}",
    }
    auth = (env_example["QUESTDB_USER"], env_example["QUESTDB_PASSWORD"])
    root = tmp_path / "root"  # the container's /var/lib/questdb
    root.mkdir()
    log = tmp_path / "questdb.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [questdb_java(cfg), "-p", str(jar), "-m", MAIN, "-d", str(root)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not (port_open(http) and _answers(http, auth)):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield http, pg, health
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(http_port: int, auth: tuple[str, str]) -> bool:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{http_port}/exec", params={"query": "SELECT 1"}, auth=auth
        )
    except httpx.TransportError:
        return False
    return response.status_code == httpx.codes.OK


def test_questdb_takes_every_setting_and_the_credentials_kgtwin_is_given(
    questdb_from_deploy: tuple[int, int, int],
    services: dict[str, dict[str, Any]],
    env_example: dict[str, str],
) -> None:
    http, pg, _ = questdb_from_deploy
    kgtwin = environment(services["kgtwin"], env_example)
    auth = (kgtwin["QUESTDB_USER"], kgtwin["QUESTDB_PASSWORD"])
    url = f"http://127.0.0.1:{http}/exec"
    assert httpx.get(url, params={"query": "SELECT 1"}).status_code == 401
    parameters = httpx.get(url, params={"query": "SHOW PARAMETERS"}, auth=auth).json()
    by_variable = {row[1]: row for row in parameters["dataset"]}
    for name, value in environment(services["questdb"], env_example).items():
        _, _, taken, source, sensitive, _ = by_variable[name]  # a setting QuestDB knows
        assert source == "env", name
        assert taken == ("****" if sensitive else value), name
    with psycopg.connect(
        host="127.0.0.1", port=pg, user=auth[0], password=auth[1], dbname="qdb"
    ) as db:
        assert db.execute("SELECT 1").fetchall() == [(1,)]


def test_questdb_healthcheck_passes_against_it(
    questdb_from_deploy: tuple[int, int, int], services: dict[str, dict[str, Any]]
) -> None:
    _, _, health = questdb_from_deploy
    kind, shell, flag, command = services["questdb"]["healthcheck"]["test"]
    assert (kind, shell, flag) == ("CMD", "bash", "-c")
    command = interpolate(command, {})

    def check(port: int) -> int:
        moved = replace_once(command, "/127.0.0.1/9003", f"/127.0.0.1/{port}")
        done = subprocess.run(
            [shell, flag, moved], capture_output=True, text=True, timeout=30, check=False
        )
        return done.returncode

    assert check(health) == 0
    (closed,) = free_ports(1)
    assert check(closed) != 0, "the healthcheck should fail where nothing answers"
