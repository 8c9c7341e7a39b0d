"""While Kafka is known to be down, requests get their 503 at once, not after the whole sink timeout.

A broker of its own (free ports) is stopped under a running collector (`--sink-timeout 3`);
once `/ready` reports the sink down, each POST is answered 503 + Retry-After in a fraction
of the timeout; when the broker is back, a probe closes the breaker and events flow again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import (
    SINK_TIMEOUT,
    KafkaBroker,
    consume,
    free_port,
    poll_until,
    private_broker,
    run_collector,
)

pytestmark = pytest.mark.kafka

REQUESTS_WHILE_DOWN = 10


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    with private_broker(free_port(), free_port(), str(tmp_path_factory.mktemp("kafka-breaker"))) as b:
        yield b


def message(event_id: str) -> dict[str, Any]:
    return {"schema": "com.datingapp.interactions/messages/1", "id": event_id,
            "data": {"user_id": "user-1", "subject_id": "subject-1", "message_text": "hello", "status": "unread",
                     "created_at": "2026-11-21T10:00:00Z", "updated_at": "2026-11-21T10:00:00Z"}}  # fmt: skip


async def test_requests_fail_fast_while_kafka_is_down_and_flow_again_after(
    broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = uuid.uuid4().hex[:10]
    logs = Path(tmp_path_factory.mktemp("logs"))
    async with (
        run_collector(broker.bootstrap, logs) as collector,
        httpx.AsyncClient(base_url=collector.url, timeout=30) as http,
    ):
        assert (await http.post("/v1/events", json=message(f"{run}-before"))).status_code == 200
        await asyncio.to_thread(broker.stop)

        async def ready_503() -> bool:
            r = await http.get("/ready")
            return r.status_code == 503 and bool(r.json().get("sink_problem"))

        await poll_until(ready_503, 20, "/ready 503 with the sink's problem while the broker is down")
        durations = []
        for n in range(REQUESTS_WHILE_DOWN):
            started = time.monotonic()
            r = await http.post("/v1/events", json=message(f"{run}-down-{n}"))
            durations.append(time.monotonic() - started)
            assert r.status_code == 503 and r.headers["retry-after"], r.text
        assert max(durations) < SINK_TIMEOUT / 3, f"503s took {durations} (sink timeout {SINK_TIMEOUT}s)"

        await asyncio.to_thread(broker.start, True)

        async def flows() -> bool:
            r = await http.post("/v1/events", json=message(f"{run}-after"))
            return r.status_code == 200

        await poll_until(flows, 30, "a POST answered 200 once the broker is back", interval=0.5)
        assert (await http.get("/ready")).status_code == 200
    ids = [f"{run}-before", f"{run}-after"]
    found = (await consume(broker.bootstrap, ["interactions.messages"], ids)).by_id()
    assert all(found.get(i) for i in ids), sorted(found)
