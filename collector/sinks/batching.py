"""Group commit: one writer task drains every pending request and commits them together.

Requests call `submit(records)` and wait on a future; the writer takes all that is queued,
commits it in one go (one fsync, or one Kafka batch per partition), and resolves every
waiting future with success or the error. This is how a 2xx can wait for durability
without paying one fsync or one produce round-trip per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from collector.route import Record
from collector.sinks import SinkUnavailable

Commit = Callable[[list[Record]], Awaitable[None]]


class GroupCommitter:
    def __init__(self, commit: Commit, timeout: float, max_pipeline: int = 4) -> None:
        self._commit, self._timeout = commit, timeout
        self._queue: asyncio.Queue[tuple[list[Record], asyncio.Future[None]]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(max_pipeline)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="charter-sink-writer")

    async def submit(self, records: list[Record]) -> None:
        if self._task is None or self._task.done():
            raise SinkUnavailable("sink writer is not running")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_consume)  # a request that timed out must not leave a dangling error
        self._queue.put_nowait((records, fut))
        try:
            await asyncio.wait_for(asyncio.shield(fut), self._timeout)
        except TimeoutError:
            raise SinkUnavailable(f"sink did not acknowledge within {self._timeout:g}s") from None

    async def drain(self) -> None:
        """Wait until everything submitted so far is committed (or failed)."""
        while not self._queue.empty() or self._inflight:
            waiters = list(self._inflight) or [asyncio.create_task(asyncio.sleep(0))]
            await asyncio.wait(waiters)

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            pending = [first]
            while not self._queue.empty():
                pending.append(self._queue.get_nowait())
            await self._slots.acquire()
            task = asyncio.create_task(self._commit_group(pending))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _commit_group(self, pending: list[tuple[list[Record], asyncio.Future[None]]]) -> None:
        try:
            await self._commit([r for records, _ in pending for r in records])
        except Exception as exc:  # every waiting request learns of the fault: none is dropped
            error = exc if isinstance(exc, SinkUnavailable) else SinkUnavailable(f"{type(exc).__name__}: {exc}")
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(error)
        else:
            for _, fut in pending:
                if not fut.done():
                    fut.set_result(None)
        finally:
            self._slots.release()


def _consume(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()
