"""Headless Chromium for the tests, driven over the DevTools protocol, with its network
held to 127.0.0.1: every other host name fails to resolve (and every request the page
makes is recorded), so a page that needs the internet shows it.

Chromium comes from Debian's ``chromium`` package, installed with apt-get when missing
(the test set-up's job, as for Mosquitto). A browser that cannot be had is an error.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM = "chromium"
# Neo4j Browser (Neo4j's page) asks these for fonts and usage scripts, and its crash reports
# go to a *.ingest.sentry.io; it works without any of them
NEO4J_BROWSER_HOSTS = frozenset({"fonts.googleapis.com", "cdn.segment.com", "canny.io"})
SENTRY = ".ingest.sentry.io"


def not_neo4j_browsers(hosts: set[str]) -> set[str]:
    """The hosts among ``hosts`` that Neo4j Browser itself has no reason to ask."""
    return {h for h in hosts if h not in NEO4J_BROWSER_HOSTS and not h.endswith(SENTRY)}


GRAPHIQL_RENDERED = "document.querySelector('.graphiql-query-editor .CodeMirror') !== null"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-quic",
    "--remote-debugging-port=0",
    # no host but this one: other names do not resolve, so nothing leaves the machine
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


def chromium() -> str:
    """The Chromium binary, installed from Debian's packages if missing."""
    found = shutil.which(CHROMIUM)
    if found is None:
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
            check=True,
            capture_output=True,
        )
        found = shutil.which(CHROMIUM)
    if found is None:
        raise RuntimeError("chromium is not installed and apt-get could not install it")
    return found


@dataclass
class Page:
    """A tab, over its DevTools WebSocket: commands, and the events seen so far."""

    socket: ClientConnection
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console: list[str] = field(default_factory=list)  # console messages and exceptions
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """The result of a DevTools command (events meanwhile are recorded)."""
        number = next(self._ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.webSocketCreated":
            self.requests.append(params["url"])
        elif method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", "")) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            self.console.append(str(params["exceptionDetails"].get("text")))
        elif method == "Log.entryAdded":
            self.console.append(params["entry"]["text"])

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited when a promise)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """The first truthy value of ``expression``, polled; ``TimeoutError`` when none."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} stayed falsy for {timeout:.0f} s")
            time.sleep(0.2)

    def outside(self) -> set[str]:
        """The hosts other than 127.0.0.1 the page asked for (data: URLs ask no one)."""
        return {
            urlsplit(u).hostname or u
            for u in self.requests
            if not u.startswith("data:") and urlsplit(u).hostname != "127.0.0.1"
        }

    def connect_neo4j_browser(self, http_port: int, password: str) -> None:
        """Open Neo4j Browser and connect as ``neo4j``, typing into its form as a person
        does."""
        self.open(f"http://127.0.0.1:{http_port}/browser/")
        self.wait_for("document.querySelector('[data-testid=\"password\"]') !== null", 60)
        for name, text in (("username", "neo4j"), ("password", password)):
            self.evaluate(f"document.querySelector('[data-testid=\"{name}\"]').focus()")
            self.evaluate(f"document.querySelector('[data-testid=\"{name}\"]').select()")
            self.send("Input.insertText", text=text)
        self.evaluate("document.querySelector('[data-testid=\"connect\"]').click()")

    def open(self, url: str, timeout: float = 30.0) -> None:
        """Go to ``url`` and wait until it has loaded (scripts that failed included)."""
        self.send("Page.navigate", url=url)
        self.wait_for(
            f"location.href === {json.dumps(url)} && document.readyState === 'complete'",
            timeout,
        )


@contextmanager
def browser(start_timeout: float = 30.0) -> Iterator[Page]:
    """A headless Chromium and its first tab, closed afterwards."""
    binary = chromium()
    # Chromium's helper processes may still write to the profile as the browser exits:
    # what they leave is not the test's concern
    with tempfile.TemporaryDirectory(
        prefix="kgtwin-chromium-", ignore_cleanup_errors=True
    ) as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _port(Path(profile) / "DevToolsActivePort", process, start_timeout)
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            (target,) = [t for t in targets if t["type"] == "page"][:1]
            with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
                page = Page(socket)
                for domain in ("Page", "Network", "Runtime", "Log"):
                    page.send(f"{domain}.enable")
                yield page
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _port(path: Path, process: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} at start")
        if path.exists() and path.read_text().strip():
            return int(path.read_text().splitlines()[0])
        time.sleep(0.1)
    raise RuntimeError(f"chromium opened no DevTools port in {timeout:.0f} s")
