"""Contracts change without restarts: SIGHUP and --watch load the whole new set, then swap it in;
a set that does not load keeps the old one serving and says why."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import load_registry
from collector.reload import snapshot
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, free_port, wait_ready

OWNER = {"owner": {"name": "Test Team"}}
SIGNUP = "com.example.shop/signup"


def contract(**extra: Any) -> dict[str, Any]:
    props = {"n": {"type": "integer"}, **extra.pop("properties", {})}
    return {"type": "object", "x-contract": {**OWNER, **extra.pop("x_contract", {})}, "properties": props, **extra}


def write(root: Path, ref: str, body: dict[str, Any] | str) -> Path:
    path = root / f"{ref}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")  # whole files only, as a deploy tool writes them
    tmp.write_text(body if isinstance(body, str) else json.dumps(body))
    tmp.replace(path)
    return path


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    write(root, f"{SIGNUP}/1.0.0", contract())
    return root


def event(version: str, n: int = 1) -> dict[str, Any]:
    return {"schema": f"{SIGNUP}/{version}", "data": {"n": n}}


@contextlib.contextmanager
def served(schemas: Path, **settings: Any) -> Iterator[TestClient]:
    s = Settings(schemas=schemas, keys=TEST_KEYS, **settings)
    with TestClient(create_app(s, load_registry(schemas), MemorySink()), client=("127.0.0.1", 50000)) as client:
        yield client


def reload(client: TestClient) -> bool:
    result: bool = client.portal.call(client.app.state.collector.reloads.reload)  # type: ignore[union-attr, attr-defined]
    return result


def metric(client: TestClient, name: str, **labels: str) -> float:
    """One sample of /metrics: the first line of `name` that has all of `labels`."""
    for line in client.get("/metrics").text.splitlines():
        if line.split("{")[0].split(" ")[0] == name and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rpartition(" ")[2])
    raise AssertionError(f"no sample {name} {labels} in /metrics")


def test_a_reload_serves_a_new_version_and_a_new_contract_beside_the_old(schemas: Path) -> None:
    with served(schemas) as client:
        assert client.post("/v1/events", json=event("1.1.0")).json()["errors"][0]["type"] == "unknown_schema"
        write(schemas, f"{SIGNUP}/1.1.0", contract(properties={"plan": {"type": "string"}}))
        write(schemas, "com.example.shop/refund/1.0.0", contract())
        assert reload(client)
        r = client.post(
            "/v1/events",
            json=[
                event("1.0.0"),
                event("1.1.0"),
                event("1"),
                {**event("1.0.0"), "schema": "com.example.shop/refund/1"},
            ],
        )
        assert r.json() == {"accepted": 4, "rejected": 0}
        assert client.get("/v1/schemas/com.example.shop/signup/1.1.0").status_code == 200
        ready = client.get("/ready").json()
        assert (ready["contracts"], ready["contracts_reload"]["ok"], ready["contracts_reload"]["problem"]) == (
            3,
            True,
            None,
        )
        assert metric(client, "charter_contracts_loaded") == 3
        assert metric(client, "charter_contracts_reloads_total", outcome="ok") == 1


def test_a_set_that_does_not_load_keeps_the_old_one_serving_and_says_which_file(
    schemas: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with served(schemas) as client:
        write(schemas, f"{SIGNUP}/1.1.0", contract())
        broken = write(schemas, f"{SIGNUP}/1.2.0", '{"type": "object", "x-contract": ')
        assert not reload(client)
        assert client.post("/v1/events", json=event("1.0.0")).json() == {"accepted": 1, "rejected": 0}
        assert client.post("/v1/events", json=event("1.1.0")).json()["rejected"] == 1  # not half a set: all or nothing
        ready = client.get("/ready")
        assert ready.status_code == 200  # the old set serves
        problem = ready.json()["contracts_reload"]["problem"]
        assert str(broken) in problem and "the previous set, 1 versions, keeps serving" in problem
        assert str(broken) in caplog.text
        assert metric(client, "charter_contracts_reloads_total", outcome="failed") == 1
        assert metric(client, "charter_contracts_reload_failing") == 1
        broken.unlink()  # fixed: the next reload takes the whole set
        assert reload(client)
        assert client.post("/v1/events", json=event("1.1.0")).json() == {"accepted": 1, "rejected": 0}
        assert metric(client, "charter_contracts_reload_failing") == 0


def test_a_reload_that_needs_a_key_the_ring_lacks_is_refused(schemas: Path) -> None:
    s = Settings(schemas=schemas)  # no key file: hash and encrypt are impossible
    with TestClient(create_app(s, load_registry(schemas), MemorySink()), client=("127.0.0.1", 50000)) as client:
        write(schemas, f"{SIGNUP}/1.1.0", contract(properties={"email": {"type": "string", "x-pii": "hash"}}))
        assert not reload(client)
        assert "needs hash_secret" in client.get("/ready").json()["contracts_reload"]["problem"]


def test_workers_without_a_store_refuse_a_reload_that_adds_dedupe(schemas: Path) -> None:
    with served(schemas, workers=2) as client:
        write(schemas, f"{SIGNUP}/1.1.0", contract(x_contract={"dedupe": {"by": "id"}}))
        assert not reload(client)
        assert "--dedupe-store" in client.get("/ready").json()["contracts_reload"]["problem"]


def test_watch_notices_a_new_file(schemas: Path) -> None:
    with served(schemas, watch=True, watch_interval=0.05) as client:
        write(schemas, f"{SIGNUP}/1.1.0", contract())
        deadline = time.monotonic() + 5
        while client.post("/v1/events", json=event("1.1.0")).status_code != 200:
            assert time.monotonic() < deadline, "--watch did not load the new version"
            time.sleep(0.02)  # polling the collector, not synchronising on time


def test_snapshot_sees_added_changed_and_removed_files(schemas: Path) -> None:
    before = snapshot(schemas)
    added = write(schemas, f"{SIGNUP}/1.1.0", contract())
    assert snapshot(schemas) != before
    after = snapshot(schemas)
    write(schemas, f"{SIGNUP}/1.1.0", contract(properties={"more": {"type": "string"}}))  # another size
    assert snapshot(schemas) != after
    added.unlink()
    assert snapshot(schemas) == before


# --------------------------------------------------------------------------- a real `charter serve`


@contextlib.contextmanager
def serve(tmp_path: Path, schemas: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = (tmp_path / f"serve-{port}.log").open("wb")
    cmd = [sys.executable, "-m", "collector.cli", "serve", "--schemas", str(schemas), "--port", str(port),
           "--sink", "memory", "--keys", str(TEST_KEYS), *args]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=log)
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Poster(threading.Thread):
    """Posts the old version without pause, on new connections (so every worker gets some), until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.answers: list[int] = []

    def run(self) -> None:
        deadline = time.monotonic() + 60  # bounded, whatever happens
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            n += 1
            with httpx.Client(headers={"Connection": "close"}, timeout=10) as c:
                try:
                    self.answers.append(c.post(f"{self.url}/v1/events", json=event("1.0.0", n)).status_code)
                except httpx.TransportError:
                    self.answers.append(0)

    def more(self, n: int = 5) -> None:
        """Wait until `n` more requests were answered (traffic goes on through each step)."""
        target, deadline = len(self.answers) + n, time.monotonic() + 30
        while len(self.answers) < target:
            assert time.monotonic() < deadline and self.is_alive(), "the poster stalled"
            time.sleep(0.01)  # polling the poster's count, not synchronising on time


