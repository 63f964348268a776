"""Talking SQL to QuestDB over its HTTP endpoint (``/exec``): the tables' DDL and reads.

One address serves writes (InfluxDB line protocol over HTTP, :mod:`.sender`), SQL and the
web console, so kgtwin needs one URL and one pair of credentials for history. Every call
has a deadline; an answer QuestDB refuses raises :class:`QuestDBError` with its message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

DEFAULT_TIMEOUT = 10.0  # seconds for one statement, connecting included


class QuestDBError(Exception):
    """QuestDB could not be reached, or refused a statement (``status``: its HTTP status,
    None when it did not answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class QuestDB:
    """Where QuestDB answers and as whom: ``url`` is ``http(s)://host:port`` (writes, DDL),
    ``pg_port`` its PostgreSQL wire port on the same host (reads, with bound parameters)."""

    url: str
    user: str
    password: str | None = field(default=None, repr=False)
    pg_port: int = 8812  # its PostgreSQL wire port, on the URL's host (reads)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def address(self) -> str:
        """``host:port``, as the line-protocol client's ``addr`` wants it."""
        return self.url.split("://", 1)[1].rstrip("/")

    @property
    def tls(self) -> bool:
        return self.url.startswith("https://")

    def sender_conf(self, request_timeout: float) -> str:
        """The line-protocol client's configuration: HTTP, flushed by hand, no retries of
        its own (the sender retries, from the spool). Values that hold ``;`` are doubled,
        as the client's configuration syntax escapes them."""
        parts = [
            f"{'https' if self.tls else 'http'}::addr={self.address}",
            f"request_timeout={round(request_timeout * 1000)}",
            "retry_timeout=0",
            "auto_flush=off",
        ]
        if self.password is not None:
            parts += [f"username={_escape(self.user)}", f"password={_escape(self.password)}"]
        return ";".join(parts) + ";"

    def execute(self, sql: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Run ``sql``; QuestDB's JSON answer (``columns`` and ``dataset`` for a query)."""
        auth = (self.user, self.password) if self.password is not None else None
        try:
            response = httpx.get(
                f"{self.url.rstrip('/')}/exec", params={"query": sql}, auth=auth, timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise QuestDBError(f"QuestDB at {self.url} did not answer: {exc}") from None
        if response.status_code == 401:
            raise QuestDBError(
                f"QuestDB at {self.url} refused the credentials of user {self.user!r}", 401
            )
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            raise QuestDBError(
                f"QuestDB at {self.url} answered HTTP {response.status_code} without JSON: "
                f"{response.text[:200]!r}",
                response.status_code,
            ) from None
        if response.status_code != 200 or "error" in answer:
            raise QuestDBError(
                f"QuestDB refused {sql[:120]!r}: {answer.get('error', response.status_code)}",
                response.status_code,
            )
        return answer


def _escape(value: str) -> str:
    return value.replace(";", ";;")
