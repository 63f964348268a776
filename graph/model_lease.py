"""One load of a model at a time, across the many transactions a large load commits.

A load holds the model's *lease*: ``(:Model {name}).lease`` names the load, with the host
and process that run it and ``leaseBeat``, the last time (Neo4j's clock) it said it was
alive. A thread beats every :data:`BEAT_SECONDS`, and every write transaction of the load
ends with :data:`FENCE`, just before its commit: it beats too, and fails if the lease is no
longer the load's, so a load that lost its lease can never commit a write. The fence
write-locks the ``Model`` node until the commit, so a takeover (which writes the lease) either
waits for the commit or is seen by the fence; taken last, the lock is held only for the
commit, so the load's parallel writers do not wait for one another's batches.

Another load of the same model waits for the lease. It takes the lease over when the
holder stopped beating :data:`EXPIRY_SECONDS` ago, or at once when the holder ran on this
host and its process is gone (a load killed with SIGKILL, or the machine's own earlier
run). Taking it over is safe: a load reads what the graph holds before it writes, so it
completes (repairs) whatever the load before it left half done.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import LiteralString

from neo4j import Driver, ManagedTransaction, Transaction

from kgtwin.graph.connection import neo4j_errors
from kgtwin.graph.errors import GraphError

logger = logging.getLogger(__name__)

BEAT_SECONDS = 5.0
EXPIRY_SECONDS = 60.0  # a holder silent this long is taken for dead
POLL_SECONDS = 0.25  # how often a waiting load asks again
WAIT_NOTICE = 2.0  # seconds a load waits for the lease before it says it waits

# Setting and removing a property takes the node's write lock first, so what follows reads
# the lease as the last committed transaction left it (Neo4j's documented way to avoid a
# lost update under read-committed isolation).
READ_LEASE: LiteralString = """
MERGE (m:Model {name: $name}) SET m.leaseLock = true REMOVE m.leaseLock
RETURN m.lease AS lease, m.leaseHost AS host, m.leasePid AS pid,
       timestamp() - m.leaseBeat AS silentMs, m.loading IS NOT NULL AS interrupted
"""
TAKE_LEASE: LiteralString = """
MATCH (m:Model {name: $name})
SET m.lease = $loadId, m.leaseHost = $host, m.leasePid = $pid, m.leaseBeat = timestamp()
"""
BEAT: LiteralString = """
MATCH (m:Model {name: $name}) WHERE m.lease = $loadId SET m.leaseBeat = timestamp()
RETURN count(m) AS held
"""
FENCE = BEAT  # the last statement of every write transaction of a load
# a Model node the lease made for a load that wrote nothing (refused) goes with it
RELEASE: LiteralString = """
MATCH (m:Model {name: $name}) WHERE m.lease = $loadId
REMOVE m.lease, m.leaseHost, m.leasePid, m.leaseBeat
WITH m WHERE m.digest IS NULL AND m.loading IS NULL AND NOT m:Twin
DELETE m
"""


class LeaseLost(GraphError):
    """Another load took the model's lease over (this one was taken for dead)."""


class ModelLease:
    """The lease of ``model`` for the load ``load_id``: taken on entry (waiting for another
    load as long as it is alive), beaten by a thread, released on exit."""

    def __init__(
        self,
        driver: Driver,
        model: str,
        load_id: str,
        database: str | None = None,
        waiting: Callable[[], None] | None = None,
    ) -> None:
        self.driver = driver
        self.model = model
        self.load_id = load_id
        self.database = database
        self.waiting = waiting
        self.interrupted = False  # the model's last load stopped midway (it is hidden)
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    def __enter__(self) -> ModelLease:
        self.take()
        self._beater = threading.Thread(target=self._beat, name=f"lease {self.model}", daemon=True)
        self._beater.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._beater is not None:
            self._beater.join()
        try:
            self._run(RELEASE, f"releasing model {self.model!r}")
        except GraphError as error:  # it expires by itself
            logger.warning("%s", error)

    def take(self) -> None:
        """Take the lease, waiting while another live load holds it (again after a failure:
        a lease that is still this load's is simply kept)."""
        # told once, whether the wait is for the lease or for the Model node's lock (held
        # by the other load's transaction that is writing)
        notice = threading.Timer(WAIT_NOTICE, self.waiting) if self.waiting else None
        if notice is not None:
            notice.start()
        try:
            while True:
                with (
                    neo4j_errors(f"taking model {self.model!r} for loading"),
                    self.driver.session(database=self.database) as session,
                ):
                    if session.execute_write(self._try_take):
                        return
                time.sleep(POLL_SECONDS)
        finally:
            if notice is not None:
                notice.cancel()

    def fence(self, tx: Transaction) -> None:
        """Beat, in ``tx``; raises ``LeaseLost`` if the lease is no longer this load's."""
        (record,) = tx.run(FENCE, name=self.model, loadId=self.load_id)
        if not record["held"]:
            raise LeaseLost(
                f"loading model {self.model!r}: another load took the model over (this one "
                f"was silent for over {EXPIRY_SECONDS:g} s); this load stopped"
            )

    def _try_take(self, tx: ManagedTransaction) -> bool:
        (holder,) = tx.run(READ_LEASE, name=self.model)
        lease, silent_ms = holder["lease"], holder["silentMs"]
        self.interrupted = bool(holder["interrupted"])
        if lease is not None and lease != self.load_id:
            gone = _process_gone(holder["host"], holder["pid"])
            expired = silent_ms is None or silent_ms > EXPIRY_SECONDS * 1000
            if not (gone or expired):
                return False
            logger.warning(
                "model %r: the load that held it (%s) %s; this load takes it over and "
                "completes what it left",
                self.model,
                f"process {holder['pid']} on {holder['host']}",
                "is gone" if gone else f"has been silent for {silent_ms / 1000:.0f} s",
            )
        tx.run(
            TAKE_LEASE, name=self.model, loadId=self.load_id, host=HOST, pid=os.getpid()
        ).consume()
        return True

    def _run(self, statement: LiteralString, action: str) -> None:
        """``statement`` once, in an auto-commit transaction: failing at once if Neo4j is
        away (the driver's managed transactions would retry for 30 s)."""
        with neo4j_errors(action), self.driver.session(database=self.database) as session:
            session.run(statement, name=self.model, loadId=self.load_id).consume()

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            try:
                self._run(BEAT, f"loading model {self.model!r}")
            except GraphError as exc:  # the load itself will meet the same failure
                logger.debug("lease of model %r not beaten: %s", self.model, exc)


HOST = socket.gethostname()


def _process_gone(host: object, pid: object) -> bool:
    """Whether the process ``pid`` of ``host`` is known to have ended (only this host's
    processes can be told)."""
    if host != HOST or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
