"""Event loops on worker threads, where GraphQL operations are parsed, validated and run.

The server's own event loop (uvicorn's) accepts connections, checks tokens and answers;
a heavy operation running there would keep it from answering anyone else. So each
operation is handed to one of :class:`OperationLoops`' worker loops (the least busy) and
the server's loop only awaits its answer. A worker loop runs many operations at once,
as any event loop does; their blocking Neo4j reads go to that loop's thread pool and
their simulations to the simulation threads. Cancelling the awaiting task (a deadline,
a client gone) cancels the operation on its worker loop.

Until :meth:`OperationLoops.start`, and after :meth:`OperationLoops.stop`, operations run
on the caller's loop: tests call the schema directly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread

logger = logging.getLogger(__name__)

T = TypeVar("T")
START_TIMEOUT = 10.0


@dataclass(slots=True)
class _Worker:
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    stopped: asyncio.Event
    busy: int = 0
    ready: threading.Event = field(default_factory=threading.Event)


class OperationLoops:
    """``size`` event loops, each on a thread of its own with ``threads`` worker threads
    for its blocking calls."""

    def __init__(self, size: int = 4, threads: int = 16) -> None:
        if size < 1 or threads < 1:
            raise ValueError(f"need at least one loop and one thread, got {size}, {threads}")
        self.size = size
        self.threads = threads
        self._workers: list[_Worker] = []

    @property
    def running(self) -> bool:
        return bool(self._workers)

    def in_flight(self) -> int:
        """Operations running on the loops now (read from any thread)."""
        return sum(worker.busy for worker in self._workers)

    def start(self) -> None:
        """Start the loops (blocking until each runs)."""
        if self._workers:
            return
        for number in range(self.size):
            loop = asyncio.new_event_loop()
            worker = _Worker(loop, threading.Thread(), asyncio.Event())
            worker.thread = threading.Thread(
                target=self._run, args=(worker,), name=f"kgtwin-graphql-{number}", daemon=True
            )
            worker.thread.start()
            if not worker.ready.wait(START_TIMEOUT):
                raise RuntimeError(f"GraphQL loop {number} did not start")
            self._workers.append(worker)

    def _run(self, worker: _Worker) -> None:
        loop = worker.loop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            worker.ready.set()
            await worker.stopped.wait()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        try:
            loop.run_until_complete(serve())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what still runs, stop the loops and join their threads (blocking)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.loop.call_soon_threadsafe(worker.stopped.set)
        for worker in workers:
            worker.thread.join(timeout)
            if worker.thread.is_alive():
                logger.warning(
                    "GraphQL loop %s did not stop in %.0f s", worker.thread.name, timeout
                )

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``operation()`` awaited on the least busy loop (on this one when not started)."""
        if not self._workers:
            return await operation()
        worker = min(self._workers, key=lambda w: w.busy)
        worker.busy += 1
        try:

            async def call() -> T:
                return await operation()

            future = asyncio.run_coroutine_threadsafe(call(), worker.loop)
            return await asyncio.wrap_future(future)
        finally:
            worker.busy -= 1
