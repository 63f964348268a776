"""The embedded broker's state: sessions with their subscriptions, queued and in-flight
QoS 1 messages, retained messages, and routing a message to every matching subscription.
Used from the broker's event-loop thread only; it knows a client's connection only as a
:class:`Link` (``devkit.broker.embedded`` has the connections and the server)."""

from __future__ import annotations

import hmac
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from kgtwin.devkit.broker.packets import (
    BAD_CREDENTIALS,
    NOT_AUTHORIZED,
    SESSION_TAKEN_OVER,
    SUCCESS,
    Property,
)

logger = logging.getLogger(__name__)

NEVER = 0xFFFFFFFF  # session expiry interval: the session never expires
_DROP_LOG_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: tuple[Property, ...]  # MQTT 5 properties passed on to subscribers
    origin: str  # the publisher's client id (for no-local)


@dataclass(frozen=True, slots=True)
class Subscription:
    levels: tuple[str, ...]
    qos: int
    no_local: bool = False
    retain_as_published: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    message: Message
    qos: int
    retain: bool


def valid_topic_name(topic: str) -> bool:
    return bool(topic) and "+" not in topic and "#" not in topic


def valid_topic_filter(topic_filter: str) -> bool:
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(filter_levels: tuple[str, ...], topic_levels: list[str]) -> bool:
    """Whether a topic (split at ``/``) matches a filter (split at ``/``)."""
    if topic_levels[0].startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels) or (level != "+" and level != topic_levels[i]):
            return False
    return len(filter_levels) == len(topic_levels)


class Link(Protocol):
    """A client's live connection, as a session sees it."""

    @property
    def window(self) -> int:
        """How many QoS 1 messages may be in flight to the client."""
        ...

    def send_publish(
        self, delivery: Delivery, packet_id: int | None, dup: bool = False
    ) -> None: ...

    def close(self, reason: int) -> None: ...


class Session:
    """What the broker keeps for one client id, connected or not."""

    def __init__(self, client_id: str, max_queued: int) -> None:
        self.client_id = client_id
        self.max_queued = max_queued
        self.subscriptions: dict[str, Subscription] = {}
        self.queue: deque[Delivery] = deque()  # QoS 1, not sent yet
        self.inflight: dict[int, Delivery] = {}  # sent, not acknowledged (in send order)
        self.received_qos2: set[int] = set()  # QoS 2 packet ids taken, PUBREL not yet seen
        self.expiry = 0  # seconds the session outlives its connection
        self.expires_at: float | None = None  # monotonic; None while connected or never
        self.connection: Link | None = None
        self.dropped = 0
        self._last_id = 0

    def deliver(self, delivery: Delivery) -> None:
        connection = self.connection
        if delivery.qos == 0:
            if connection is not None:
                connection.send_publish(delivery, None)
            return
        self.queue.append(delivery)
        self.pump()
        if len(self.queue) > self.max_queued:
            self.queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % _DROP_LOG_EVERY == 0:
                logger.warning(
                    "the queue of MQTT client %r is full (%d messages): dropped the oldest "
                    "(%d dropped so far)",
                    self.client_id,
                    self.max_queued,
                    self.dropped,
                )

    def pump(self) -> None:
        """Send queued messages while the client's in-flight window has room."""
        connection = self.connection
        if connection is None:
            return
        while self.queue and len(self.inflight) < connection.window:
            delivery = self.queue.popleft()
            packet_id = self._next_id()
            self.inflight[packet_id] = delivery
            connection.send_publish(delivery, packet_id)

    def acknowledged(self, packet_id: int) -> None:
        if self.inflight.pop(packet_id, None) is not None:
            self.pump()

    def resume(self) -> None:
        """After a reconnect: send again what was not acknowledged (DUP), then the queue."""
        connection = self.connection
        if connection is None:
            return
        for packet_id, delivery in self.inflight.items():
            connection.send_publish(delivery, packet_id, dup=True)
        self.pump()

    def _next_id(self) -> int:
        while True:
            self._last_id = self._last_id % 0xFFFF + 1
            if self._last_id not in self.inflight:
                return self._last_id


class Sessions:
    """Sessions, retained messages and routing.

    It outlives the listening server, so a stopped and restarted embedded broker keeps its
    sessions and retained messages.
    """

    def __init__(self, username: str | None, password: str | None, max_queued: int) -> None:
        self.username = username
        self.password = password
        self.max_queued = max_queued
        self.sessions: dict[str, Session] = {}
        self.retained: dict[str, Message] = {}

    def sweep(self) -> None:
        """Forget sessions whose expiry has passed."""
        now = time.monotonic()
        for client_id, session in list(self.sessions.items()):
            if session.expires_at is not None and session.expires_at <= now:
                del self.sessions[client_id]
                logger.info("session of MQTT client %r expired", client_id)

    def authenticate(self, username: str | None, password: bytes | None) -> int:
        if self.username is None:
            return SUCCESS
        if username is None:
            return NOT_AUTHORIZED
        expected = (self.password or "").encode()
        same_user = hmac.compare_digest(username.encode(), self.username.encode())
        same_password = hmac.compare_digest(password or b"", expected)
        return SUCCESS if same_user and same_password else BAD_CREDENTIALS

    def attach(self, client_id: str, clean_start: bool, connection: Link) -> tuple[Session, bool]:
        """The session for ``client_id`` (a new one on clean start) and whether it existed."""
        self.sweep()
        session = self.sessions.get(client_id)
        if session is not None and session.connection is not None:
            logger.info("MQTT client %r connected again: closing its old connection", client_id)
            session.connection.close(SESSION_TAKEN_OVER)
            session.connection = None
        present = session is not None and not clean_start
        if session is None or clean_start:
            session = self.sessions[client_id] = Session(client_id, self.max_queued)
        assert session is not None
        session.connection = connection
        session.expires_at = None
        return session, present

    def detach(self, session: Session) -> None:
        session.connection = None
        if session.expiry == 0:
            if self.sessions.get(session.client_id) is session:
                del self.sessions[session.client_id]
        elif session.expiry != NEVER:
            session.expires_at = time.monotonic() + session.expiry

    def publish(self, message: Message) -> None:
        if message.retain:
            if message.payload:
                self.retained[message.topic] = message
            else:
                self.retained.pop(message.topic, None)
        levels = message.topic.split("/")
        for session in self.sessions.values():
            best: Subscription | None = None
            for subscription in session.subscriptions.values():
                if subscription.no_local and message.origin == session.client_id:
                    continue
                if topic_matches(subscription.levels, levels) and (
                    best is None or subscription.qos > best.qos
                ):
                    best = subscription
            if best is not None:
                retain = message.retain and best.retain_as_published
                session.deliver(Delivery(message, min(best.qos, message.qos), retain))

    def retained_for(self, subscription: Subscription) -> list[Delivery]:
        return [
            Delivery(message, min(subscription.qos, message.qos), True)
            for topic, message in self.retained.items()
            if topic_matches(subscription.levels, topic.split("/"))
        ]
