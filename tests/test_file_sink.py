"""The embedded file sink: JSONL envelopes on disk before the 2xx, rotated by size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.route import Record
from collector.sinks.file import FileSink


def record(kind: str, n: int) -> Record:
    value = json.dumps({"id": f"{kind}-{n}", "pad": "x" * 50}).encode()
    return Record(kind, "t", f"{kind}-{n}".encode(), value, [])  # type: ignore[arg-type]


def lines(directory: Path, prefix: str) -> list[dict[str, str]]:
    out = []
    for path in sorted(directory.glob(f"{prefix}-*.jsonl")):
        out.extend(json.loads(line) for line in path.read_text().splitlines())
    return out


async def test_records_are_on_disk_when_send_returns(tmp_path: Path) -> None:
    sink = FileSink(tmp_path)
    await sink.start()
    await sink.send([record("good", 1), record("bad", 1), record("good", 2)])
    assert [r["id"] for r in lines(tmp_path, "good")] == ["good-1", "good-2"]
    assert [r["id"] for r in lines(tmp_path, "bad")] == ["bad-1"]
    await sink.stop()


async def test_concurrent_requests_are_group_committed_without_loss(tmp_path: Path) -> None:
    import asyncio

    sink = FileSink(tmp_path)
    await sink.start()
    await asyncio.gather(*(sink.send([record("good", i)]) for i in range(200)))
    await sink.stop()
    assert sorted(int(r["id"].split("-")[1]) for r in lines(tmp_path, "good")) == list(range(200))


async def test_files_rotate_by_size_and_nothing_is_lost(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, rotate_bytes=500)
    await sink.start()
    for i in range(20):
        await sink.send([record("good", i)])
    await sink.stop()
    files = sorted(tmp_path.glob("good-*.jsonl"))
    assert len(files) > 1
    assert all(f.stat().st_size < 500 + 100 for f in files)
    assert [r["id"] for r in lines(tmp_path, "good")] == [f"good-{i}" for i in range(20)]


async def test_unwritable_data_dir_fails_the_send_instead_of_dropping(tmp_path: Path) -> None:
    from collector.sinks import SinkUnavailable

    sink = FileSink(tmp_path / "d")
    await sink.start()
    (tmp_path / "d").rmdir()
    (tmp_path / "d").write_text("a file where the data directory was")  # even root cannot write here
    with pytest.raises(SinkUnavailable, match="NotADirectoryError"):
        await sink.send([record("good", 1)])
    await sink.stop()


@pytest.mark.parametrize(("window", "syncs"), [pytest.param(0.0, 2, id="no-window"), pytest.param(0.5, 1, id="window")])
async def test_a_request_arriving_within_the_commit_window_shares_the_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: float, syncs: int
) -> None:
    """The second request arrives while the writer holds the first: without a window they are two
    commits (two syncs); within the window (`--file-commit-window`) they share one."""
    import asyncio
    import os

    real, calls = os.fdatasync, []
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    sink = FileSink(tmp_path, window=window)
    await sink.start()
    queue = sink._committer._queue
    first = asyncio.create_task(sink.send([record("good", 1)]))
    while queue.empty():  # the first request is submitted ...
        await asyncio.sleep(0)
    while not queue.empty():  # ... and the writer has taken it
        await asyncio.sleep(0)
    await asyncio.gather(first, sink.send([record("good", 2)]))
    assert len(calls) == syncs  # (before stop(): closing syncs once more)
    await sink.stop()
    assert [r["id"] for r in lines(tmp_path, "good")] == ["good-1", "good-2"]
