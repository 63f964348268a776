"""``kgtwin demo`` as a newcomer runs it: a real subprocess with a home of its own (its own
local Neo4j on free ports, the embedded Python broker as on a machine without Mosquitto,
the simulator, the server and a local QuestDB for history), with UPS A1 failed
(``--fault ups-a1``). It must print a token, serve a GraphQL answer carrying live telemetry
from the simulator within a bounded time, and history of it, report UPS A1 failed, and
answer a what-if from that live state: UPS B1 failing too takes hall 1's racks down, which
it does not without UPS A1. On Ctrl-C it must stop everything it started: the exit code is
0 and no process of it is left (Neo4j, QuestDB, broker, server)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from kgtwin.devkit.launcher import free_ports
from kgtwin.devkit.launcher.home import read_pid
from kgtwin.devkit.launcher.instance import read_pid as read_questdb_pid
from kgtwin.devkit.launcher.process import port_open
from kgtwin.devkit.questdb.home import pid_file as questdb_pid_file
from tests.browser import GRAPHIQL_RENDERED, browser, not_neo4j_browsers
from tests.conftest import REPO
from tests.neo4j_service import Neo4jService, alive

T = TypeVar("T")

START_TIMEOUT = 240.0  # seconds: Neo4j's start, the load of dc1, the first snapshot
LIVE_TIMEOUT = 60.0  # seconds from serving to a simulated value in the answer
STOP_TIMEOUT = 90.0
POINTS = '{ asset(id: "ups-a1") { points(first: 20) { id value observedAt } } }'
REPORTED = "{ reportedFailures { id point } }"
HISTORY = """
query ($from: DateTime!, $to: DateTime!) {
  history(points: ["ups-a1.output-power"], from: $from, to: $to) { samples { time value } }
}
"""
WHAT_IF = """
query ($live: Boolean!) {
  whatIf(fail: ["ups-b1"], fromLiveState: $live) {
    failed
    impacted(first: 100, class: "Rack") { id }
  }
}
"""


@dataclass
class Demo:
    process: subprocess.Popen[str]
    home: Path
    ports: dict[str, int]
    output: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)


@pytest.fixture
def demo(neo4j_server: Neo4jService) -> Iterator[Demo]:
    """A running ``kgtwin demo``; killed (with its Neo4j) if the test did not stop it."""
    home = REPO / ".kgtwin" / f"demo-test-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shared_jars = REPO / ".kgtwin" / "lib"
    if shared_jars.is_dir():  # the session's Neo4j downloaded them: no second download
        (home / "lib").symlink_to(shared_jars)
    bolt, http, api, questdb_http, questdb_pg = free_ports(5)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEO4J_", "KGTWIN_", "MQTT_"))
    }
    env |= {
        "KGTWIN_HOME": str(home),
        "KGTWIN_NEO4J_BOLT_PORT": str(bolt),
        "KGTWIN_NEO4J_HTTP_PORT": str(http),
        # the sizes of every start before they came from the machine: a second Neo4j beside
        # the session's, on a machine others share
        "KGTWIN_NEO4J_HEAP": "1g",
        "KGTWIN_NEO4J_PAGECACHE": "512m",
        "KGTWIN_PORT": str(api),
        "KGTWIN_QUESTDB_HTTP_PORT": str(questdb_http),
        "KGTWIN_QUESTDB_PG_PORT": str(questdb_pg),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "kgtwin"),
            "demo",
            "--embedded-broker",
            "--speed",
            "10",
            "--fault",
            "ups-a1",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ports = {"bolt": bolt, "http": http, "api": api, "questdb": questdb_http, "pg": questdb_pg}
    running = Demo(process, home, ports)
    reader = threading.Thread(target=running.read, daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(10)
        assert process.stdout is not None
        process.stdout.close()
        # what it started runs detached (Neo4j, QuestDB, Mosquitto), each with the demo's
        # home on its command line
        subprocess.run(["pkill", "-KILL", "-f", str(home)], check=False)
        shutil.rmtree(home, ignore_errors=True)


def wait_for(condition: Callable[[], T], what: str, timeout: float, demo: Demo) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if demo.process.poll() is not None:
            pytest.fail(f"kgtwin demo exited ({demo.process.returncode}):\n{demo.text()}")
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout:.0f} s; kgtwin demo said:\n{demo.text()}")


@pytest.mark.browser
def test_demo_serves_live_telemetry_and_stops_everything_on_ctrl_c(demo: Demo) -> None:
    found = wait_for(
        lambda: re.search(r"API token\s+(kgt_\S+)", demo.text()), "token", START_TIMEOUT, demo
    )
    assert found is not None
    token = found.group(1)
    assert f"http://127.0.0.1:{demo.ports['api']}/graphql" in demo.text()
    assert f"http://127.0.0.1:{demo.ports['http']}/browser/" in demo.text()
    assert "embedded Python broker" in demo.text()
    base_url = f"http://127.0.0.1:{demo.ports['api']}"

    def ask(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer's data; empty while the server is not listening yet."""
        try:
            with httpx.Client(base_url=base_url, timeout=10) as client:
                body = client.post(
                    "/graphql",
                    json={"query": query, "variables": variables or {}},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()
        except httpx.HTTPError:
            return {}
        data: dict[str, Any] = body.get("data") or {}
        return data

    def live_value() -> bool:
        points = (ask(POINTS).get("asset") or {}).get("points") or []
        return any(p["value"] is not None for p in points)

    wait_for(live_value, "simulated value in the asset query", LIVE_TIMEOUT, demo)
    reported = wait_for(
        lambda: ask(REPORTED).get("reportedFailures"), "reported failure", LIVE_TIMEOUT, demo
    )
    assert reported == [{"id": "ups-a1", "point": "ups-a1.fault"}]
    from_live_state = ask(WHAT_IF, {"live": True})["whatIf"]
    assert from_live_state["failed"] == ["ups-b1", "ups-a1"]
    assert len(from_live_state["impacted"]) == 40  # every hall-1 rack
    assert ask(WHAT_IF, {"live": False})["whatIf"]["impacted"] == []
    history = wait_for(
        lambda: (ask(HISTORY, window()).get("history") or [{}])[0].get("samples"),
        "history of UPS A1's output power",
        LIVE_TIMEOUT,
        demo,
    )
    assert all(isinstance(s["value"], float) for s in history)
    predicted_as_observed(demo, ask)
    every_page_works_without_internet(demo)
    neo4j_pid = read_pid(demo.home / "neo4j")
    assert neo4j_pid is not None
    assert alive(neo4j_pid)
    questdb_pid = read_questdb_pid(questdb_pid_file(demo.home / "questdb"))
    assert questdb_pid is not None
    assert alive(questdb_pid)

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(STOP_TIMEOUT) == 0, demo.text()
    assert not alive(neo4j_pid), f"the demo's Neo4j is still running:\n{demo.text()}"
    assert not alive(questdb_pid), f"the demo's QuestDB is still running:\n{demo.text()}"
    for name, port in demo.ports.items():
        assert not port_open(port), f"something still listens on the demo's {name} port {port}"
    leftovers = subprocess.run(
        ["pgrep", "-f", str(demo.home)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == [], f"processes of the demo are still running: {leftovers}"


def predicted_as_observed(demo: Demo, ask: Callable[[str], dict[str, Any]]) -> None:
    """The welcome's compareWithObserved, once 30 s of the fault are in history: the
    capacity what-if of UPS A1 failing, from the loads measured before, predicts the B
    side's loads within 10% of those observed after."""
    found = re.search(r"ups-a1 fails at (\d\d:\d\d:\d\d) UTC", demo.text())
    assert found is not None, demo.text()
    at = datetime.combine(
        datetime.now(UTC).date(), datetime.strptime(found.group(1), "%H:%M:%S").time(), UTC
    )
    query = re.search(r"\{ compareWithObserved.*?\} \} \}", demo.text(), re.DOTALL)
    assert query is not None, demo.text()
    wait_for(lambda: datetime.now(UTC) > at + timedelta(seconds=40), "the fault", 120, demo)
    answer = ask(query.group(0))["compareWithObserved"]
    observed = {a["id"]: a for a in answer["assets"]}
    for b_side in ("ups-b1", "pdu-h1-b1", "pdu-h1-b2"):
        assert observed[b_side]["percentError"] < 10, answer
    assert answer["mape"] < 10, answer


def window() -> dict[str, str]:
    """The ten minutes up to a minute from now, as GraphQL variables."""
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(minutes=10)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }


def questdb_console_serves_its_page(demo: Demo, console: str) -> None:
    """QuestDB's web console, printed with its user and password, answers with them (its
    own scripts from 127.0.0.1; it asks questdb.io for release news, and goes on without)."""
    found = re.search(r"QuestDB console \S+\s+user (\S+)\s+password (\S+)", demo.text())
    assert found is not None, demo.text()
    # (its "/" is a redirect to /index.html whose body never ends: a browser follows it)
    page = httpx.get(f"{console}/index.html", auth=(found.group(1), found.group(2)), timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    assert re.findall(r'<script[^>]+src="https?://', page.text) == []


def every_page_works_without_internet(demo: Demo) -> None:
    """Each page the demo prints, opened in a browser whose network reaches 127.0.0.1
    only: kgtwin's ask nothing of another host; Neo4j Browser (Neo4j's page) only its
    fonts and usage scripts, and connects and shows the kgtwin guide without them."""
    urls = list(dict.fromkeys(re.findall(r"http://127\.0\.0\.1:\d+/\S*", demo.text())))
    password = re.search(r"password (\S+)", demo.text())
    assert password is not None
    console = f"http://127.0.0.1:{demo.ports['questdb']}"
    urls = [u for u in urls if not u.startswith(console)]
    assert len(urls) == 4, urls  # GraphiQL, metrics, health, Neo4j Browser
    questdb_console_serves_its_page(demo, console)
    with browser() as page:
        for url in urls:
            page.requests.clear()
            if url.endswith("/browser/"):
                page.connect_neo4j_browser(demo.ports["http"], password.group(1))
                page.wait_for("document.body.innerText.includes('The twin in this graph')", 60)
                assert not not_neo4j_browsers(page.outside()), (url, page.outside())
                continue
            page.open(url)
            if url.endswith("/graphql"):
                page.wait_for(GRAPHIQL_RENDERED)
            assert page.outside() == set(), (url, page.outside())
