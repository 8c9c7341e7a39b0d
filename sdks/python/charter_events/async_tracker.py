"""`AsyncTracker`: the Tracker for asyncio apps; one task sends, the blocking HTTP call runs in a thread."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Mapping
from types import TracebackType

from ._emitter import Emitter, OnFailure, Options
from ._wire import Pending
from .event import Event
from .failures import Reason, Stats


class AsyncTracker:
    """Same options and behaviour as `Tracker`; `track()` only queues (call it from the event loop).

    The sender task starts on the first `track()` made inside a running loop; use one tracker
    per event loop. `flush()` and `close()` are coroutines. Events still queued at interpreter
    exit (the loop already gone) are sent synchronously, for at most `close_timeout` seconds.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        batch_size: int = 50,
        max_bytes: int = 512_000,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        strict: bool = False,
        on_failure: OnFailure | None = None,
        gzip: bool = True,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        close_timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        options = Options(batch_size, max_bytes, flush_interval, max_queue, strict, gzip, timeout,
                          max_retries, backoff, max_backoff, close_timeout, dict(headers or {}), proxy,
                          trust_env)  # fmt: skip
        self._emitter = Emitter(endpoint, options, on_failure)
        self._buffer = self._emitter.buffer
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._abort = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: list[Pending] = []
        self._closed = False
        self._queued = self._taken = self._settled = self._flush_until = 0
        atexit.register(self._at_exit)

    @property
    def stats(self) -> Stats:
        return self._emitter.stats

    def track(self, event: Event) -> str | None:
        """Queue one event; its id, or None if it was reported through `on_failure` instead."""
        pending = self._emitter.admit(event)
        if pending is None:
            return None
        reason: Reason
        if self._closed:
            reason, message = "closed", "track() after close()"
        elif not self._buffer.add(pending):
            reason, message = "queue_full", f"the queue holds {self._emitter.options.max_queue} events"
        else:
            self._queued += 1
            self._emitter.count(queued=1)
            self._start()
            if len(self._buffer) == 1 or self._buffer.full_batch():  # a new deadline, or a batch
                self._wake.set()
            return pending.id
        self._emitter.drop([pending], reason, message)
        return None

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far; True once it is settled (sent, rejected or reported)."""
        target = self._queued
        self._flush_until = max(self._flush_until, target)
        self._start()
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                while self._settled < target:
                    self._progress.clear()
                    await self._progress.wait()
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sender; what is still queued after `timeout` is reported as `closed`."""
        timeout = self._emitter.options.close_timeout if timeout is None else timeout
        self._closed = True
        atexit.unregister(self._at_exit)
        if not await self.flush(timeout):
            self._abort.set()  # ends a backoff wait; the request in flight gets its own timeout
            self._give_up(self._buffer.drain(), f"still queued when close() gave up after {timeout}s")
        task = self._task
        if task is not None and not task.done():
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), self._emitter.options.timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                self._give_up(self._inflight, "in flight when close() gave up (it may have been delivered)")
                self._inflight = []
        await asyncio.to_thread(self._emitter.transport.close)

    async def __aenter__(self) -> AsyncTracker:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _give_up(self, items: list[Pending], message: str) -> None:
        self._settled += len(items)
        self._progress.set()
        self._emitter.drop(items, "closed", message)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: the events wait for one (or for exit)
            self._task = loop.create_task(self._run(), name="charter-events-sender")

    async def _run(self) -> None:
        while not self._abort.is_set():  # once close() gives up, it reports what is left
            batch = self._next_batch()
            if batch is None:
                if self._closed and not self._buffer:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._buffer.due_in()):
                        await self._wake.wait()
                continue
            self._inflight = batch
            try:
                await self._deliver(batch)
            except Exception as exc:  # a bug must not kill the sender, nor lose the batch unreported
                self._emitter.drop(batch, "undeliverable", f"unexpected error: {exc!r}")
            self._inflight = []
            self._settled += len(batch)
            self._progress.set()

    def _next_batch(self) -> list[Pending] | None:
        if not self._buffer:
            return None
        if self._buffer.full_batch() or self._taken < self._flush_until or self._buffer.due_in() == 0:
            batch = self._buffer.take()
            self._taken += len(batch)
            return batch
        return None

    async def _deliver(self, batch: list[Pending]) -> None:
        emitter = self._emitter
        for attempt in range(emitter.options.max_retries + 1):
            answer = await asyncio.to_thread(emitter.attempt, batch)
            if answer is None:
                return
            if attempt == emitter.options.max_retries or await self._aborted_within(emitter.delay(attempt, answer)):
                emitter.give_up(batch, answer, attempt + 1)
                return
            emitter.count(retries=1)

    async def _aborted_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._abort.wait()
        return self._abort.is_set()

    def _at_exit(self) -> None:
        """The loop is gone: send what is left synchronously, for at most `close_timeout`."""
        self._closed = True
        left = self._inflight + self._buffer.drain()
        deadline = threading.Event()
        timer = threading.Timer(self._emitter.options.close_timeout, deadline.set)
        timer.start()
        try:
            for start in range(0, len(left), self._emitter.options.batch_size):
                batch = left[start : start + self._emitter.options.batch_size]
                if deadline.is_set():
                    self._emitter.drop(batch, "closed", "still queued at exit after close_timeout")
                else:
                    self._emitter.deliver_blocking(batch, deadline.wait)
        finally:
            timer.cancel()
