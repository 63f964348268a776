"""An MQTT broker in pure Python, for machines without Mosquitto (and without root).

:class:`EmbeddedBroker` serves MQTT 3.1.1 and 5.0 on ``127.0.0.1`` from a background
thread with an asyncio event loop of its own. It offers what kgtwin's clients use and a
little more:

- persistent sessions keyed by client id (MQTT 5 Session Expiry Interval; 3.1.1 clean
  session 0 keeps a session for good): subscriptions, queued QoS 1 messages and messages
  sent but not acknowledged survive a reconnect, and a restart of the broker object, for
  as long as the process lives; clean start discards them (QoS 0 messages are not queued
  for a client that is away);
- SUBSCRIBE with ``+`` and ``#`` (``$``-topics are not matched by a wildcard first level),
  QoS 0 and 1 (QoS 2 subscriptions are granted QoS 1), MQTT 5 no-local, retain-as-published
  and retain-handling options, UNSUBSCRIBE;
- PUBLISH QoS 0 and 1 both ways; an incoming QoS 2 PUBLISH is taken exactly once
  (PUBREC, PUBREL, PUBCOMP) and passed on at QoS 1 at most;
- an in-flight window per client (the smaller of ``max_inflight_messages`` and the
  client's MQTT 5 Receive Maximum), redelivery with DUP on reconnect of what was sent and
  not acknowledged, and a bounded queue behind it (``max_queued_messages``; the oldest is
  dropped, with a warning, past it);
- retained messages (the last one per topic, delivered on subscribe), will messages
  (published when a connection ends without DISCONNECT; no will delay), keepalive (1.5x),
  and an optional username and password.

Not supported: topic aliases, shared subscriptions (refused per filter), subscription
identifiers, enhanced authentication, TLS, message expiry and a client's Maximum Packet
Size. A malformed packet closes its connection (after an MQTT 5 DISCONNECT saying why);
the broker serves the others on.

Why a broker of kgtwin's own rather than one from PyPI (amqtt, iotcore, ...): docs/devkit.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import threading
import uuid
from types import TracebackType

from kgtwin.devkit.broker.config import DEFAULT_MAX_INFLIGHT_MESSAGES, HOST
from kgtwin.devkit.broker.packets import (
    ASSIGNED_CLIENT_IDENTIFIER,
    AUTHENTICATION_METHOD,
    BAD_AUTH_METHOD,
    CLIENT_ID_NOT_VALID,
    CONNECT,
    DISCONNECT,
    DISCONNECT_WITH_WILL,
    KEEPALIVE_TIMEOUT,
    MAXIMUM_PACKET_SIZE,
    MQTT5,
    MQTT311,
    NO_SUBSCRIPTION_EXISTED,
    PASSED_ON_PROPERTIES,
    PINGREQ,
    PINGRESP_PACKET,
    PROTOCOL_ERROR,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    RECEIVE_MAXIMUM,
    SERVER_SHUTTING_DOWN,
    SESSION_EXPIRY_INTERVAL,
    SHARED_SUBSCRIPTION_AVAILABLE,
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
    SUBACK_FAILURE_311,
    SUBSCRIBE,
    SUBSCRIPTION_IDENTIFIERS_AVAILABLE,
    SUCCESS,
    TOPIC_ALIAS,
    TOPIC_ALIAS_INVALID,
    TOPIC_FILTER_INVALID,
    TOPIC_NAME_INVALID,
    UNSUBSCRIBE,
    Connect,
    MalformedPacket,
    Property,
    Publish,
    UnsupportedVersion,
    decode_connect,
    decode_disconnect,
    decode_packet_id,
    decode_publish,
    decode_subscribe,
    decode_unsubscribe,
    encode_ack,
    encode_connack,
    encode_disconnect,
    encode_publish,
    encode_suback,
    encode_unsuback,
    prop,
    read_packet,
)
from kgtwin.devkit.broker.sessions import (
    NEVER,
    Delivery,
    Message,
    Session,
    Sessions,
    Subscription,
    valid_topic_filter,
    valid_topic_name,
)
from kgtwin.devkit.errors import LocalBrokerError, PortInUse, StartTimeout
from kgtwin.ingest.address import BrokerAddress

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDED_MAX_QUEUED = 100_000  # per session; the oldest goes past it
DEFAULT_MAX_PACKET_SIZE = 16 * 1024 * 1024
_CONNECT_TIMEOUT = 10.0  # seconds a new connection has to send its CONNECT
_SWEEP_INTERVAL = 5.0  # seconds between looks for expired sessions
_QOS0_BUFFER_LIMIT = 8 * 1024 * 1024  # QoS 0 is dropped for a client this far behind


class _Broker(Sessions):
    """The sessions (:class:`Sessions`) and the listening server with its connections;
    lives on the event loop's thread only."""

    def __init__(
        self,
        username: str | None,
        password: str | None,
        max_queued: int,
        max_inflight: int,
        max_packet_size: int,
    ) -> None:
        super().__init__(username, password, max_queued)
        self.max_inflight = max_inflight
        self.max_packet_size = max_packet_size
        self.connections: dict[_Connection, asyncio.Task[None]] = {}
        self.stopping = False
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def listen(self, port: int) -> int:
        self.stopping = False
        self._server = await asyncio.start_server(self._serve, HOST, port)
        self._sweeper = asyncio.create_task(self._sweep_forever())
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def shutdown(self) -> None:
        self.stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close(SERVER_SHUTTING_DOWN)
        tasks = list(self.connections.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=5.0)
            for task in pending:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, reader, writer)
        task = asyncio.current_task()
        if task is None or self.stopping:
            writer.close()
            return
        self.connections[connection] = task
        try:
            await connection.run()
        finally:
            del self.connections[connection]
            await connection.finish()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_INTERVAL)
            self.sweep()


