"""Group commit: one writer task drains every pending request and commits them together.

Requests call `submit(records)` and wait on a future; the writer takes all that is queued,
commits it in one go (one fsync, or one Kafka batch per partition), and resolves every
waiting future with success or the error. This is how a 2xx can wait for durability
without paying one fsync or one produce round-trip per request.

One request never fails its neighbours: a commit reports, record by record, what it
could not write (`Delivery.failed`) and what the sink refuses for good (`Delivery.refused`,
e.g. too large for the broker); each request learns only of its own records. A commit
that crashes outright (a bug, not a sink fault) is retried request by request, so only
the request that causes it fails. With a `Breaker`, a sink fault trips it and later
requests fail at once instead of waiting for the timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from collector.route import Record
from collector.sinks import Refused, SinkUnavailable
from collector.sinks.breaker import Breaker


@dataclass
class Delivery:
    """What a commit could not do, by record identity (`id(record)`); empty means all written."""

    refused: dict[int, str] = field(default_factory=dict)  # permanent: never retry these
    failed: dict[int, SinkUnavailable] = field(default_factory=dict)  # retriable: their requests get 503


Commit = Callable[[list[Record]], Awaitable[Delivery | None]]
Pending = tuple[list[Record], "asyncio.Future[list[Refused]]"]


class GroupCommitter:
    def __init__(
        self, commit: Commit, timeout: float, max_pipeline: int = 4, breaker: Breaker | None = None,
        window: float = 0.0,
    ) -> None:  # fmt: skip
        self._commit, self._timeout, self._breaker = commit, timeout, breaker
        self._window = window  # seconds a commit waits after its first request for others to join it
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._slots = asyncio.Semaphore(max_pipeline)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="charter-sink-writer")

    async def submit(self, records: list[Record]) -> list[Refused]:
        """Wait until every record is written; return those the sink refuses for good."""
        if self._task is None or self._task.done():
            raise SinkUnavailable("sink writer is not running")
        if self._breaker is not None:
            self._breaker.check()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[Refused]] = loop.create_future()
        # one timer per request, not a wait_for task: the writer may still resolve `fut` after it expired
        timer = loop.call_later(self._timeout, self._expire, fut)
        fut.add_done_callback(lambda f: _settled(f, timer))
        self._queue.put_nowait((records, fut))
        return await fut

    def _expire(self, fut: asyncio.Future[list[Refused]]) -> None:
        if fut.done():
            return
        error = SinkUnavailable(f"sink did not acknowledge within {self._timeout:g}s")
        self._trip(error)
        fut.set_exception(error)

    async def drain(self) -> None:
        """Wait until everything submitted so far is committed (or failed)."""
        while not self._queue.empty() or self._inflight:
            waiters = list(self._inflight) or [asyncio.create_task(asyncio.sleep(0))]
            await asyncio.wait(waiters)

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})  # a cancellation of `stop` itself still propagates

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            arrived = asyncio.get_running_loop().time()
            await self._slots.acquire()
            # what is left of the window once a slot is free (under load, a previous commit used it up)
            if self._window and (wait := arrived + self._window - asyncio.get_running_loop().time()) > 0:
                await asyncio.sleep(wait)
            pending = [first]
            while not self._queue.empty():
                pending.append(self._queue.get_nowait())
            task = asyncio.create_task(self._commit_group(pending))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _commit_group(self, pending: list[Pending]) -> None:
        try:
            await self._deliver(pending)
        finally:
            self._slots.release()

    async def _deliver(self, pending: list[Pending]) -> None:
        try:
            delivery = await self._commit([r for records, _ in pending for r in records]) or Delivery()
        except SinkUnavailable as exc:  # a sink fault: every waiting request learns of it, none is dropped
            self._trip(exc)
            _fail(pending, exc)
            return
        except Exception as exc:
            if len(pending) > 1:  # not a sink fault: find the request that causes it, spare the others
                for one in pending:
                    await self._deliver([one])
                return
            _fail(pending, SinkUnavailable(f"{type(exc).__name__}: {exc}"))
            return
        if delivery.failed:
            self._trip(next(iter(delivery.failed.values())))
        for records, fut in pending:
            if fut.done():
                continue
            failed = [delivery.failed[id(r)] for r in records if id(r) in delivery.failed]
            if failed:
                fut.set_exception(failed[0])
            else:
                fut.set_result([Refused(r, delivery.refused[id(r)]) for r in records if id(r) in delivery.refused])

    def _trip(self, error: SinkUnavailable) -> None:
        if self._breaker is not None:
            self._breaker.trip(str(error))


def _fail(pending: list[Pending], error: SinkUnavailable) -> None:
    for _, fut in pending:
        if not fut.done():
            fut.set_exception(error)


def _settled(fut: asyncio.Future[list[Refused]], timer: asyncio.TimerHandle) -> None:
    timer.cancel()
    _consume(fut)  # a request that timed out must not leave a dangling error


def _consume(fut: asyncio.Future[list[Refused]]) -> None:
    if not fut.cancelled():
        fut.exception()
