"""Fixtures for the input-protocol tests: a real `charter serve --sink kafka` with the test
contracts (tests/protocols/schemas) and the ones Charter ships for the protocols, a real broker
and a real consumer (tests/integration/conftest.py's)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import (
    READY_DEADLINE,
    ROOT,
    SINK_TIMEOUT,
    TEST_KEYS,
    Collector,
    _charter_command,
    free_broker,
    free_port,
    poll_until,
    stop_process,
)

HERE = Path(__file__).parent
WRITE_KEY = "sk-segment-test-0123456789"  # the test's write key (as Segment libraries send it: Basic user)


@pytest.fixture(scope="session")
def protocol_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """CHARTER_KAFKA_BOOTSTRAP if set (CI), else a private broker for these tests (free ports)."""
    external = os.environ.get("CHARTER_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    with free_broker(tmp_path_factory, "kafka-protocols") as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def protocol_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test contracts plus the contracts Charter ships for the protocols."""
    root = tmp_path_factory.mktemp("protocol-schemas")
    for shipped in ("com.snowplowanalytics.snowplow", "com.segment"):
        shutil.copytree(ROOT / "schemas" / shipped, root / shipped)
    for ns in (HERE / "schemas").iterdir():
        shutil.copytree(ns, root / ns.name)
    return root


@pytest.fixture(scope="session")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "keys.yaml"
    path.write_text(f"keys:\n  - name: shop-backend\n    key: {WRITE_KEY}\n    namespaces: ['*']\n")
    return path


@contextlib.asynccontextmanager
async def serve(bootstrap: str, schemas: Path, log_dir: Path, *flags: str) -> AsyncIterator[Collector]:
    """`charter serve --sink kafka` with `flags`; waits for /ready, terminates afterwards."""
    port = free_port()
    log = log_dir / f"collector-{port}.log"
    cmd = [*_charter_command(), "serve", "--sink", "kafka", "--kafka-bootstrap", bootstrap, "--port", str(port),
           "--schemas", str(schemas), "--sink-timeout", str(SINK_TIMEOUT), "--keys", str(TEST_KEYS), *flags]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    collector = Collector(f"http://127.0.0.1:{port}", bootstrap, proc, log)
    try:
        async with httpx.AsyncClient(base_url=collector.url, timeout=5) as client:

            async def ready() -> bool:
                if proc.poll() is not None:
                    pytest.fail(f"collector exited with {proc.returncode} during startup:\n{collector.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    return (await client.get("/ready")).status_code == 200
                return False

            await poll_until(ready, READY_DEADLINE, f"GET /ready 200 from {collector.url}", interval=0.2)
        yield collector
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def protocol_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("protocol-collector-logs")
