"""What a start of the local QuestDB waits for: ``SELECT 1`` answered over HTTP, with the
instance's user and password.

The REST endpoint ``/exec`` is what kgtwin's history reads through, and it answers only
once the server has opened its database; basic auth proves the server is this instance
(another QuestDB that took the port would refuse the password). The probe is polled by
:mod:`devkit.launcher.instance`; this module turns ``urllib``'s errors into ``NotReady``
(try again shortly) or ``LauncherError``.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from kgtwin.devkit.errors import LauncherError
from kgtwin.devkit.launcher.config import HOST
from kgtwin.devkit.launcher.instance import NotReady, Readiness
from kgtwin.devkit.questdb.config import USER
from kgtwin.devkit.questdb.home import log_tail, password_file

_QUERY = "SELECT 1"
_TIMEOUT = 5.0  # seconds one probe may take
_UNAUTHORIZED = 401


def exec_answers(http_port: int, password: str, home: Path) -> Readiness:
    """Ready once ``/exec`` on ``http_port`` answers ``SELECT 1`` as the instance's user."""
    base = f"http://{HOST}:{http_port}"
    url = f"{base}/exec?{urlencode({'query': _QUERY})}"
    token = base64.b64encode(f"{USER}:{password}".encode()).decode("ascii")
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    # straight to the loopback address, whatever proxy the environment names
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def probe() -> None:
        try:
            with opener.open(request, timeout=_TIMEOUT) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == _UNAUTHORIZED:
                raise LauncherError(
                    f"The server on {base} refused user {USER} with the password in "
                    f"{password_file(home)}: another QuestDB may have taken port {http_port}. "
                    "Stop it, or choose another port."
                ) from exc
            raise NotReady(f"/exec answered HTTP {exc.code}") from exc
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            raise NotReady(f"{type(exc).__name__}: {exc}") from exc
        try:
            dataset = json.loads(body).get("dataset")
        except (ValueError, AttributeError) as exc:
            raise NotReady(f"/exec answered {body[:200]!r}") from exc
        if dataset != [[1]]:
            raise NotReady(f"/exec answered {body[:200]!r}")

    return Readiness(
        probe=probe,
        waiting_for=f"answer {_QUERY} on {base}/exec",
        log_tail=lambda: log_tail(home),
        logs=home / "logs",
    )
