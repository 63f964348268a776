"""``kgtwin serve``: the command a user runs, as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from kgtwin.devkit.launcher import free_ports
from kgtwin.server.cli import main
from tests.conftest import REPO


def test_serve_answers_health_and_graphql_then_stops_cleanly(
    neo4j_env: dict[str, str],
) -> None:
    (port,) = free_ports(1)
    env = {**os.environ, **neo4j_env, "KGTWIN_ANONYMOUS_READ": "true"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from kgtwin.server.cli import main; sys.exit(main())",
            "serve",
            "--port",
            str(port),
            "--no-history",  # said once, beside where it serves
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                health = httpx.get(f"{base}/healthz", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "kgtwin serve did not listen in 60 s"
                time.sleep(0.2)
        assert health.status_code == 200
        body = httpx.post(
            f"{base}/graphql", json={"query": '{ ontology { class(name: "Pump") { parents } } }'}
        ).json()
        assert body == {"data": {"ontology": {"class": {"parents": ["MechanicalAsset"]}}}}
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"serving GraphQL on http://127.0.0.1:{port}/graphql (anonymous read on)" in err
    assert err.count("history: off (KGTWIN_HISTORY / [history] enabled is false)") == 1
    assert "events: off (no broker" in err
    assert "password" not in err.lower()


def test_serve_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0"]) == 2
    assert "kgtwin: error: --port=0 is not a port number (1-65535)" in capsys.readouterr().err
