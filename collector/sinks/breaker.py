"""Circuit breaker: once the sink is known to be down, fail at once until a probe succeeds.

Without it every request waits the whole `--sink-timeout` for a sink that is gone, holding
its connection and its memory, before its 503. With it the first failure trips the
breaker; later requests get their 503 immediately (`SinkUnavailable`, nothing
acknowledged); a probe (a metadata round-trip to Kafka, a small fsynced file for the file
sink) runs every `--sink-probe-interval` seconds, and the first one that succeeds closes
the breaker. `problem` is what `/ready` reports meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from collector.sinks import SinkUnavailable

log = logging.getLogger("charter.sink")
Probe = Callable[[], Awaitable[None]]  # returns when the sink works; raises when it does not


class Breaker:
    def __init__(self, probe: Probe, interval: float, timeout: float, watch: float | None = None) -> None:
        """`watch`: also probe this often while closed, so an idle collector notices a dead sink."""
        self._probe, self.interval, self.timeout, self.watch = probe, interval, timeout, watch
        self.problem: str | None = None
        self._trips = 0  # a trip during a probe must not be cleared by that probe's success
        self._tripped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def check(self) -> None:
        """Raise at once while the breaker is open."""
        if self.problem is not None:
            raise SinkUnavailable(f"{self.problem} (failing fast until a probe of the sink succeeds)")

    def trip(self, problem: str) -> None:
        if self.problem is None:
            log.warning("sink breaker open: %s", problem)
        self.problem = problem
        self._trips += 1
        self._tripped.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="charter-sink-probe")

    async def stop(self) -> None:
        """End the probe loop, even if a probe swallows the cancellation (the flag ends the loop);
        a cancellation of `stop` itself propagates (`asyncio.wait` does not raise the task's)."""
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            if self.problem is None:
                if self.watch is None:
                    await self._tripped.wait()
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.watch):
                            await self._tripped.wait()
            await asyncio.sleep(self.interval if self.problem is not None else 0)
            await self.probe_once()

    async def probe_once(self) -> bool:
        trips = self._trips
        try:
            async with asyncio.timeout(self.timeout):
                await self._probe()
        except Exception as exc:  # any failure of the probe means: still down
            self.trip(f"sink probe failed: {_describe(exc)}")
            return False
        if self._trips == trips and self.problem is not None:
            log.warning("sink breaker closed: a probe succeeded")
            self.problem = None
            self._tripped.clear()
        return self.problem is None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
