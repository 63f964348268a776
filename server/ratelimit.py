"""What each client may spend over time: a token bucket of estimated cost per client.

A client is a token's name, or for anonymous requests the address they come from. Its
bucket holds up to ``capacity`` units (the server gives it ten seconds' worth, and never
less than one operation at the complexity limit) and refills at ``per_minute`` units a
minute. Every request is charged a fee for being read (its body's size), and an operation
its estimated cost before it runs; when the bucket holds less, the request is refused
with the seconds after which it would pass. Buckets of clients
not seen lately are forgotten (at most ``clients`` are kept), which hands them a full
bucket: the cap is on spending over time, not a ledger.

Shared by the threads that run operations, so every method takes a lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_CLIENTS = 10_000
REQUEST_FEE = 10  # what reading any request costs (about 100 µs), in units of cost
BODY_BYTES_PER_UNIT = 1024  # ... and reading and decoding its body


def request_fee(body_bytes: int) -> int:
    """The charge for reading a request with a body of ``body_bytes``."""
    return REQUEST_FEE + -(-max(body_bytes, 0) // BODY_BYTES_PER_UNIT)


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float


class Budgets:
    """Token buckets of cost per client; ``per_minute`` 0 switches the limit off."""

    def __init__(
        self,
        per_minute: int,
        capacity: int,
        clients: int = DEFAULT_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 0 or capacity < 1 or clients < 1:
            raise ValueError("budgets need per_minute >= 0, capacity and clients >= 1")
        self.per_minute = per_minute
        self.capacity = capacity
        self._rate = per_minute / 60.0  # units per second
        self._clients = clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client``'s bucket holds anything again; None when it does now."""
        return self._take(client, 0.0)

    def charge(self, client: str, cost: float) -> float | None:
        """Take ``cost`` from ``client``'s bucket: None when it held enough, else the
        seconds after which it will (nothing is taken then)."""
        return self._take(client, cost)

    def _take(self, client: str, cost: float) -> float | None:
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = _Bucket(float(self.capacity), now)
                while len(self._buckets) > self._clients:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(client)
                bucket.level = min(self.capacity, bucket.level + (now - bucket.at) * self._rate)
                bucket.at = now
            wanted = min(max(cost, 0.0), self.capacity)
            if bucket.level >= wanted and bucket.level > 0:
                bucket.level -= cost
                return None
            return (max(wanted, 1.0) - bucket.level) / self._rate

    def __len__(self) -> int:
        return len(self._buckets)
