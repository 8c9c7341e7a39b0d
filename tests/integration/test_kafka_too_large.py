"""Poison pill: a record too large for the broker is a recorded `too_large` bad event, never an endless 503.

A broker of its own (free ports, its own data dir) runs with `message.max.bytes=65536`, so
an ordinary request under the collector's body limit makes a record Kafka refuses. The
too-large event must come back as a 207 listing it as `too_large`, be recorded in
`events.bad` with an excerpt, its size and a hash, and the requests sent with it (sharing
its group commit) must be answered 200 and be in Kafka.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import MessageSizeTooLargeError

from tests.integration.conftest import KafkaBroker, consume, free_port, poll_until, private_broker, run_collector

pytestmark = pytest.mark.kafka

BROKER_LIMIT = 65536  # message.max.bytes of this module's broker
NEIGHBOURS = 24  # ordinary requests sent at the same moment as each poison


@pytest.fixture(scope="module")
def small_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    data_dir = tmp_path_factory.mktemp("kafka-small")
    previous = os.environ.get("KAFKA_EXTRA_CONFIG")
    os.environ["KAFKA_EXTRA_CONFIG"] = f"message.max.bytes={BROKER_LIMIT}"  # read by scripts/kafka
    try:
        with private_broker(free_port(), free_port(), str(data_dir)) as broker:
            yield broker
    finally:
        if previous is None:
            os.environ.pop("KAFKA_EXTRA_CONFIG", None)
        else:
            os.environ["KAFKA_EXTRA_CONFIG"] = previous


def order(order_id: int, event_id: str, name_bytes: int = 8, **extra: Any) -> dict[str, Any]:
    name = base64.b64encode(random.randbytes(name_bytes)).decode()  # incompressible: compression cannot save it
    return {"schema": "com.acme.shop/order/1", "id": event_id,
            "data": {"orderid": order_id, "orderdate": "2026-11-21T10:00:00Z", "customerid": 7,
                     "customername": name, "items": [{"orderitemid": 1, "productid": 2, "quantity": 1, "price": 250}],
                     **extra}}  # fmt: skip


async def post(http: httpx.AsyncClient, events: list[dict[str, Any]]) -> httpx.Response:
    return await http.post("/v1/events", json=events)


async def poison_with_neighbours(
    http: httpx.AsyncClient, poison: dict[str, Any], run: str
) -> tuple[httpx.Response, list[httpx.Response], list[str]]:
    ids = [f"{run}-n{i}" for i in range(NEIGHBOURS)]
    neighbours = [post(http, [order(1000 + i, ids[i])]) for i in range(NEIGHBOURS)]
    half = NEIGHBOURS // 2  # the poison in the middle of the crowd: same group commit, same partitions
    answers = await asyncio.gather(*neighbours[:half], post(http, [poison]), *neighbours[half:])
    return answers[half], [*answers[:half], *answers[half + 1 :]], ids


def assert_recorded_too_large(rec: Any, original_size_over: int) -> None:
    assert rec.value["error"]["type"] == "too_large"
    assert dict(rec.headers)["error_type"] == b"too_large"
    payload = rec.value["payload"]
    assert payload["bytes"] > original_size_over and len(payload["sha256"]) == 64
    assert payload["excerpt"] and len(rec.raw) < BROKER_LIMIT // 4  # an excerpt that fits


async def lower_limit(bootstrap: str, topic: str, limit: int) -> None:
    """Set the topic's max.message.bytes and wait until the broker enforces it.

    alter_configs returns once the controller has the change; the broker applies it a moment
    later. A record sent before then is accepted, so probe the broker with one of its own.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(limit)})])
    finally:
        await admin.close()
    probe = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="charter-it-limit-probe")
    await probe.start()

    async def refused() -> bool:
        try:
            await probe.send_and_wait(topic, random.randbytes(limit + 1024))
        except MessageSizeTooLargeError:
            return True
        return False

    try:
        await poll_until(refused, 30, f"the broker to refuse records over {limit} bytes in {topic}")
    finally:
        await probe.stop()


@pytest.fixture(scope="module")
async def http(small_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Any:
    async with (
        run_collector(small_broker.bootstrap, Path(tmp_path_factory.mktemp("logs"))) as collector,
        httpx.AsyncClient(base_url=collector.url, timeout=30) as client,
    ):
        yield client


async def test_an_event_too_large_for_the_broker_is_a_207_and_a_too_large_record(
    http: httpx.AsyncClient, small_broker: KafkaBroker
) -> None:
    run = uuid.uuid4().hex[:10]
    poison_id = f"{run}-poison"
    poison, neighbours, ids = await poison_with_neighbours(http, order(1, poison_id, name_bytes=90_000), run)
    assert poison.status_code == 207, poison.text
    assert poison.json()["accepted"] == 0 and poison.json()["errors"][0]["type"] == "too_large"
    assert poison.json()["errors"][0]["id"] == poison_id
    assert [r.status_code for r in neighbours] == [200] * NEIGHBOURS  # not failed with it
    found = (await consume(small_broker.bootstrap, ["orders", "events.bad"], [*ids, poison_id])).by_id()
    assert all(len(found.get(i, [])) == 1 and found[i][0].topic == "orders" for i in ids)
    [rec] = found[poison_id]
    assert rec.topic == "events.bad" and rec.value["schema"] == "com.acme.shop/order/1.0.0"
    assert_recorded_too_large(rec, BROKER_LIMIT)


async def test_a_rejected_event_whose_bad_record_is_too_large_is_recorded_as_too_large(
    http: httpx.AsyncClient, small_broker: KafkaBroker
) -> None:
    run = uuid.uuid4().hex[:10]
    poison_id = f"{run}-unknown-fields"
    unknown = {f"field_{i}": i for i in range(8000)}  # ~100 kB of fields the contract forbids
    poison, neighbours, _ = await poison_with_neighbours(http, order(2, poison_id, **unknown), run)
    assert poison.status_code == 207 and poison.json()["rejected"] == 1, poison.text
    assert [r.status_code for r in neighbours] == [200] * NEIGHBOURS
    found = (await consume(small_broker.bootstrap, ["events.bad"], [poison_id])).by_id()
    [rec] = found[poison_id]
    assert_recorded_too_large(rec, BROKER_LIMIT)


async def test_a_limit_lowered_while_running_refuses_only_the_record_too_large(
    http: httpx.AsyncClient, small_broker: KafkaBroker
) -> None:
    # the collector read 64 kB at start; the broker now refuses a 30 kB record the collector sends
    await lower_limit(small_broker.bootstrap, "orders", 16384)
    run = uuid.uuid4().hex[:10]
    poison_id = f"{run}-poison"
    poison, neighbours, ids = await poison_with_neighbours(http, order(3, poison_id, name_bytes=24_000), run)
    assert poison.status_code == 207 and poison.json()["errors"][0]["type"] == "too_large", poison.text
    assert [r.status_code for r in neighbours] == [200] * NEIGHBOURS
    found = (await consume(small_broker.bootstrap, ["orders", "events.bad"], [*ids, poison_id])).by_id()
    assert all(len(found.get(i, [])) == 1 for i in ids), "a neighbour was lost or duplicated"
    assert_recorded_too_large(found[poison_id][0], 16384)
    assert (await http.get("/ready")).status_code == 200  # a refusal is not an outage
