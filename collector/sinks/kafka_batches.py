"""Building a commit's Kafka batches: one `BatchBuilder` per topic-partition, cut to fit the topic.

Several times cheaper than one `send()` per record. Keys are partitioned with Kafka's own
murmur2, so a `partition_key` lands where a Java producer would put it; a record too large
for its topic is refused here and never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from collector.route import Record
from collector.sinks import SinkUnavailable
from collector.sinks.batching import Delivery
from collector.sinks.kafka_limits import Batch, append, fits, record_bytes
from collector.sinks.kafka_partitioner import partition_hash

Sent = list[tuple[Batch, asyncio.Future[Any]]]  # each batch enqueued, and the future of its outcome
PartitionsFor = Callable[[str], Awaitable[list[int]]]  # a topic's partitions, looked up


async def send_batches(
    producer: AIOKafkaProducer, records: list[Record], out: Sent, delivery: Delivery, alone: bool, timeout: float,
    limit_of: Callable[[str], int], partitions: dict[str, list[int]], partitions_for: PartitionsFor,
) -> None:  # fmt: skip
    """One batch per topic-partition, cut at the topic's size limit (`alone`: one record per batch).

    `limit_of` gives a topic's size limit; `partitions` holds the known topics' partitions and
    `partitions_for` looks up a topic not in it.
    """
    batches: dict[tuple[str, int], Batch] = {}
    deadline = time.monotonic() + timeout
    for r in records:
        size, limit = record_bytes(r), limit_of(r.topic)
        if not fits(size, limit):
            reason = f"the {len(r.value)}-byte record exceeds the {limit} bytes that topic {r.topic} accepts"
            delivery.refused[id(r)] = reason
            continue
        parts = partitions.get(r.topic) or await partitions_for(r.topic)
        tp = (r.topic, parts[partition_hash(r.key) % len(parts)])
        batch = batches.get(tp)
        if batch is not None and (alone or not fits(batch.size + size, limit) or not append(batch, r, size)):
            out.append((batch, await _enqueue(producer, batch.builder, tp, deadline)))
            batch = None
        if batch is None:
            batch = batches[tp] = Batch(producer.create_batch())
            if not append(batch, r, size):  # cannot happen: the first record always fits a new batch
                raise SinkUnavailable(f"aiokafka refused a {size}-byte record in an empty batch")
    for tp, batch in batches.items():
        out.append((batch, await _enqueue(producer, batch.builder, tp, deadline)))


async def _enqueue(producer: AIOKafkaProducer, batch: Any, tp: tuple[str, int], deadline: float) -> Any:
    """send_batch, retried while the partition's slot is busy, until the sink deadline."""
    while True:
        try:
            return await producer.send_batch(batch, tp[0], partition=tp[1])
        except KafkaTimeoutError:
            if time.monotonic() >= deadline:
                raise
