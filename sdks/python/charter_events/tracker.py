"""`Tracker`: checks events at the call site, then batches and sends them from a background thread."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from types import TracebackType

from ._emitter import Emitter, OnFailure, Options
from ._wire import Pending
from .event import Event
from .failures import Reason, Stats


class Tracker:
    """Send events to a Charter collector without ever blocking or raising on network trouble.

    `track()` checks the event against its contract (strict: raises `InvalidEvent`; otherwise
    reports it through `on_failure` and drops it), gives it an id (UUIDv7) and queues it. A
    daemon thread sends batches of up to `batch_size` events or `max_bytes`, or whatever waited
    `flush_interval` seconds, retrying 429/503/network errors with exponential backoff and
    jitter (at least `Retry-After`). What is queued at exit is flushed (up to `close_timeout`).

    `headers` go with every request (a write key: `{"Authorization": "Bearer <key>"}`). Requests go
    through `proxy` (an http:// URL) if given, else through the proxy HTTP_PROXY/HTTPS_PROXY name
    unless NO_PROXY lists the collector's host (`trust_env=False`: ignore those variables).
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
        self._cond = threading.Condition()
        self._abort = threading.Event()
        self._closed = False
        self._queued = self._taken = self._settled = self._flush_until = 0
        self._thread = threading.Thread(target=self._run, name="charter-events-sender", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @property
    def stats(self) -> Stats:
        return self._emitter.stats

    def track(self, event: Event) -> str | None:
        """Queue one event; its id, or None if it was reported through `on_failure` instead."""
        pending = self._emitter.admit(event)
        if pending is None:
            return None
        reason: Reason
        with self._cond:
            if self._closed:
                reason, message = "closed", "track() after close()"
            elif not self._buffer.add(pending):
                reason, message = "queue_full", f"the queue holds {self._emitter.options.max_queue} events"
            else:
                self._queued += 1
                if len(self._buffer) == 1 or self._buffer.full_batch():  # a new deadline, or a batch
                    self._cond.notify_all()
                self._emitter.count(queued=1)
                return pending.id
        self._emitter.drop([pending], reason, message)
        return None

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far; True once it is settled (sent, rejected or reported)."""
        if threading.current_thread() is self._thread:  # from on_failure: waiting would deadlock
            return False
        with self._cond:
            target = self._queued
            self._flush_until = max(self._flush_until, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._settled >= target, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sender; what is still queued after `timeout` is reported as `closed`."""
        timeout = self._emitter.options.close_timeout if timeout is None else timeout
        with self._cond:
            self._closed = True
            self._flush_until = self._queued
            self._cond.notify_all()
        atexit.unregister(self.close)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()  # ends a backoff wait; a request in flight ends by its own timeout
            self._thread.join(self._emitter.options.timeout)
            with self._cond:
                left = self._buffer.drain()
                self._settled += len(left)
                self._cond.notify_all()
            self._emitter.drop(left, "closed", f"still queued when close() gave up after {timeout}s")
        if not self._thread.is_alive():  # else the sender still uses it, until its request times out
            self._emitter.transport.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
            if batch is None:
                return
            try:
                self._emitter.deliver_blocking(batch, self._abort.wait)
            except Exception as exc:  # a bug must not kill the sender, nor lose the batch unreported
                self._emitter.drop(batch, "undeliverable", f"unexpected error: {exc!r}")
            with self._cond:
                self._settled += len(batch)
                self._cond.notify_all()

    def _next_batch(self) -> list[Pending] | None:
        """Wait (holding the condition) until a batch is due; None when closed and empty."""
        while True:
            if self._abort.is_set():  # close() gave up: it reports what is left
                return None
            if self._buffer:
                due = self._buffer.full_batch() or self._taken < self._flush_until or self._buffer.due_in() == 0
                if due:
                    batch = self._buffer.take()
                    self._taken += len(batch)
                    return batch
            elif self._closed:
                return None
            self._cond.wait(self._buffer.due_in())
