"""A request that is being enqueued while the producer is replaced is still written, never stranded.

The race behind a neighbour's 503 in test_kafka_too_large (once in CI, with --kafka-linger-ms 1):

1. commit A's batch holds the poison; commit D's batch waits behind it for the partition's
   slot; commit C is inside aiokafka's `send_batch`, waiting for D's batch to drain;
2. the broker refuses A's batch as too large (a limit lowered since start): A replaces the
   producer and stops the old one, whose `stop()` flushes what is queued *now* (D's batch);
3. D's batch drains, C's `send_batch` adds C's batch to the stopping producer; it lingers
   `linger_ms`, D's batch is acknowledged, the flush ends and the sender is cancelled: C's
   batch is never sent nor failed, and C's request gets 503 at the sink timeout.

With a 1 ms linger the window is a millisecond wide. Here the producer lingers 600 ms and
each request is its own commit at once, so the same interleaving happens on every run; the
test waits on the sink's state, never on a sleep.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from collector.route import Record
from collector.settings import Settings
from collector.sinks import Refused, SinkUnavailable
from collector.sinks.kafka import KafkaSink
from tests.integration.conftest import consume, poll_until

pytestmark = pytest.mark.kafka

LINGER_MS = 600  # aiokafka lingers each batch this long: the window in which the producer is replaced
TOPIC_LIMIT = 16384  # max.message.bytes set after the sink read the topic's (1 MB) limit


def record(topic: str, event_id: str, pad: int) -> Record:
    value = json.dumps({"id": event_id, "pad": random.randbytes(pad).hex()}).encode()
    return Record("good", topic, b"one-key", value, [])


async def lower_limit(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"max.message.bytes": str(TOPIC_LIMIT)}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, config)])
    finally:
        await admin.close()


async def outcome(sink: KafkaSink, rec: Record) -> list[Refused] | SinkUnavailable:
    try:
        return await sink.send([rec])
    except SinkUnavailable as exc:
        return exc


async def commits_in_flight(sink: KafkaSink, count: int) -> None:
    """Wait until the sink runs `count` commits: a request sent after that is a commit of its own."""
    committer: Any = sink._committer

    async def reached() -> bool:
        return len(committer._inflight) >= count

    await poll_until(reached, 10, f"{count} commits in flight", interval=0.005)


async def test_a_request_enqueued_while_the_producer_is_replaced_is_written(kafka_bootstrap: str) -> None:
    topic = f"replaced-{uuid.uuid4().hex[:10]}"  # one partition: every batch queues behind the one before
    settings = Settings(sink="kafka", kafka_bootstrap=kafka_bootstrap, kafka_linger_ms=LINGER_MS, sink_timeout=8)
    sink = KafkaSink(settings, {topic: 1})
    sink._committer._window = 0.0  # no group-commit window: the three requests make three commits
    await sink.start()
    try:
        await lower_limit(kafka_bootstrap, topic)
        run = uuid.uuid4().hex[:10]
        poison = record(topic, f"{run}-poison", 12_000)
        d, c = record(topic, f"{run}-d", 50), record(topic, f"{run}-c", 50)
        answers = [asyncio.create_task(outcome(sink, poison))]
        await commits_in_flight(sink, 1)  # the poison's batch lingers in the producer
        answers.append(asyncio.create_task(outcome(sink, d)))
        await commits_in_flight(sink, 2)  # D waits for the poison's batch to drain
        answers.append(asyncio.create_task(outcome(sink, c)))  # C will wait for D's batch
        refused, d_answer, c_answer = await asyncio.gather(*answers)
        assert isinstance(refused, list) and [r.record for r in refused] == [poison]
        assert d_answer == [] and c_answer == [], "a neighbour of the too-large record was not written"
        found = (await consume(kafka_bootstrap, [topic], [f"{run}-d", f"{run}-c"])).by_id()
        assert sorted(found) == [f"{run}-c", f"{run}-d"] and all(len(v) == 1 for v in found.values())
    finally:
        await sink.stop()
