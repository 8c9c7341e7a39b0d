"""The file sink on a failing disk: no torn line ever, a 503 for what failed, recovery after.

The disk is made to fail by replacing `os.pwrite`/`os.fdatasync` (what the sink writes with):
a write that stops half way with ENOSPC is exactly what a full disk does. The real thing,
a full tmpfs under load, is tests/integration/test_disk_full.py.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.route import Record
from collector.settings import Settings
from collector.sinks import SinkUnavailable
from collector.sinks.file import FileSink
from tests.conftest import TEST_KEYS, payment

PROBE = 0.02  # seconds between probes while the disk is full


def record(kind: str, n: int, pad: int = 50) -> Record:
    value = json.dumps({"id": f"{kind}-{n}", "pad": "x" * pad}).encode()
    return Record(kind, "t", f"{kind}-{n}".encode(), value, [])  # type: ignore[arg-type]


def read_ids(directory: Path, prefix: str) -> list[str]:
    """Every line of the sink's files, each parsed as JSON (a torn line fails the test)."""
    ids = []
    for path in sorted(directory.glob(f"{prefix}-*.jsonl")):
        data = path.read_bytes()
        assert data == b"" or data.endswith(b"\n"), f"{path.name} ends in a partial line: {data[-40:]!r}"
        ids += [json.loads(line)["id"] for line in data.splitlines()]
    return ids