def accepted(url: str, version: str) -> bool:
    with httpx.Client(headers={"Connection": "close"}, timeout=10) as c:
        return c.post(f"{url}/v1/events", json=event(version)).status_code == 200


@pytest.mark.parametrize("workers", [pytest.param("1", id="one-process"), pytest.param("2", id="two-workers")])
def test_reload_under_traffic_loses_no_request_and_serves_the_new_version_within_a_second(
    tmp_path: Path, schemas: Path, workers: str
) -> None:
    with serve(tmp_path, schemas, "--watch", "--watch-interval", "0.2", "--workers", workers) as (url, proc):
        poster = Poster(url)
        poster.start()
        try:
            poster.more()
            write(schemas, f"{SIGNUP}/1.1.0", contract(properties={"plan": {"type": "string"}}))
            signalled = time.monotonic()
            proc.send_signal(signal.SIGHUP)  # every worker reloads (and --watch would notice too)
            while not all(accepted(url, "1.1.0") for _ in range(int(workers) * 4)):
                assert time.monotonic() - signalled < 1.0, "the new version was not served within a second"
            poster.more()
            broken = write(schemas, f"{SIGNUP}/1.2.0", "{ this is not JSON")
            deadline = time.monotonic() + 10
            while (
                "contracts_reload" not in (ready := httpx.get(f"{url}/ready").json()) or ready["contracts_reload"]["ok"]
            ):
                assert time.monotonic() < deadline, f"--watch did not try the broken file: {ready}"
                time.sleep(0.05)  # polling /ready, not synchronising on time
            assert str(broken) in ready["contracts_reload"]["problem"]
            assert all(accepted(url, "1.1.0") for _ in range(4))  # the set before the broken file still serves
            poster.more()
        finally:
            poster.stop.set()
            poster.join(timeout=30)
        assert proc.poll() is None, "SIGHUP must reload, not stop the collector"
    assert len(poster.answers) >= 15
    assert set(poster.answers) == {200}, f"failed requests during the reloads: {sorted(set(poster.answers))}"
