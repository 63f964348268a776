"""What ``bench/faults.py`` runs its faults on: a Neo4j of its own (to stop and start),
Mosquitto brokers of its own, ``kgtwin ingest`` and ``kgtwin load`` as child processes,
and readings of their metrics, memory and CPU from outside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from neo4j import Driver
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from kgtwin.devkit import launcher
from kgtwin.devkit.broker import LocalBroker
from kgtwin.graph.connection import open_driver
from kgtwin.ingest.address import BrokerAddress

REPO = Path(__file__).resolve().parent.parent
KGTWIN = str(Path(sys.executable).with_name("kgtwin"))


def wait(condition: Callable[[], bool], timeout: float) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@dataclass
class Rig:
    """A private Neo4j, a folder for brokers and logs, and what was started in them."""

    neo4j: launcher.LocalNeo4jConfig
    folder: Path
    stack: ExitStack
    driver: Driver = field(init=False)

    def env(self, address: BrokerAddress | None = None) -> dict[str, str]:
        status = launcher.status(self.neo4j)
        env = {
            **os.environ,
            "NEO4J_URI": status.bolt_uri,
            "NEO4J_USER": status.user,
            "NEO4J_PASSWORD": status.password or "",
        }
        if address is not None:
            env["KGTWIN_MQTT_URL"] = address.url
        return env

    def broker(self, **limits: int) -> LocalBroker:
        broker = LocalBroker(
            self.folder / f"broker-{uuid.uuid4().hex[:6]}", launcher.free_ports(1)[0], **limits
        )
        broker.start()
        self.stack.callback(broker.stop)
        return broker

    def ingest(self, address: BrokerAddress, client_id: str, *args: str) -> Ingest:
        (port,) = launcher.free_ports(1)
        log = self.folder / f"ingest-{client_id}-{uuid.uuid4().hex[:4]}.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [
                    *(KGTWIN, "--log-level", "INFO", "ingest", "--client-id", client_id),
                    *("--metrics-port", str(port), *args),
                ],
                env=self.env(address),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        ingest = Ingest(process, port, log)
        self.stack.callback(ingest.kill)
        if not wait(lambda: "subscribed to" in log.read_text() or process.poll() is not None, 60):
            raise SystemExit(f"kgtwin ingest did not subscribe: {log.read_text()[-2000:]}")
        return ingest

    def stop_neo4j(self) -> None:
        launcher.stop(self.neo4j)

    def start_neo4j(self) -> None:
        launcher.start(self.neo4j, progress=lambda _line: None)


@contextmanager
def rig(name: str) -> Iterator[Rig]:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="kgtwin-faults-") as tmp:
        bolt, http = launcher.free_ports(2)
        config = launcher.LocalNeo4jConfig(
            root=REPO / ".kgtwin",
            name=f"{name}-{os.getpid()}",
            bolt_port=bolt,
            http_port=http,
            heap="1g",
            pagecache="256m",
        )
        stack.callback(lambda: __import__("shutil").rmtree(config.home, ignore_errors=True))
        stack.callback(launcher.stop, config)
        status = launcher.start(config, progress=lambda _line: None)
        running = Rig(config, Path(tmp), stack)
        running.driver = open_driver(status.bolt_uri, status.user, status.password)
        stack.callback(running.driver.close)
        yield running


@dataclass
class Ingest:
    """A ``kgtwin ingest`` child process with its metrics port."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def metrics(self) -> dict[str, float]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                label = ",".join(f"{v}" for _k, v in sorted(s.labels.items()))
                samples[f"{s.name}{{{label}}}" if label else s.name] = s.value
        return samples

    def health(self) -> dict[str, object]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read()))
        except OSError as exc:
            return {"status": f"unreachable ({exc})"}

    def memory_mb(self) -> tuple[float, float]:
        """Resident memory now, and at its peak (VmRSS, VmHWM), in MB."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        )
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Publisher:
    """A paho publisher, QoS 1; ``send`` waits for the PUBACK only when asked to."""

    def __init__(self, address: BrokerAddress) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"faults-{uuid.uuid4().hex[:8]}"
        )
        self.client.max_inflight_messages_set(1000)
        self.client.connect(address.host, address.port)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes | str, *, wait: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1)
        if wait:
            info.wait_for_publish(30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class DeadLetters:
    """Counts the dead letters on a broker: all, and distinct ids."""

    def __init__(self, address: BrokerAddress) -> None:
        self.ids: list[str] = []
        self._lock = threading.Lock()
        # a persistent session: the broker keeps the dead letters for it while it is away
        # (a broker restarting); a broker killed loses what it had not saved, these too
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"letters-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.on_message = self._on_message
        # subscribe again on every connection: a broker killed loses the subscription
        self.client.on_connect = lambda client, *_a: client.subscribe("kgtwin/deadletter/#", qos=1)
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        subscribed.wait(10)

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.ids.append(json.loads(message.payload)["id"])

    def distinct(self) -> int:
        with self._lock:
            return len(set(self.ids))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
