"""Publishing dead letters, and knowing whether the broker took them.

:class:`DeadLetterPublisher` has an MQTT connection of its own (client id
``<worker's id>-deadletters``, a clean session), so that the worker's receiving
connection can stop reading while its byte budget is spent without holding up the
acknowledgements of dead letters, which a batch waits for.

A dead letter counts as delivered only when the broker acknowledges it with a success
reason code: paho reports a PUBACK that refuses a message (0x87 "Not authorized", 0x97
"Quota exceeded", ...) as published, so :meth:`DeadLetterPublisher.send` looks at each
PUBACK's reason code itself. Anything short of that (refused, not acknowledged within
``timeout`` seconds of the last acknowledgement, not sent at all) is reported as a
failure, and the worker keeps the originals with the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kgtwin.ingest.address import BrokerAddress, configure

logger = logging.getLogger(__name__)

MAX_INFLIGHT = 1_000  # dead letters sent before their PUBACKs, at most
MAX_HELD_BYTES = 8 * 2**20  # bytes of dead letters published and not yet acknowledged


class DeadLetterPublisher:
    """Call :meth:`start`, :meth:`send` from one thread at a time, :meth:`stop`."""

    def __init__(self, address: BrokerAddress, client_id: str, timeout: float) -> None:
        self.address = address
        self.client_id = client_id
        self.timeout = timeout
        self._changed = threading.Condition()
        self._acks: dict[int, ReasonCode] = {}
        self._client = self._new_client()

    def start(self) -> None:
        addr = self.address
        self._client.connect_async(addr.host, addr.port, keepalive=30, clean_start=True)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def restart(self) -> None:
        """A new connection, forgetting what the old one had not delivered (after a failed
        :meth:`send`, whose originals the broker will deliver again)."""
        self.stop()
        self._client = self._new_client()
        self.start()

    def send(self, letters: Iterable[tuple[str, bytes]]) -> str | None:
        """Publish ``(topic, body)`` pairs at QoS 1 and wait until the broker took each
        one; None when it did, else why not (the caller then calls :meth:`restart`).

        ``letters`` is read as it goes: past :data:`MAX_HELD_BYTES` of bodies not yet
        acknowledged, the next is built only once those are, so a batch of large rejected
        payloads never has all its dead letters in memory at once."""
        client = self._client
        with self._changed:
            self._acks = {}
        waiting: dict[int, str] = {}
        refused: dict[str, str] = {}
        held = 0
        for topic, body in letters:
            try:
                info = client.publish(topic, body, qos=1)
            except ValueError as exc:  # topics are checked before, so this is a bug
                return f"cannot publish a dead letter to {topic[:80]!r}: {exc}"
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                return f"cannot publish a dead letter: {mqtt.error_string(info.rc)}"
            waiting[info.mid] = topic
            held += len(body)
            if held >= MAX_HELD_BYTES:
                problem = self._acknowledged(client, waiting, refused)
                if problem is not None or refused:
                    break
                held = 0
        else:
            problem = self._acknowledged(client, waiting, refused)
        if problem is not None:
            return problem
        if refused:
            why = "; ".join(
                f"{reason}, e.g. on {topic[:80]!r}" for reason, topic in refused.items()
            )
            return f"the broker refused dead letters: {why}"
        return None

    def _acknowledged(
        self, client: mqtt.Client, waiting: dict[int, str], refused: dict[str, str]
    ) -> str | None:
        """Wait for the PUBACKs of ``waiting`` (emptied), noting refusals in ``refused``;
        why not, if one did not come within ``timeout`` of the last one."""
        with self._changed:
            deadline = time.monotonic() + self.timeout
            while waiting:
                acked = [mid for mid in waiting if mid in self._acks]
                for mid in acked:
                    reason = self._acks.pop(mid)
                    topic = waiting.pop(mid)
                    if reason.is_failure:
                        refused.setdefault(f"{reason} (0x{reason.value:02x})", topic)
                if acked:
                    deadline = time.monotonic() + self.timeout
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    connected = "" if client.is_connected() else "; not connected to it"
                    return (
                        f"{len(waiting)} dead letter(s) not acknowledged by the broker within "
                        f"{self.timeout:g} s{connected}"
                    )
                self._changed.wait(remaining)
        return None

    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{self.client_id}-deadletters",
            protocol=mqtt.MQTTv5,
        )
        configure(client, self.address)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.on_publish = self._on_publish
        client.on_connect = _on_connect
        return client

    def _on_publish(
        self,
        client: mqtt.Client,
        _userdata: object,
        mid: int,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if client is not self._client:
            return  # a connection given up on
        with self._changed:
            self._acks[mid] = reason
            self._changed.notify_all()


def _on_connect(
    _client: mqtt.Client,
    _userdata: object,
    _flags: mqtt.ConnectFlags,
    reason: ReasonCode,
    _properties: Properties | None,
) -> None:
    if reason.is_failure:
        logger.error("the MQTT broker refused the dead-letter connection: %s", reason)
