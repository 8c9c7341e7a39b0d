"""`--kafka-wait`: serve waits for a broker that is not up yet, not-ready meanwhile, and gives up in one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import (
    ROOT,
    SCHEMAS,
    TEST_KEYS,
    _charter_command,
    free_ports,
    poll_until,
    private_broker,
    stop_process,
)

pytestmark = pytest.mark.kafka

PAYMENT = {"schema": "com.acme.shop/payment/1",
           "data": {"order_id": 77, "product_id": 7, "amount": 9.5, "confirmation_code": "AB12CD34",
                    "cc_number": "4111111111111111", "ts": "2026-11-21T10:00:00Z"}}  # fmt: skip


def serve(port: int, bootstrap: str, wait: float, log: Path, *more: str) -> subprocess.Popen[bytes]:
    cmd = [*_charter_command(), "serve", "--sink", "kafka", "--kafka-bootstrap", bootstrap, "--port", str(port),
           "--schemas", str(SCHEMAS), "--keys", str(TEST_KEYS), "--kafka-wait", str(wait), *more]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


async def ready_status(http: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    try:
        answer = await http.get("/ready")
    except httpx.TransportError:
        return 0, {}
    return answer.status_code, answer.json()


async def test_serve_waits_for_a_late_broker_answering_503_then_takes_events(tmp_path: Path) -> None:
    http_port, kafka_port, controller_port = free_ports(3)
    proc = serve(http_port, f"127.0.0.1:{kafka_port}", 180, tmp_path / "serve.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
            seen: dict[str, object] = {}

            async def waiting() -> bool:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                status, body = await ready_status(http)
                seen.update(body)
                return status == 503

            await poll_until(waiting, 30, "GET /ready 503 while no broker answers")
            assert "waiting for Kafka" in str(seen["sink_problem"]) and "--kafka-wait" in str(seen["sink_problem"])
            refused = await http.post("/v1/events", json=PAYMENT)
            assert refused.status_code == 503 and refused.headers["retry-after"]
            with private_broker(kafka_port, controller_port, str(tmp_path / "kafka")):

                async def ready() -> bool:
                    assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                    return (await ready_status(http))[0] == 200

                await poll_until(ready, 60, "GET /ready 200 once the broker is up", interval=0.2)
                accepted = await http.post("/v1/events", json=PAYMENT)
                assert accepted.status_code == 200, accepted.text
    finally:
        stop_process(proc)


async def test_serve_gives_up_after_kafka_wait_with_one_line_and_exit_2(tmp_path: Path) -> None:
    http_port, kafka_port = free_ports(2)
    log = tmp_path / "serve.log"
    proc = serve(http_port, f"127.0.0.1:{kafka_port}", 1, log)
    try:
        code = await asyncio.to_thread(proc.wait, 30)
    finally:
        stop_process(proc)
    text = log.read_text()
    assert code == 2, text
    assert "Traceback" not in text
    assert text.splitlines()[-1] == (f"error: cannot connect to Kafka at 127.0.0.1:{kafka_port} within 1s "
                                     "(--kafka-wait): start the broker, or check --kafka-bootstrap")  # fmt: skip


async def test_with_workers_the_worker_that_gives_up_stops_them_all_with_exit_2(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"  # no contract that dedupes: --workers 2 needs no shared store
    new = [*_charter_command(), "new", "com.acme.shop/refund", "--schemas", str(schemas), "--owner", "Commerce",
           "--email", "commerce@acme.example", "--description", "A refund."]  # fmt: skip
    subprocess.run(new, check=True, capture_output=True)
    http_port, kafka_port = free_ports(2)
    log = tmp_path / "serve.log"
    proc = serve(http_port, f"127.0.0.1:{kafka_port}", 1, log, "--workers", "2", "--schemas", str(schemas))
    try:
        code = await asyncio.to_thread(proc.wait, 30)
    finally:
        stop_process(proc)
    text = log.read_text()
    assert code == 2, text
    assert text.splitlines()[-1].startswith(f"error: cannot connect to Kafka at 127.0.0.1:{kafka_port} within 1s")


def test_kafka_wait_0_exits_at_once_as_before(tmp_path: Path) -> None:
    http_port, kafka_port = free_ports(2)
    log = tmp_path / "serve.log"
    proc = serve(http_port, f"127.0.0.1:{kafka_port}", 0, log)
    try:
        code = proc.wait(30)
    finally:
        stop_process(proc)
    assert code == 2
    assert log.read_text().splitlines() == [f"error: cannot connect to Kafka: nothing listens at 127.0.0.1:{kafka_port} "
                                            "(connection refused)"]  # fmt: skip
