"""Counters never go backwards: a dead worker's last numbers stay in the sum; no stale files."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from collector.workers import RETIRED, SharedMetrics
from tests.conftest import SCHEMAS, free_port, payment, wait_ready
from tests.redis_server import redis_server

COUNTER = '# HELP c_total C\n# TYPE c_total counter\nc_total{a="x"} {n}\n'
GAUGE = "# HELP g G\n# TYPE g gauge\ng 3.0\n"


def sample(text: str, name: str) -> float:
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(name))


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid  # reaped: no process has it (until the kernel reuses it, long after this test)


def test_a_dead_workers_counters_stay_in_the_sum_once_and_its_gauges_go(tmp_path: Path) -> None:
    (tmp_path / f"{dead_pid()}.prom").write_text(COUNTER.replace("{n}", "5.0") + GAUGE)
    me = SharedMetrics(tmp_path, lambda: COUNTER.replace("{n}", "2.0").encode())
    first = me.collect().decode()
    assert sample(first, "c_total") == 7 and sample(first, "g ") == 0
    assert sample(me.collect().decode(), "c_total") == 7  # folded once, not at every scrape
    assert sorted(p.name for p in tmp_path.glob("*.prom")) == sorted([RETIRED, me.path.name])


def accepted_total(url: str) -> float:
    return sample(httpx.get(f"{url}/metrics").text, "charter_events_accepted_total{")


def test_killing_a_worker_never_takes_the_count_back(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as store:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "CHARTER_SCHEMAS": str(SCHEMAS), "CHARTER_PORT": str(port), "CHARTER_SINK": "memory",
               "CHARTER_WORKERS": "2", "CHARTER_DEDUPE_STORE": store.url, "TMPDIR": str(tmp_path / "tmp")}  # fmt: skip
        (tmp_path / "tmp").mkdir()
        parent = subprocess.Popen([sys.executable, "-m", "collector.cli", "serve"], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_ready(url, parent)
            for i in range(40):  # a new connection each time, so both workers get requests
                with httpx.Client(headers={"Connection": "close"}) as c:
                    event = {"schema": "com.acme.shop/payment/1", "data": payment(order_id=9000 + i)}
                    assert c.post(f"{url}/v1/events", json=[event]).status_code == 200
            deadline = time.monotonic() + 10
            while accepted_total(url) != 40:
                assert time.monotonic() < deadline, "the workers' counts never added up to 40"
                time.sleep(0.1)  # polling the metric, not synchronising on time
            workers = subprocess.check_output(["pgrep", "-P", str(parent.pid), "-f", "spawn_main"]).split()
            assert len(workers) == 2
            os.kill(int(workers[-1]), signal.SIGKILL)
            seen: list[float] = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(seen) < 30:
                with contextlib.suppress(httpx.TransportError):
                    seen.append(accepted_total(url))
                time.sleep(0.1)  # polling the metric, not synchronising on time
            assert seen and min(seen) == 40, f"the count went back after a worker died: {sorted(set(seen))}"
        finally:
            parent.terminate()
            parent.wait(timeout=30)
        assert not list((tmp_path / "tmp").iterdir())  # no stale metrics files behind
