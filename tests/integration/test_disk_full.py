"""A real full disk under load: every acknowledged event stays readable, and the collector recovers.

`charter serve --sink file` writes to a small tmpfs of its own while clients post batches
concurrently; a filler file leaves little room, so the disk fills mid-load. Then: every
line of every file parses as JSON, every event answered 2xx is there, `/ready` said why it
was not ready and recovers once space is back, and SIGTERM on a full disk exits 0 without
a traceback. Mounting needs root (CI runs as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import SCHEMAS, free_port, poll_until

CLIENTS = 8
BATCH = 20
ROOM = 192 * 1024  # bytes left free by the filler: the load fills the rest
MAX_REQUESTS = 600  # bounds the load whatever happens
WANTED_REFUSALS = 20  # 503s to see before the load stops


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs the suite as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path, leave: int = 0) -> None:
    """Write a filler file until only `leave` bytes (about) are free, or the disk is full."""
    with path.open("ab") as f:
        try:
            while True:
                st = os.statvfs(path)
                free = st.f_bavail * st.f_frsize - leave
                if free <= 0:
                    break
                f.write(b"\0" * min(free, 256 * 1024))
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def order(event_id: str, n: int) -> dict[str, Any]:
    return {"schema": "com.acme.shop/order/1", "id": event_id,
            "data": {"orderid": n, "orderdate": "2026-11-21T10:00:00Z", "customerid": 7, "customername": "Ana " * 20,
                     "items": [{"orderitemid": 1, "productid": 2, "quantity": 1, "price": 250}]}}  # fmt: skip


def read_all(data_dir: Path) -> list[str]:
    """The id of every line in every file; fails on a partial or unparseable line."""
    ids = []
    for path in sorted(data_dir.glob("*.jsonl")):
        data = path.read_bytes()
        assert data == b"" or data.endswith(b"\n"), f"{path.name} ends in a partial line: {data[-60:]!r}"
        for number, line in enumerate(data.splitlines(), 1):
            try:
                ids.append(json.loads(line)["id"])
            except ValueError:
                pytest.fail(f"{path.name}:{number} is not a whole JSON line: {line[:80]!r}")
    return ids


@contextlib.contextmanager
def serve(data_dir: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    cmd = [sys.executable, "-m", "collector.cli", "serve", "--sink", "file", "--data-dir", str(data_dir),
           "--port", str(port), "--schemas", str(SCHEMAS), "--sink-timeout", "5", "--sink-probe-interval", "0.1"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_") or k == "CHARTER_KEYS"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def load(http: httpx.AsyncClient, run: str) -> tuple[list[str], int]:
    """Clients post batches until enough are refused; returns the acknowledged ids and the 503 count."""
    acknowledged: list[str] = []
    refused = 0
    sent = 0

    async def client(c: int) -> None:
        nonlocal refused, sent
        while refused < WANTED_REFUSALS and sent < MAX_REQUESTS:
            sent += 1
            ids = [f"{run}-{c}-{sent}-{i}" for i in range(BATCH)]
            r = await http.post("/v1/events", json=[order(i, n) for n, i in enumerate(ids)])
            if r.status_code == 200:
                acknowledged.extend(ids)
            else:
                assert r.status_code == 503 and r.headers["retry-after"], r.text
                refused += 1

    await asyncio.gather(*(client(c) for c in range(CLIENTS)))
    return acknowledged, refused


async def test_a_full_disk_under_load_loses_no_acknowledged_event_and_recovers(tmpfs: Path, tmp_path: Path) -> None:
    data_dir, filler = tmpfs / "data", tmpfs / "filler"
    log = tmp_path / "serve.log"
    run = uuid.uuid4().hex[:8]
    with serve(data_dir, log) as (url, proc):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def ready_is(status: int) -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/ready")).status_code == status
                assert proc.poll() is None, log.read_text()
                return False

            await poll_until(lambda: ready_is(200), 30, "charter serve to start")
            fill(filler, leave=ROOM)
            acknowledged, refused = await load(http, run)
            assert refused >= WANTED_REFUSALS and acknowledged, (refused, len(acknowledged))

            r = await http.get("/ready")  # the disk is still full: /ready says so, and why
            assert r.status_code == 503 and "No space left on device" in r.json()["sink_problem"], r.text
            assert sorted(read_all(data_dir)) == sorted(acknowledged)  # whole lines; every 2xx'd event

            filler.unlink()  # space is back
            await poll_until(lambda: ready_is(200), 10, "/ready 200 once space is back")
            later = [f"{run}-after-{i}" for i in range(BATCH)]
            r = await http.post("/v1/events", json=[order(i, n) for n, i in enumerate(later)])
            assert r.status_code == 200, r.text

            fill(filler)  # full again, then shut down
            r = await http.post("/v1/events", json=[order(f"{run}-never", 1)] * BATCH)
            assert r.status_code == 503
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        # uvicorn re-raises SIGTERM once its graceful shutdown is done: that exit status is the clean one
        try:
            status = proc.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"charter serve did not exit within 20 s of SIGTERM; its log ends:\n{log.read_text()[-3000:]}")
        assert status in (0, -signal.SIGTERM), log.read_text()[-2000:]
        assert time.monotonic() - started < 15
    text = log.read_text()
    assert "Application shutdown complete" in text and "Traceback" not in text, text[-3000:]
    ids = read_all(data_dir)
    assert sorted(ids) == sorted(acknowledged + later)
    assert len(ids) == len(set(ids))
