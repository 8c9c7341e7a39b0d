"""The embedded default sink: JSONL files under the data directory, fsynced before the 2xx.

Good envelopes go to `good-<timestamp>-<seq>.jsonl`, bad ones to `bad-…`; a file is closed
and a new one started once it passes the rotation size. Writes are group-committed: one
write and one fsync for every request waiting at that moment.

A reader always sees whole lines. Each commit writes at the end of the last complete
record (`pwrite` at a known offset, no userspace buffer that could flush half a line
later); if any write or fsync of the commit fails (a full disk: ENOSPC), every file it
touched is truncated back to where the commit began, the commit's requests get 503, and
the next write starts again on a clean line boundary. The breaker then fails requests at
once, and `/ready` says why, until a probe file of the failed commit's size can be
written and fsynced.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.route import Record
from collector.sinks import Refused, SinkUnavailable
from collector.sinks.batching import GroupCommitter
from collector.sinks.breaker import Breaker

log = logging.getLogger("charter.file")
_PROBE_MAX = 8 * 1024 * 1024  # the probe writes as much as the failed commit, up to this


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        offset += written
        view = view[written:]


def _sync_directory(directory: Path) -> None:
    """Make a new file's name durable. A file system that cannot sync a directory (EINVAL or
    ENOTSUP on some FUSE and network mounts) keeps names durable its own way: that is no fault."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


class _RotatingFile:
    def __init__(self, directory: Path, prefix: str, rotate_bytes: int) -> None:
        self.directory, self.prefix, self.rotate_bytes = directory, prefix, rotate_bytes
        self.seq = 0
        self.fd: int | None = None
        self.size = 0  # end of the last complete record: where the next write goes
        self.torn = False  # a rollback failed: bytes past `size` may be a torn line

    def begin(self) -> int:
        """Ready the file for a commit (rotating if due); return the offset to roll back to."""
        if self.torn and self.fd is not None:
            self.rollback(self.size)
            if self.torn:  # still cannot cut the torn tail: leave that file, start a clean one
                self._close()
        if self.fd is None or self.size >= self.rotate_bytes:
            self._open_next()
        return self.size

    def append(self, data: bytes) -> None:
        assert self.fd is not None
        _pwrite_all(self.fd, data, self.size)  # on failure, the commit rolls back to its start
        self.size += len(data)

    def sync(self) -> None:
        if self.fd is not None:
            os.fdatasync(self.fd)  # the data and the size that reaches it: all an appended line needs

    def rollback(self, offset: int) -> None:
        """Cut the file back to `offset`, the end of its last complete record."""
        self.size = offset
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, offset)
            self.torn = False
        except OSError as exc:
            self.torn = True
            log.error("could not truncate %s-… back to %d bytes: %s", self.prefix, offset, exc)

    def close(self) -> None:
        """Close for good (shutdown): every commit was fsynced already, so a failure loses nothing."""
        try:
            self.sync()
        except OSError as exc:
            log.warning("fsync of the %s file at shutdown failed: %s", self.prefix, exc)
        self._close()

    def _close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError as exc:
                log.warning("closing the %s file failed: %s", self.prefix, exc)
            self.fd = None

    def _open_next(self) -> None:
        self.close()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        while True:  # exclusive create: several workers may share the data directory
            self.seq += 1
            path = self.directory / f"{self.prefix}-{stamp}-{self.seq:04d}.jsonl"
            try:
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                break
            except FileExistsError:
                continue
        self.size, self.torn = 0, False
        _sync_directory(self.directory)  # the new file's name is as durable as the lines it will hold


