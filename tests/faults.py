"""A TCP proxy that breaks connections on purpose, between a real client and a real server
(the Mosquitto or the Neo4j of the tests): a network fault, not a fake of either side.

- :meth:`FaultProxy.hold` stops passing the server's bytes to the connections whose
  first bytes from the client hold a marker (an MQTT client id, say) until
  :meth:`FaultProxy.release`: the server seems to have stopped answering them.
- :meth:`FaultProxy.cut_at` closes a connection when the client sends bytes that hold a
  marker (a Bolt COMMIT, say), once the connection has sent ``armed_by`` (the statement
  the commit is for) if given: passed on, the server got them and answered and the client
  never gets the answer; not passed on, the server never got them. With ``refuse`` the
  proxy then refuses every new connection.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from types import TracebackType

BOLT_COMMIT = b"\x00\x02\xb0\x12\x00\x00"  # a Bolt COMMIT message, chunked


class FaultProxy:
    """Listens on 127.0.0.1 (``port``) and forwards each connection to ``target``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._held: bytes | None = None
        self._cut: bytes | None = None
        self._armed_by: bytes | None = None
        self._forward_cut = True
        self._refuse_after_cut = False
        self._refusing = False
        self._closing = False
        self.cuts = 0
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> FaultProxy:
        self._spawn(self._accept)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            # wakes the accepting thread, which close() alone leaves blocked (on Linux)
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        for thread in self._threads:
            thread.join(5)

    def hold(self, marker: bytes) -> None:
        """Hold back the server's bytes from connections whose first bytes hold ``marker``."""
        self._held = marker

    def release(self) -> None:
        self._held = None

    def cut_at(
        self,
        marker: bytes,
        *,
        armed_by: bytes | None = None,
        forward: bool = True,
        refuse: bool = False,
    ) -> None:
        """Cut the next connection that sends ``marker`` (after it sent ``armed_by``)."""
        self._cut, self._armed_by = marker, armed_by
        self._forward_cut, self._refuse_after_cut = forward, refuse

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._pipe, client, upstream)

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        first: bytes | None = None
        armed = False
        try:
            while not self._closing:
                held = self._held is not None and first is not None and self._held in first
                watched = [client] if held else [client, upstream]
                readable, _, _ = select.select(watched, [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        first = data if first is None else first
                        armed = armed or self._armed_by is None or self._armed_by in data
                        cut = self._cut
                        if cut is not None and armed and cut in data:
                            self._cut, self.cuts = None, self.cuts + 1
                            self._refusing = self._refuse_after_cut
                            client.close()  # the client never hears back
                            if self._forward_cut:
                                upstream.sendall(data)
                                upstream.settimeout(10)
                                upstream.recv(65536)  # the server answered
                            return
                        upstream.sendall(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()