class _Connection:
    """One client's TCP connection: reads its packets and writes the broker's."""

    def __init__(
        self, broker: _Broker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.broker = broker
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self.version = MQTT311
        self.session: Session | None = None
        self.window = broker.max_inflight
        self.will: Message | None = None
        self.closed = False
        self._keepalive = 0

    async def run(self) -> None:
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                kind, _flags, body = await read_packet(self.reader, self.broker.max_packet_size)
            if kind != CONNECT:
                raise MalformedPacket(f"the first packet is of type {kind}, not CONNECT")
            if not self._connect(decode_connect(body)):
                await self._flush()
                return
            timeout = self._keepalive * 1.5 if self._keepalive else None
            while not self.closed:
                try:
                    async with asyncio.timeout(timeout):
                        kind, flags, body = await read_packet(
                            self.reader, self.broker.max_packet_size
                        )
                except TimeoutError:
                    logger.info("MQTT client %r missed its keepalive", self._name)
                    self.close(KEEPALIVE_TIMEOUT)
                    return
                if not self._handle(kind, flags, body):
                    return
                await self.writer.drain()
        except UnsupportedVersion as exc:
            logger.info("refused a connection from %s: %s", self.peer, exc)
            self._write(encode_connack(MQTT311, False, exc.reason))
            await self._flush()
        except MalformedPacket as exc:
            logger.warning("closing the connection of MQTT client %r: %s", self._name, exc)
            self.close(exc.reason)
        except TimeoutError:
            logger.info("no CONNECT from %s within %.0f s", self.peer, _CONNECT_TIMEOUT)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except Exception:
            logger.exception("the embedded broker failed on a packet of %r", self._name)

    @property
    def _name(self) -> str:
        return self.session.client_id if self.session is not None else str(self.peer)

    async def finish(self) -> None:
        """Detach from the session, publish the will if the end was not a DISCONNECT."""
        self.closed = True
        session, self.session = self.session, None
        if session is not None and session.connection is self:
            self.broker.detach(session)
        if self.will is not None and not self.broker.stopping:
            self.broker.publish(self.will)
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()

    def close(self, reason: int) -> None:
        """End the connection from the broker's side (with a DISCONNECT for MQTT 5)."""
        if self.closed:
            return
        if self.version == MQTT5 and self.session is not None:
            self._write(encode_disconnect(reason))
        self.closed = True
        self.writer.close()

    # ----------------------------------------------------------------- CONNECT

    def _connect(self, packet: Connect) -> bool:
        """Answer a CONNECT; False if it was refused."""
        self.version, self._keepalive = packet.version, packet.keepalive
        v5 = packet.version == MQTT5
        client_id = packet.client_id or f"auto-{uuid.uuid4().hex}"
        reason = self._refusal(packet)
        if reason != SUCCESS:
            logger.info("refused MQTT client %r from %s (0x%02x)", client_id, self.peer, reason)
            self._write(encode_connack(packet.version, False, reason))
            return False
        expiry: object = 0 if packet.clean_start else NEVER  # MQTT 3.1.1
        if v5:
            expiry = prop(packet.properties, SESSION_EXPIRY_INTERVAL)
            receive_maximum = prop(packet.properties, RECEIVE_MAXIMUM)
            if receive_maximum == 0:
                raise MalformedPacket("Receive Maximum 0", PROTOCOL_ERROR)
            if isinstance(receive_maximum, int):
                self.window = min(self.window, receive_maximum)
        will = packet.will
        if will is not None:
            if not valid_topic_name(will.topic):
                raise MalformedPacket(f"will topic {will.topic!r}", TOPIC_NAME_INVALID)
            properties = _forwardable(will.properties)
            self.will = Message(
                will.topic, will.payload, will.qos, will.retain, properties, client_id
            )
        session, present = self.broker.attach(client_id, packet.clean_start, self)
        session.expiry = expiry if isinstance(expiry, int) else 0
        self.session = session
        properties = ()
        if v5:
            properties = (
                (MAXIMUM_PACKET_SIZE, self.broker.max_packet_size),
                (SUBSCRIPTION_IDENTIFIERS_AVAILABLE, 0),
                (SHARED_SUBSCRIPTION_AVAILABLE, 0),
            )
            if not packet.client_id:
                properties += ((ASSIGNED_CLIENT_IDENTIFIER, client_id),)
        self._write(encode_connack(packet.version, present, SUCCESS, properties))
        logger.debug(
            "MQTT %s client %r connected from %s (session %s)",
            "5" if v5 else "3.1.1",
            client_id,
            self.peer,
            "resumed" if present else "new",
        )
        session.resume()
        return True

    def _refusal(self, packet: Connect) -> int:
        """Why a CONNECT is refused (a reason code), or SUCCESS."""
        reason = self.broker.authenticate(packet.username, packet.password)
        if reason != SUCCESS:
            return reason
        if packet.version == MQTT5 and prop(packet.properties, AUTHENTICATION_METHOD):
            return BAD_AUTH_METHOD  # enhanced authentication is not supported
        if packet.version == MQTT311 and not packet.client_id and not packet.clean_start:
            return CLIENT_ID_NOT_VALID  # a session needs a client id to be found again
        return SUCCESS

    # ----------------------------------------------------------------- packets

    def _handle(self, kind: int, flags: int, body: bytes) -> bool:
        """Act on one packet; False once the client has disconnected."""
        session = self.session
        assert session is not None
        if kind == PUBLISH:
            self._publish(session, decode_publish(flags, body, self.version))
        elif kind == PUBACK:
            session.acknowledged(decode_packet_id(body))
        elif kind == PUBREL:
            packet_id = decode_packet_id(body)
            session.received_qos2.discard(packet_id)
            self._write(encode_ack(PUBCOMP, packet_id))
        elif kind in (PUBREC, PUBCOMP):
            logger.debug("ignored a QoS 2 acknowledgement from %r", self._name)
        elif kind == SUBSCRIBE:
            self._subscribe(session, body)
        elif kind == UNSUBSCRIBE:
            self._unsubscribe(session, body)
        elif kind == PINGREQ:
            self._write(PINGRESP_PACKET)
        elif kind == DISCONNECT:
            disconnect = decode_disconnect(body, self.version)
            expiry = prop(disconnect.properties, SESSION_EXPIRY_INTERVAL)
            if isinstance(expiry, int) and session.expiry != 0:  # 0 may not become more
                session.expiry = expiry
            if disconnect.reason != DISCONNECT_WITH_WILL:
                self.will = None
            return False
        else:
            raise MalformedPacket(f"unexpected packet of type {kind}", PROTOCOL_ERROR)
        return True

    def _publish(self, session: Session, packet: Publish) -> None:
        if not valid_topic_name(packet.topic):
            raise MalformedPacket(f"PUBLISH to topic {packet.topic!r}", TOPIC_NAME_INVALID)
        if prop(packet.properties, TOPIC_ALIAS) is not None:
            raise MalformedPacket("topic aliases are not supported", TOPIC_ALIAS_INVALID)
        message = Message(
            packet.topic,
            packet.payload,
            min(packet.qos, 1),
            packet.retain,
            _forwardable(packet.properties),
            session.client_id,
        )
        if packet.qos == 2:
            assert packet.packet_id is not None
            if packet.packet_id not in session.received_qos2:  # else a resend: taken already
                session.received_qos2.add(packet.packet_id)
                self.broker.publish(message)
            self._write(encode_ack(PUBREC, packet.packet_id))
            return
        self.broker.publish(message)
        if packet.packet_id is not None:
            self._write(encode_ack(PUBACK, packet.packet_id))

    def _subscribe(self, session: Session, body: bytes) -> None:
        packet = decode_subscribe(body, self.version)
        codes: list[int] = []
        retained: list[Delivery] = []
        failure = SUBACK_FAILURE_311 if self.version == MQTT311 else TOPIC_FILTER_INVALID
        for topic_filter, options in packet.filters:
            if topic_filter.startswith("$share/"):
                codes.append(
                    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED if self.version == MQTT5 else failure
                )
                continue
            if not valid_topic_filter(topic_filter):
                codes.append(failure)
                continue
            qos = min(options & 0x03, 1)
            subscription = Subscription(
                tuple(topic_filter.split("/")),
                qos,
                no_local=bool(options & 0x04),
                retain_as_published=bool(options & 0x08),
            )
            existed = topic_filter in session.subscriptions
            session.subscriptions[topic_filter] = subscription
            codes.append(qos)
            retain_handling = (options >> 4) & 0x03
            if retain_handling == 0 or (retain_handling == 1 and not existed):
                retained += self.broker.retained_for(subscription)
        self._write(encode_suback(self.version, packet.packet_id, codes))
        for delivery in retained:
            session.deliver(delivery)

    def _unsubscribe(self, session: Session, body: bytes) -> None:
        packet = decode_unsubscribe(body, self.version)
        codes = [
            SUCCESS if session.subscriptions.pop(f, None) else NO_SUBSCRIPTION_EXISTED
            for f in packet.filters
        ]
        self._write(encode_unsuback(self.version, packet.packet_id, codes))

    # ----------------------------------------------------------------- writing

    def send_publish(self, delivery: Delivery, packet_id: int | None, dup: bool = False) -> None:
        if self.closed:
            return
        if delivery.qos == 0:
            transport = self.writer.transport
            if transport.get_write_buffer_size() > _QOS0_BUFFER_LIMIT:
                return  # the client does not keep up: QoS 0 may be lost
        message = delivery.message
        self._write(
            encode_publish(
                self.version,
                message.topic,
                message.payload,
                qos=delivery.qos,
                retain=delivery.retain,
                dup=dup,
                packet_id=packet_id,
                properties=message.properties,
            )
        )

    def _write(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    async def _flush(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()


def _forwardable(properties: tuple[Property, ...]) -> tuple[Property, ...]:
    """The properties of a PUBLISH (or a will) that go on to subscribers: not a topic
    alias, a subscription identifier (set per subscriber) or a will delay."""
    return tuple(p for p in properties if p[0] in PASSED_ON_PROPERTIES)


class EmbeddedBroker:
    """An MQTT broker on ``127.0.0.1:port`` inside this process (port 0: a free port).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`; like
    :class:`devkit.broker.LocalBroker` it has :attr:`address` and :attr:`url`. With
    ``username`` and ``password`` only that user may connect. After a first start on port
    0 the port chosen is kept, so :meth:`restart` comes back on the same one; sessions and
    retained messages live as long as the object. Not thread-safe: one thread starts and
    stops it.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        username: str | None = None,
        password: str | None = None,
        max_queued_messages: int = DEFAULT_EMBEDDED_MAX_QUEUED,
        max_inflight_messages: int = DEFAULT_MAX_INFLIGHT_MESSAGES,
        max_packet_size: int = DEFAULT_MAX_PACKET_SIZE,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        if password is not None and username is None:
            raise ValueError("a password needs a username")
        if min(max_queued_messages, max_inflight_messages, max_packet_size) < 1:
            raise ValueError("the queue, in-flight and packet size limits must be positive")
        self._port = port
        self._username = username
        self._password = password
        self._broker = _Broker(
            username,
            password,
            max_queued_messages,
            min(max_inflight_messages, 0xFFFF),
            max_packet_size,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.address.safe_url if self._port else "port not chosen yet"
        return f"EmbeddedBroker({where!r}, running={self.running})"

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on; 0 until a broker asked for port 0 has started."""
        return self._port

    @property
    def address(self) -> BrokerAddress:
        """How clients reach the broker, credentials included."""
        if not self._port:
            raise LocalBrokerError("the embedded broker has no port until it starts")
        return BrokerAddress(HOST, self._port, False, self._username, self._password)

    @property
    def url(self) -> str:
        """``mqtt://[user:password@]127.0.0.1:PORT``: contains the password if one is set."""
        return self.address.url

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Listen and serve from a background thread; return once the port is bound."""
        if self.running:
            raise LocalBrokerError(f"{self!r} is already running; stop it first")
        loop = asyncio.new_event_loop()
        bound: concurrent.futures.Future[int] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._run, args=(loop, bound), name="kgtwin-mqtt-broker", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            self._port = bound.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            self.stop()
            raise StartTimeout(
                f"the embedded MQTT broker did not listen within {timeout} s"
            ) from exc
        except OSError as exc:
            thread.join(timeout)
            self._loop = self._thread = None
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"Port {self._port} on {HOST} is already used by another process, so the "
                    f"embedded MQTT broker cannot listen on it. Free it (see 'ss -ltnp sport = "
                    f":{self._port}') or choose another port (0 picks a free one)."
                ) from exc
            raise LocalBrokerError(f"the embedded MQTT broker cannot listen: {exc}") from exc
        logger.info("the embedded MQTT broker serves %s", self.address.safe_url)

    def stop(self, timeout: float = 10.0) -> bool:
        """Close every connection and stop listening; ``False`` if it was not started."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return False
        if thread.is_alive():
            done = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop)
            try:
                done.result(timeout)
            except (concurrent.futures.TimeoutError, RuntimeError):
                logger.warning(
                    "the embedded MQTT broker did not shut down cleanly in %s s", timeout
                )
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        self._loop = self._thread = None
        logger.info("the embedded MQTT broker on port %d stopped", self._port)
        return True

    def restart(self, timeout: float = 10.0) -> None:
        """Stop (clients are disconnected; sessions are kept) and start on the same port."""
        self.stop(timeout)
        self.start(timeout)

    def _run(self, loop: asyncio.AbstractEventLoop, bound: concurrent.futures.Future[int]) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                port = loop.run_until_complete(self._broker.listen(self._port))
            except OSError as exc:
                bound.set_exception(exc)
                return
            bound.set_result(port)
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
