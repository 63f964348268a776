"""How ``kgtwin serve`` listens: uvicorn's configuration from the settings, and the HTTP
protocol that bounds how long a client may take to send a request.

uvicorn closes a kept-alive connection that idles (``idle_timeout``) and answers 503 past
``max_connections`` open connections, but it waits for ever on a client that sends half
its headers: fifty such clients would hold fifty connections, and at the cap every other
client. :func:`reading_protocol` closes a connection whose request headers have not all
arrived ``read_timeout`` seconds after its first byte (or after the connection opened);
the body then has as long again (:mod:`server.graphql_http`). WebSocket messages are
bounded by ``max_body_bytes`` too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from kgtwin.server.settings import Settings

logger = logging.getLogger(__name__)


class ReadingProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection that does not send its request's
    headers within :attr:`read_timeout` seconds."""

    read_timeout: float = 10.0

    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self._in_request():
            self._arm()  # the first bytes of a request: its headers must follow in time
        super().data_received(data)
        if self._in_request() or self.transport.get_protocol() is not self:
            self._disarm()  # headers complete (or upgraded to a WebSocket)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if not self._in_request() and not self.transport.is_closing():
            logger.debug("closing a connection that sent no complete request in time")
            self.transport.close()


def reading_protocol(read_timeout: float) -> type[ReadingProtocol]:
    """:class:`ReadingProtocol` with this ``read_timeout``."""
    return type("ReadingProtocol", (ReadingProtocol,), {"read_timeout": float(read_timeout)})


def uvicorn_config(app: ASGIApp, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` with the limits of ``settings``."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": reading_protocol(settings.read_timeout),
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.idle_timeout,
        "ws_max_size": settings.max_body_bytes,
        **overrides,
    }
    return uvicorn.Config(app, **options)
