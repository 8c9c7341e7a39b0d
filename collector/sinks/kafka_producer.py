"""The Kafka sink's producer: how one is built, and stopping a replaced one only once it is unused.

A broker refusal breaks the idempotent producer's sequence numbers for the partition, so the
sink replaces the producer. The replaced producer is stopped only once no commit is still
adding to it or waiting on it: aiokafka's `stop()` would strand a batch added while it
flushes, and that commit's requests would get 503 at the sink timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from collector.sinks.kafka_codec import use_level
from collector.sinks.kafka_limits import MAX_REQUEST_BYTES
from collector.sinks.kafka_security import KafkaSecurity

if TYPE_CHECKING:
    from collector.settings import Settings

log = logging.getLogger("charter.kafka")


async def new_producer(settings: Settings, security: KafkaSecurity, bootstrap: str, timeout: float) -> AIOKafkaProducer:
    """A started producer: acks=all, idempotent, compressed, with the cluster's security settings."""
    options: dict[str, Any] = {
        "compression_type": settings.kafka_compression,
        "linger_ms": settings.kafka_linger_ms,
        "request_timeout_ms": int(timeout * 1000),
        "client_id": "charter",
        **security.producer(),  # --kafka-option: any other producer property
        **security.client(),
    }
    use_level(options["compression_type"], settings.kafka_compression_level)  # --kafka-option may name the codec
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_batch_size=MAX_REQUEST_BYTES,
        max_request_size=MAX_REQUEST_BYTES,
        **options,
    )
    await producer.start()
    return producer


class ProducerUsers:
    """The commits and probes using each producer, so that a replaced one is stopped only once unused."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._users: dict[AIOKafkaProducer, int] = {}  # commits and probes using each producer
        self._unused: dict[AIOKafkaProducer, asyncio.Event] = {}  # set when a replaced producer's last user leaves

    @contextlib.contextmanager
    def using(self, producer: AIOKafkaProducer) -> Iterator[None]:
        """Count a user of `producer`, so that `close` waits for it.

        aiokafka's `stop()` flushes the batches queued when it starts, then cancels its sender.
        A `send_batch` that was waiting for its partition's slot meanwhile adds its batch after
        that snapshot; the batch lingers `linger_ms`, the sender is gone by then, and its future
        never resolves: the commit would hang and its requests get 503 at the sink timeout.
        """
        self._users[producer] = self._users.get(producer, 0) + 1
        try:
            yield
        finally:
            if left := self._users.pop(producer) - 1:
                self._users[producer] = left
            elif (unused := self._unused.pop(producer, None)) is not None:
                unused.set()

    async def close(self, producer: AIOKafkaProducer) -> None:
        """Stop a replaced producer once no commit uses it (their requests are all answered within one sink timeout)."""
        if producer in self._users:
            unused = self._unused.setdefault(producer, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(unused.wait(), self._timeout)
        try:
            await asyncio.wait_for(producer.stop(), self._timeout)
        except (TimeoutError, KafkaError) as exc:
            log.warning("replaced Kafka producer did not close cleanly: %r", exc)
