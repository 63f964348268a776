"""What a local Mosquitto is (folder, port, credentials, queue limits) and its config file.

:class:`LocalBrokerConfig` is validated on construction, so the rest of the package may
trust it; :func:`render_config` turns it into the ``mosquitto.conf`` written at every start.
The broker's folder holds everything it reads and writes::

    DIR/mosquitto.conf   written by kgtwin at every start
    DIR/passwd           written by mosquitto_passwd at every start, when credentials are set
    DIR/acl              the access control list, when one is given (Mosquitto's acl_file)
    DIR/data/            persistence: sessions, subscriptions, queued and retained messages
    DIR/mosquitto.log    Mosquitto's log and anything it prints (appended to, across starts)
    DIR/mosquitto.pid    the pid of the running broker, written by kgtwin
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # the local broker listens on this address only

# Mosquitto's own defaults are 1000 queued and 20 in-flight messages per client. Past the
# queue limit it silently drops QoS 1 messages for a subscriber that is slow or offline,
# which breaks "a message is never silently lost" as soon as a benchmark bursts or the
# ingest worker restarts. The bound stays finite so that a forgotten persistent session
# cannot grow the broker's memory without limit (0 would mean no limit).
DEFAULT_MAX_QUEUED_MESSAGES = 1_000_000
# A subscriber that acknowledges after its graph write commits (paho's manual_ack) holds a
# whole batch unacknowledged; 20 in flight would cap every batch at 20 messages. MQTT v5
# clients may lower this with their Receive Maximum.
DEFAULT_MAX_INFLIGHT_MESSAGES = 10_000


@dataclass(frozen=True, slots=True)
class LocalBrokerConfig:
    """Where a local broker lives, the loopback port it listens on, and who may connect.

    With ``username`` and ``password`` set only that user may connect; with neither,
    anyone on the machine may. The queue limits are Mosquitto's ``max_queued_messages`` and
    ``max_inflight_messages`` (0 = no limit); the defaults are raised on purpose, see above.
    ``acl`` is the text of a Mosquitto access control list (``topic read dc1/#`` lines, the
    rules for anonymous clients first); None: every client may read and write every topic.
    """

    directory: Path
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    max_queued_messages: int = DEFAULT_MAX_QUEUED_MESSAGES
    max_inflight_messages: int = DEFAULT_MAX_INFLIGHT_MESSAGES
    acl: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be between 1 and 65535, got {self.port}")
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password, or neither")
        if self.username is not None and (
            not self.username or ":" in self.username or not self.username.isprintable()
        ):
            raise ValueError(
                f"username {self.username!r} must be non-empty, printable and without ':'"
            )
        if self.password is not None and (not self.password or "\n" in self.password):
            raise ValueError("password must be non-empty and on one line")
        for label, limit in (
            ("max_queued_messages", self.max_queued_messages),
            ("max_inflight_messages", self.max_inflight_messages),
        ):
            if limit < 0:
                raise ValueError(f"{label} must be 0 (no limit) or more, got {limit}")
        if "\n" in str(self.directory) or str(self.directory) != str(self.directory).strip():
            raise ValueError(f"directory {str(self.directory)!r} cannot be written to a config")

    @property
    def conf_file(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def passwd_file(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.directory / "acl"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "mosquitto.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "mosquitto.pid"


def render_config(cfg: LocalBrokerConfig) -> str:
    """The ``mosquitto.conf`` of ``cfg``; paths are absolute (Mosquitto's cwd is not ours)."""
    directory = cfg.directory.resolve()
    lines = [
        "# Written by kgtwin (devkit/broker/config.py) at every start; edits are overwritten.",
        "# A private broker for development, tests and benchmarks: loopback only, and every",
        "# file it reads or writes is in this folder.",
        "",
    ]
    if os.geteuid() == 0:
        lines += [
            "# Started as root, Mosquitto drops to the user 'mosquitto' (or 'nobody'), which",
            "# cannot write its persistence file into this root-owned folder (nor reach it at",
            "# all below a 0700 parent such as pytest's temporary directories). It keeps the",
            "# rights of whoever started it instead: it listens on the loopback address only.",
            "user root",
            "",
        ]
    lines += [f"listener {cfg.port} {HOST}"]
    if cfg.username is not None:
        lines += ["allow_anonymous false", f"password_file {directory / 'passwd'}"]
    else:
        lines += ["allow_anonymous true"]
    if cfg.acl is not None:
        lines += [f"acl_file {directory / 'acl'}"]
    lines += [
        "",
        "# Sessions, subscriptions and queued QoS 1/2 messages survive a restart: the",
        "# database is written when Mosquitto exits on SIGTERM (and every autosave_interval).",
        "persistence true",
        f"persistence_location {directory / 'data'}/",
        "persistence_file mosquitto.db",
        "autosave_interval 60",
        "",
        "# Raised on purpose: Mosquitto's defaults (1000 queued, 20 in flight per client)",
        "# silently drop QoS 1 messages for a slow or offline subscriber and cap a",
        "# subscriber that acknowledges after its write commits at 20 messages per batch.",
        f"max_queued_messages {cfg.max_queued_messages}",
        f"max_inflight_messages {cfg.max_inflight_messages}",
        "set_tcp_nodelay true",
        "",
        "# Mosquitto's stdout and stderr go to mosquitto.log in this folder, so the log also",
        "# holds what it prints before logging starts (a bad config, a port in use).",
        "log_dest stderr",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "",
    ]
    return "\n".join(lines)
