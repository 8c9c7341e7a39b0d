"""The embedded default sink: JSONL files under the data directory, fsynced before the 2xx.

Good envelopes go to `good-<timestamp>-<seq>.jsonl`, bad ones to `bad-…`; a file is closed
and a new one started once it passes the rotation size. Writes are group-committed: one
write and one fsync for every request waiting at that moment.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from pathlib import Path
from typing import BinaryIO

from collector.route import Record
from collector.sinks.batching import GroupCommitter


class _RotatingFile:
    def __init__(self, directory: Path, prefix: str, rotate_bytes: int) -> None:
        self.directory, self.prefix, self.rotate_bytes = directory, prefix, rotate_bytes
        self.seq = 0
        self.file: BinaryIO | None = None
        self.size = 0

    def write(self, lines: list[bytes]) -> None:
        if self.file is None or self.size >= self.rotate_bytes:
            self._open_next()
        assert self.file is not None
        data = b"".join(lines)
        self.file.write(data)
        self.size += len(data)

    def sync(self) -> None:
        if self.file is not None:
            self.file.flush()
            os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.file is not None:
            self.sync()
            self.file.close()
            self.file = None

    def _open_next(self) -> None:
        self.close()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        while True:  # exclusive create: several workers may share the data directory
            self.seq += 1
            path = self.directory / f"{self.prefix}-{stamp}-{self.seq:04d}.jsonl"
            try:
                self.file = open(path, "xb")  # noqa: SIM115 - kept open across commits
                break
            except FileExistsError:
                continue
        self.size = 0


class FileSink:
    name = "file"

    def __init__(self, data_dir: Path, rotate_bytes: int = 128 * 1024 * 1024, timeout: float = 10.0) -> None:
        self.data_dir = data_dir
        self._files = {kind: _RotatingFile(data_dir, kind, rotate_bytes) for kind in ("good", "bad")}
        self._committer = GroupCommitter(self._commit, timeout, max_pipeline=1)
        self._started = False

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._committer.start()
        self._started = True

    async def send(self, records: list[Record]) -> None:
        await self._committer.submit(records)

    async def flush(self) -> None:
        await self._committer.drain()

    async def stop(self) -> None:
        await self._committer.stop()
        for f in self._files.values():
            f.close()
        self._started = False

    def ready(self) -> bool:
        return self._started

    async def _commit(self, records: list[Record]) -> None:
        await asyncio.to_thread(self._write, records)

    def _write(self, records: list[Record]) -> None:
        by_kind: dict[str, list[bytes]] = {"good": [], "bad": []}
        for r in records:
            by_kind[r.kind].append(r.value + b"\n")
        for kind, lines in by_kind.items():
            if lines:
                self._files[kind].write(lines)
                self._files[kind].sync()