class Disk:
    """Makes `os.pwrite` fail like a full disk: it writes what fits, then ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        self.writes = 0
        real = os.pwrite

        def pwrite(fd: int, data: Any, offset: int) -> int:
            self.writes += 1
            if not self.full:
                return real(fd, data, offset)
            if len(data) > 10:
                return real(fd, bytes(data[: len(data) // 2]), offset)  # a short write: half a line lands
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "pwrite", pwrite)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    return Disk(monkeypatch)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(PROBE / 2)  # polling, not synchronising


async def test_a_failed_write_leaves_no_partial_line_for_a_later_record_to_join(tmp_path: Path, disk: Disk) -> None:
    sink = FileSink(tmp_path, probe_interval=PROBE)
    await sink.start()
    await sink.send([record("good", 1)])
    disk.full = True
    with pytest.raises(SinkUnavailable, match="No space left"):
        await sink.send([record("good", 2), record("good", 3)])
    assert read_ids(tmp_path, "good") == ["good-1"]  # the half-written lines were cut away
    disk.full = False
    await until(sink.ready)
    await sink.send([record("good", 4)])
    await sink.stop()
    assert read_ids(tmp_path, "good") == ["good-1", "good-4"]


async def test_a_failed_commit_rolls_back_every_file_it_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FileSink(tmp_path, probe_interval=PROBE)
    await sink.start()
    await sink.send([record("good", 1), record("bad", 1)])
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(SinkUnavailable, match="I/O error"):
        await sink.send([record("good", 2), record("bad", 2)])
    monkeypatch.setattr(os, "fdatasync", real)
    assert (read_ids(tmp_path, "good"), read_ids(tmp_path, "bad")) == (["good-1"], ["bad-1"])
    await sink.stop()


async def test_while_the_disk_is_full_requests_fail_at_once_and_ready_says_why(tmp_path: Path, disk: Disk) -> None:
    sink = FileSink(tmp_path, timeout=30, probe_interval=PROBE)
    await sink.start()
    disk.full = True
    with pytest.raises(SinkUnavailable):
        await sink.send([record("good", 1)])
    assert not sink.ready() and "No space left on device" in (sink.problem() or "")
    started = time.monotonic()
    for n in range(20):
        with pytest.raises(SinkUnavailable, match="failing fast"):
            await sink.send([record("good", n)])
    assert time.monotonic() - started < 1.0  # not 20 sink timeouts
    disk.full = False
    await until(sink.ready)
    assert sink.problem() is None
    await sink.send([record("good", 99)])
    await sink.stop()
    assert read_ids(tmp_path, "good") == ["good-99"]


async def test_one_failed_commit_does_not_stop_later_rotation_or_writes(tmp_path: Path, disk: Disk) -> None:
    sink = FileSink(tmp_path, rotate_bytes=300, probe_interval=PROBE)
    await sink.start()
    for n in range(30):
        disk.full = n % 7 == 3
        try:
            await sink.send([record("good", n)])
        except SinkUnavailable:
            disk.full = False
            await until(sink.ready)
    await sink.stop()
    assert read_ids(tmp_path, "good") == [f"good-{n}" for n in range(30) if n % 7 != 3]


async def test_stop_on_a_full_disk_returns_cleanly_with_whole_lines(tmp_path: Path, disk: Disk) -> None:
    sink = FileSink(tmp_path, probe_interval=PROBE)
    await sink.start()
    await sink.send([record("good", 1)])
    disk.full = True
    results = await asyncio.gather(*(sink.send([record("good", n)]) for n in range(2, 6)), return_exceptions=True)
    assert all(isinstance(r, SinkUnavailable) for r in results)
    await sink.stop()  # must not raise
    assert read_ids(tmp_path, "good") == ["good-1"]


def test_ready_answers_503_with_the_reason_while_the_disk_is_full(
    tmp_path: Path, registry: Registry, disk: Disk
) -> None:
    sink = FileSink(tmp_path, probe_interval=PROBE)
    event = {"schema": "com.acme.shop/payment/1", "data": payment()}
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, sink)) as c:
        assert c.get("/ready").status_code == 200
        disk.full = True
        assert c.post("/v1/events", json=event).status_code == 503
        r = c.get("/ready")
        assert r.status_code == 503 and "No space left on device" in r.json()["sink_problem"]
        assert r.headers["retry-after"]
        disk.full = False
        deadline = time.monotonic() + 5
        while c.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "/ready did not recover after space came back"
            time.sleep(PROBE)  # polling /ready, not synchronising
        assert c.post("/v1/events", json=event).status_code == 200
    assert len(read_ids(tmp_path, "good")) == 1


@pytest.mark.parametrize(
    ("error", "written"),
    [  # some FUSE and network mounts answer EINVAL (or ENOTSUP) to fsync on a directory: no fault
        pytest.param(errno.EINVAL, True, id="cannot-sync-directories"),
        # an I/O error: the new file's name may not be durable, so nothing is acknowledged
        pytest.param(errno.EIO, False, id="directory-sync-fails"),
    ],
)
async def test_syncing_a_new_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, written: bool
) -> None:
    real = os.fsync

    def directory_fails(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(error, os.strerror(error))
        real(fd)

    monkeypatch.setattr(os, "fsync", directory_fails)
    sink = FileSink(tmp_path, probe_interval=PROBE)
    await sink.start()
    if written:
        await sink.send([record("good", 1)])
        assert read_ids(tmp_path, "good") == ["good-1"]
    else:
        with pytest.raises(SinkUnavailable, match=os.strerror(error)):
            await sink.send([record("good", 1)])
    await sink.stop()


async def test_stopping_does_not_wait_forever_for_a_write_stuck_in_a_hung_disk() -> None:
    from collector.sinks.file import _Writer

    writer = _Writer()
    writer.start()
    released = threading.Event()
    stuck = asyncio.ensure_future(writer.call(released.wait))  # a job that stays in the kernel, as a hung disk's fsync
    await until(lambda: writer._jobs.empty())  # the writer has taken it
    try:
        stopping = asyncio.ensure_future(writer.stop(0.1))
        done, _ = await asyncio.wait({stopping}, timeout=5)  # a bound: were stop() to wait for the job, this fails
        assert stopping in done and writer._thread.is_alive(), "stop() waited for the stuck job"
    finally:
        released.set()  # the disk answers at last: the job finishes and the thread ends
    assert await stuck is True


async def test_stopping_the_writer_ends_its_thread() -> None:
    from collector.sinks.file import _Writer

    writer = _Writer()
    writer.start()
    assert await writer.call(lambda a, b: a + b, 2, 3) == 5
    await writer.stop(5)
    assert not writer._thread.is_alive()
