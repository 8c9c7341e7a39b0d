"""Contracts change without restarts: reload on SIGHUP and, with `--watch`, when files change.

A reload loads and compiles the whole set under `--schemas` (in a thread, so requests keep
flowing), checks it as the start does (PII keys, a shared dedupe store for `--workers N`),
creates the Kafka topics it needs, and only then swaps it in with one assignment: a request
sees the old set or the new one, never a mix. A set that does not load changes nothing: the
old set keeps serving, the log names the file and the reason, `/ready` shows it under
`contracts_reload`, and `charter_contracts_reloads_total{outcome="failed"}` counts it.

`--watch` polls the modification times and sizes under `--schemas` (no extra dependency):
a change is picked up within `--watch-interval`. With `--workers N` every worker watches,
and the parent process passes a SIGHUP on to each worker instead of restarting them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from opentelemetry.metrics import CallbackOptions, Observation

from collector import __version__
from collector.contracts import ContractLoadError, Registry, load_registry
from collector.dedupe import refuse_unshared
from collector.privacy import MissingKey
from collector.sinks import SinkUnavailable

if TYPE_CHECKING:
    import uvicorn

    from collector.privacy import Privacy
    from collector.settings import Settings
    from collector.sinks import Sink
    from collector.telemetry import Telemetry

log = logging.getLogger("charter.reload")
Snapshot = dict[str, tuple[int, int]]  # file → (mtime in ns, size)


class Target(Protocol):
    """What a reload reads and swaps: the collector the lifespan built."""

    registry: Registry
    privacy: Privacy
    sink: Sink
    telemetry: Telemetry


@runtime_checkable
class CreatesTopics(Protocol):
    """A sink that must create topics before records go to them (Kafka)."""

    async def add_topics(self, topics: dict[str, int]) -> None: ...


class ReloadRefused(Exception):
    """The new set loaded but cannot serve here; the message says why and what to do."""


_EXPECTED = (ContractLoadError, ReloadRefused, MissingKey, SinkUnavailable)  # their messages say it all


class Reloader:
    def __init__(self, settings: Settings, target: Target) -> None:
        self.settings, self.target = settings, target
        self.ok, self.failed = 0, 0
        self.problem: str | None = None
        self.last: float | None = None  # when the latest reload ended (wall clock)
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._signal = False
        meter = target.telemetry.provider.get_meter("charter", __version__)  # the scope of the other meters
        meter.create_observable_counter(
            "charter.contracts.reloads", [self._observe], "{reload}", "Contract reloads, by outcome (ok, failed)"
        )
        meter.create_observable_gauge(
            "charter.contracts.reload.failing", [self._observe_failing], "{process}",
            "1 while the files under --schemas do not load (the previous set keeps serving)",
        )  # fmt: skip

    def start(self) -> None:
        """Reload on SIGHUP (main thread only) and, with --watch, on file changes."""
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGHUP, self.request)
            self._signal = True
        self._tasks.append(asyncio.create_task(self._serve()))
        if self.settings.watch:  # the files as they are now are the set just loaded
            self._tasks.append(asyncio.create_task(self._watch(snapshot(self.settings.schemas))))

    async def stop(self) -> None:
        if self._signal:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a late SIGHUP must not kill a stopping collector
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def request(self) -> None:
        """Ask for a reload; requests that come while one runs are served by one more reload."""
        self._wanted.set()

    async def reload(self) -> bool:
        """Load, check and prepare the whole set, then swap it in; False (old set kept) if it fails."""
        started = time.perf_counter()
        old = self.target.registry
        try:
            new = await asyncio.to_thread(load_registry, self.settings.schemas)
            self._check(new)
            if isinstance(self.target.sink, CreatesTopics):
                await self.target.sink.add_topics(new.topics())
        except Exception as exc:  # whatever stops the new set, the old one keeps serving
            self.failed += 1
            why = str(exc) if isinstance(exc, _EXPECTED) else f"{type(exc).__name__}: {exc}"
            self.problem = f"{why} (the previous set, {len(old)} versions, keeps serving)"
            self.last = time.time()
            log.error("contracts not reloaded: %s", self.problem)
            return False
        self.target.registry = new  # one assignment: each request sees one whole set
        self.target.telemetry.contracts_loaded = len(new)
        self.target.telemetry.zero(new)
        self.ok += 1
        self.problem, self.last = None, time.time()
        log.info("contracts reloaded in %.0f ms: %d versions (%s)", (time.perf_counter() - started) * 1000,
                 len(new), _changes(old, new))  # fmt: skip
        return True

    def status(self) -> dict[str, Any] | None:
        """For /ready: the latest reload, once there has been one."""
        if self.last is None:
            return None
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last))
        return {"ok": self.problem is None, "at": at, "problem": self.problem}

    def _check(self, new: Registry) -> None:
        if not len(new):
            raise ReloadRefused(f"no contracts found under {self.settings.schemas}")
        for c in new:
            self.target.privacy.require(c.pii, c.file)
        deduping = [c.ref for c in new if c.meta.dedupe is not None]
        refusal = refuse_unshared(self.settings.workers, self.settings.dedupe_store, deduping)
        if refusal is not None:
            raise ReloadRefused(refusal)

    async def _serve(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await self.reload()

    async def _watch(self, seen: Snapshot) -> None:
        root, interval = self.settings.schemas, self.settings.watch_interval
        while True:
            await asyncio.sleep(interval)  # polling the files' times, not synchronising on time
            now = await asyncio.to_thread(snapshot, root)
            if now != seen:
                seen = now
                self.request()

    def _observe(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(self.ok, {"outcome": "ok"}), Observation(self.failed, {"outcome": "failed"})]

    def _observe_failing(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(0 if self.problem is None else 1)]


def snapshot(root: Path) -> Snapshot:
    """Every file under `root` with its modification time and size."""
    out: Snapshot = {}
    for path in root.rglob("*"):
        try:
            st = path.stat()
        except OSError:  # removed while we looked: the next poll sees it gone
            continue
        if stat.S_ISREG(st.st_mode):
            out[str(path)] = (st.st_mtime_ns, st.st_size)
    return out


def _changes(old: Registry, new: Registry) -> str:
    before, after = {c.ref for c in old}, {c.ref for c in new}
    added, removed = sorted(after - before), sorted(before - after)
    parts = [f"+{r}" for r in added] + [f"-{r}" for r in removed]
    return ", ".join(parts) if parts else "no version added or removed"


def serve_workers(config: uvicorn.Config) -> None:
    """`uvicorn.run` for `--workers N`, except that a SIGHUP to the parent reloads each worker's
    contracts in place rather than replacing the workers."""
    from uvicorn.supervisors import Multiprocess

    class _Supervisor(Multiprocess):
        def handle_hup(self) -> None:
            log.info("SIGHUP: every worker reloads its contracts")
            for process in self.processes:
                if process.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGHUP)

    sock = config.bind_socket()
    with contextlib.suppress(KeyboardInterrupt):
        _Supervisor(config, sockets=[sock]).run()