class _Writer:
    """One thread of the sink's own that runs its blocking calls (write, fdatasync, probe) in turn.

    Handing a commit to this thread and back costs ~40 to 100 µs less CPU per commit on this project's
    VM than `asyncio.to_thread` (the executor's work item, locks and chained futures), which a
    single-event request paid once for each of its commits.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="charter-file-writer", daemon=True)
        self._ended: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._ended = asyncio.get_running_loop().create_future()
        self._thread.start()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((fn, args, loop, done))
        return await done

    async def stop(self, timeout: float) -> None:
        """After every call was answered: the thread ends. The loop never blocks on it, and a call
        stuck in the kernel (a hung disk) holds the shutdown `timeout` at most: the daemon thread
        is left to it."""
        if self._ended is None or not self._thread.is_alive():
            return
        self._jobs.put(None)
        ended = asyncio.shield(self._ended)  # the thread's last act; a timeout must not cancel it
        try:
            async with asyncio.timeout(timeout):
                await ended
        except TimeoutError:
            log.error("the file sink's writer is still in a write or fsync after %gs; stopping without it", timeout)
            return
        self._thread.join(1.0)  # its last act was to answer `ended`: only its return is left

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, loop, done = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed back to the caller, as to_thread would
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits for this answer any more
                loop.call_soon_threadsafe(_answer, done, result, error)
        if self._ended is not None:
            with contextlib.suppress(RuntimeError):
                self._ended.get_loop().call_soon_threadsafe(_answer, self._ended, None, None)


_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _answer(done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if done.done():  # the caller was cancelled meanwhile
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)


class FileSink:
    name = "file"

    def __init__(
        self, data_dir: Path, rotate_bytes: int = 128 * 1024 * 1024, timeout: float = 10.0, probe_interval: float = 1.0,
        window: float = 0.0,
    ) -> None:  # fmt: skip
        self.data_dir = data_dir
        self._files = {kind: _RotatingFile(data_dir, kind, rotate_bytes) for kind in ("good", "bad")}
        self._breaker = Breaker(self._probe, probe_interval, timeout)
        self._committer = GroupCommitter(self._commit, timeout, max_pipeline=1, breaker=self._breaker, window=window)
        self._started = False
        self._failed_bytes = 0  # the size of the last commit that failed: what the probe must fit
        self._writer = _Writer()
        self._timeout = timeout

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._writer.start()
        self._committer.start()
        self._breaker.start()
        self._started = True

    async def send(self, records: list[Record]) -> list[Refused]:
        return await self._committer.submit(records)

    async def flush(self) -> None:
        await self._committer.drain()

    async def stop(self) -> None:
        await self._committer.stop()
        await self._breaker.stop()
        await self._writer.stop(self._timeout)
        for f in self._files.values():
            f.close()
        self._started = False

    def ready(self) -> bool:
        return self._started and self._breaker.problem is None

    def problem(self) -> str | None:
        return self._breaker.problem if self._started else "the file sink is stopped"

    async def _commit(self, records: list[Record]) -> None:
        await self._writer.call(self._write, records)

    def _write(self, records: list[Record]) -> None:
        by_kind: dict[str, list[bytes]] = {"good": [], "bad": []}
        for r in records:
            by_kind[r.kind].append(r.value)
        touched: list[tuple[_RotatingFile, int]] = []
        size = 0
        try:
            for kind, lines in by_kind.items():
                if lines:
                    f = self._files[kind]
                    touched.append((f, f.begin()))
                    lines.append(b"")  # so that the join ends the last line too: one copy of the records
                    data = b"\n".join(lines)
                    size += len(data)
                    f.append(data)
            for f, _ in touched:
                f.sync()
        except OSError as exc:  # ENOSPC, EIO, EDQUOT...: nothing of this commit may remain
            for f, offset in touched:
                f.rollback(offset)
            self._failed_bytes = size
            raise SinkUnavailable(f"cannot write to {self.data_dir}: {type(exc).__name__}: {exc}") from exc

    async def _probe(self) -> None:
        await self._writer.call(self._probe_write)

    def _probe_write(self) -> None:
        """Write and fsync as many bytes as the failed commit held, then remove the probe file."""
        path = self.data_dir / f".probe-{os.getpid()}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _pwrite_all(fd, b"\n" * max(4096, min(self._failed_bytes, _PROBE_MAX)), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
            path.unlink(missing_ok=True)
