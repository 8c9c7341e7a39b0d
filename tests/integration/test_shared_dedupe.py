"""Two `charter serve` processes on two ports, one Redis between them, real Kafka behind:
a payment posted to both is forwarded once; with the store gone, 503s, never doubles.
And a contract reload creates the new contract's topic before the first event goes to it."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import payment
from tests.integration.conftest import (
    SCHEMAS,
    Collector,
    consume,
    partitions,
    poll_until,
    run_collector,
)
from tests.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.kafka
PAY = "com.acme.shop/payment/1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as s:
        yield s


def collector(
    bootstrap: str, tmp_path: Path, *args: str, schemas: Path = SCHEMAS
) -> AbstractAsyncContextManager[Collector]:
    """`charter serve --sink kafka` with extra flags `args`; ready before it is yielded."""
    return run_collector(bootstrap, tmp_path, *args, schemas=schemas)


def pay(order_id: int, event_id: str) -> dict[str, Any]:
    return {"schema": PAY, "id": event_id, "data": payment(order_id=order_id)}


async def test_a_payment_posted_to_two_instances_is_forwarded_once(
    kafka_bootstrap: str, tmp_path: Path, store: RedisServer, run_id: str
) -> None:
    orders = random.sample(range(10**8, 10**9), 20)
    async with (
        collector(kafka_bootstrap, tmp_path, "--dedupe-store", store.url) as one,
        collector(kafka_bootstrap, tmp_path, "--dedupe-store", store.url) as two,
        httpx.AsyncClient(timeout=30) as http,
    ):
        posts = [  # every payment three times, at both instances at once: each a new client id, as a naive retry
            http.post(f"{c.url}/v1/events", json=pay(o, f"{run_id}-{o}-{i}"))
            for o in orders
            for i, c in enumerate((one, two, one))
        ]
        answers = await asyncio.gather(*posts)
    assert {r.status_code for r in answers} <= {200, 207}
    assert sum(r.json()["accepted"] for r in answers) == len(orders)
    ids = {f"{run_id}-{o}-{i}" for o in orders for i in range(3)}
    good = await consume(kafka_bootstrap, ["payments"], ids, expected=len(orders), timeout=30)
    assert sorted(r.value["data"]["order_id"] for r in good.records) == sorted(orders)  # once each
    bad = await consume(kafka_bootstrap, ["error-payments"], ids, expected=2 * len(orders), timeout=30)
    assert len(bad.records) == 2 * len(orders)
    assert {r.value["error"]["type"] for r in bad.records} == {"duplicate"}


async def test_with_the_store_gone_instances_answer_503_and_write_nothing(
    kafka_bootstrap: str, tmp_path: Path, store: RedisServer, run_id: str
) -> None:
    order = random.randrange(10**8, 10**9)
    first, retry = f"{run_id}-a", f"{run_id}-b"
    async with (
        collector(kafka_bootstrap, tmp_path, "--dedupe-store", store.url) as one,
        collector(kafka_bootstrap, tmp_path, "--dedupe-store", store.url) as two,
        httpx.AsyncClient(timeout=30) as http,
    ):
        store.stop()
        for c in (one, two):
            r = await http.post(f"{c.url}/v1/events", json=pay(order, first))
            assert (r.status_code, r.headers.get("Retry-After")) == (503, "1"), r.text
            ready = (await http.get(f"{c.url}/ready")).json()
            assert "does not answer" in ready["dedupe_problem"]
        store.start()  # back (empty): the client's retry goes through, once
        answers = [await http.post(f"{c.url}/v1/events", json=pay(order, retry)) for c in (one, two)]
    assert [r.json()["accepted"] for r in answers] == [1, 0]
    good = await consume(kafka_bootstrap, ["payments"], [first, retry], expected=1, timeout=30)
    assert [r.id for r in good.records] == [retry]  # the 503'd attempts left nothing behind


async def test_a_reload_creates_the_new_contracts_topic_before_it_is_used(
    kafka_bootstrap: str, tmp_path: Path, run_id: str
) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS / "com.acme.shop", schemas / "com.acme.shop")
    topic = f"charter.it.reload.{run_id}"
    body = {"type": "object", "x-contract": {"owner": {"name": "T"}, "topic": topic, "partitions": 2},
            "properties": {"n": {"type": "integer"}}}  # fmt: skip
    async with collector(kafka_bootstrap, tmp_path, schemas=schemas) as c, httpx.AsyncClient(timeout=30) as http:
        path = schemas / "com.example.reload" / "thing" / "1.0.0.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(body))
        c.proc.send_signal(signal.SIGHUP)
        event = {"schema": "com.example.reload/thing/1", "id": f"{run_id}-t", "data": {"n": 1}}

        async def served() -> bool:
            return (await http.post(f"{c.url}/v1/events", json=event)).status_code == 200

        await poll_until(served, 10, "the reloaded contract to be served")
    got = await consume(kafka_bootstrap, [topic], [f"{run_id}-t"], timeout=30)
    assert [r.id for r in got.records] == [f"{run_id}-t"]
    assert len(await partitions(kafka_bootstrap, [topic])) == 2  # the contract's partition count
