"""The generated SDK against a real `charter serve`: every event type it generates is accepted as
valid, through the memory sink and through real Kafka (the broker at CHARTER_KAFKA_BOOTSTRAP)."""

from __future__ import annotations

import datetime
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer

from collector.contracts import Registry
from tests.codegen.pysdk import NOW, collected, payment, sdk
from tests.conftest import charter_serve
from tests.integration.conftest import partitions


def serve(*args: str) -> Iterator[str]:
    with charter_serve(Path.cwd(), *args) as url:
        yield url


@pytest.fixture(scope="module")
def memory_collector() -> Iterator[str]:
    yield from serve("--sink", "memory")


@pytest.fixture
def collector(memory_collector: str) -> str:
    httpx.post(f"{memory_collector}/v1/memory/reset").raise_for_status()
    return memory_collector


def one_of_each() -> list[Any]:
    """An event of every contract line, using every kind of field the contracts have."""
    order_item = sdk.OrderV1Item(orderitemid=1, productid=7, quantity=2, price=950, brand="Acme")
    return [
        payment(currency="EUR"),
        sdk.OrderV1(orderid=1, orderdate=NOW, customerid=2, customername="Ada", items=[order_item]),
        sdk.MessagesV1(
            user_id="u1",
            subject_id="u2",
            message_text="hi",
            status="unread",
            created_at=NOW,
            updated_at=NOW,
            cloudinary_url=None,
            length_seconds=12,
        ),
        sdk.ClickstreamV1(
            clickstream_id=uuid.uuid4(),
            customer_email="ada@example.com",
            hotel_id="H00042",
            action="page-view",
            event_duration=3,
            url="https://riverhotels.example/h/42",
            created_at=NOW,
            referrer=None,
        ),
        sdk.CustomerV1(
            customer_id=uuid.uuid4(),
            email="ada@example.com",
            first_name="Ada",
            last_name="L",
            birth_date=datetime.date(1815, 12, 10),
            created_at=NOW,
        ),
        sdk.HotelV1(
            hotel_id="H00042",
            name="River",
            class_="Luxury",
            city="Oslo",
            country="NO",
            room_capacity=80,
            created_at=datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
        ),
        sdk.ObjectImagesV1(
            object_id=437133,
            created_at=NOW,
            primary_image="https://images.example/1.jpg",
            additional_images=["https://images.example/2.jpg"],
        ),
        sdk.ObjectImagesNormalizedV1(object_id=437133, created_at=NOW, image=None, is_primary_image=True),
    ]


def test_every_generated_type_reaches_the_collector_valid(collector: str) -> None:
    failures: list[Any] = []
    events = one_of_each()
    with sdk.Tracker(collector, on_failure=failures.append) as tracker:
        ids = [tracker.track(event) for event in events]
        assert tracker.flush(timeout=10)
    assert failures == []
    good = httpx.get(f"{collector}/v1/memory/good").json()
    assert httpx.get(f"{collector}/v1/memory/bad").json() == []
    assert [(e["id"], e["schema"].rsplit(".", 2)[0]) for e in good] == [
        (i, type(event).__charter_schema__) for i, event in zip(ids, events, strict=True)
    ]
    hotel = next(e for e in good if e["name"] == "hotel")
    assert (hotel["data"]["class"], hotel["data"]["created_at"]) == ("Luxury", "2026-11-21T12:00:00+01:00")
    assert all(e["sent_at"].endswith("Z") for e in good)


def test_an_event_the_collector_rejects_reaches_on_failure_and_its_dead_letter(collector: str) -> None:
    failures: list[Any] = []
    with sdk.Tracker(collector, on_failure=failures.append) as tracker:
        first = payment()
        good = tracker.track(first)
        again = tracker.track(payment(order_id=first.order_id))  # valid, but the collector dedupes the payment
        assert tracker.track(payment(confirmation_code="lowercase")) is None  # a broken rule: caught here, not sent
        assert tracker.flush(timeout=10)
    assert sorted(collected(failures), key=str) == [("invalid", None), ("rejected", again)]
    assert next(f for f in failures if f.reason == "rejected").events[0].error["type"] == "duplicate"
    assert [e["id"] for e in httpx.get(f"{collector}/v1/memory/good").json()] == [good]
    assert [e["id"] for e in httpx.get(f"{collector}/v1/memory/bad").json()] == [again]


async def test_async_tracker_reaches_the_collector_valid(collector: str) -> None:
    async with sdk.AsyncTracker(collector) as tracker:
        ids = [tracker.track(event) for event in one_of_each()]
        assert await tracker.flush(timeout=10)
    async with httpx.AsyncClient() as client:
        good = (await client.get(f"{collector}/v1/memory/good")).json()
    assert [e["id"] for e in good] == ids


@pytest.mark.kafka
async def test_tracked_events_land_in_their_kafka_topics_valid(registry: Registry) -> None:
    bootstrap = os.environ.get("CHARTER_KAFKA_BOOTSTRAP")
    if not bootstrap:
        pytest.skip("CHARTER_KAFKA_BOOTSTRAP is not set (scripts/test starts Kafka and sets it)")
    payment_contract = registry.get("com.acme.shop/payment/1")
    assert payment_contract is not None
    for url in serve("--sink", "kafka", "--kafka-bootstrap", bootstrap):
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = await partitions(bootstrap, (payment_contract.topic, payment_contract.dlq_topic))
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)  # pin "the end" before anything is sent
            failures: list[Any] = []
            with sdk.Tracker(url, on_failure=failures.append) as tracker:
                events = [payment() for _ in range(3)]
                good = [tracker.track(event) for event in events]
                bad = tracker.track(payment(order_id=events[0].order_id))  # a duplicate: only the collector knows
                assert tracker.flush(timeout=30)
            found = await _read(consumer, {*good, bad})
        finally:
            await consumer.stop()
    assert list(collected(failures)) == [("rejected", bad)]
    assert sorted(found[i][0] for i in good) == [payment_contract.topic] * 3
    assert found[bad][0] == payment_contract.dlq_topic
    assert all(found[i][1]["schema"] == payment_contract.ref for i in good)


async def _read(consumer: AIOKafkaConsumer, ids: set[str], timeout: float = 30) -> dict[str, tuple[str, Any]]:
    """Read on from the pinned positions until a record of each id has arrived: id → (topic, envelope)."""
    found: dict[str, tuple[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while not ids <= found.keys():
        assert time.monotonic() < deadline, f"not in Kafka after {timeout}s: {sorted(ids - found.keys())}"
        for tp, records in (await consumer.getmany(timeout_ms=200)).items():
            for record in records:
                envelope = msgspec.json.decode(record.value)
                if envelope.get("id") in ids:
                    found[envelope["id"]] = (tp.topic, envelope)
    return found
