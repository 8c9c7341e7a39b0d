"""Kafka sink: aiokafka, acks=all, idempotent, compressed, one batch per partition per commit.

Requests are group-committed: the writer takes every record waiting, builds one
`BatchBuilder` per topic-partition (`create_batch`/`send_batch`, several times cheaper than
one `send()` per record), and resolves the requests only when Kafka has acknowledged
every batch. Keys are partitioned with Kafka's own murmur2, so a `partition_key` lands
where a Java producer would put it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from collector.route import Record
from collector.sinks import SinkUnavailable
from collector.sinks.batching import GroupCommitter

if TYPE_CHECKING:
    from collector.settings import Settings

log = logging.getLogger("charter.kafka")


@lru_cache(maxsize=65536)
def _hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


class KafkaSink:
    name = "kafka"

    def __init__(self, settings: Settings, topics: dict[str, int]) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.topics = topics
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, list[int]] = {}
        self._committer = GroupCommitter(self._commit, settings.sink_timeout, max_pipeline=8)
        self._healthy = False

    async def start(self) -> None:
        try:
            await self._create_topics()
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=True,
                compression_type=self._settings.kafka_compression,
                linger_ms=self._settings.kafka_linger_ms,
                max_batch_size=1024 * 1024,
                request_timeout_ms=int(self._settings.sink_timeout * 1000),
                client_id="charter",
            )
            await self._producer.start()
            for topic in self.topics:
                self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        except KafkaError as exc:
            await self.stop()
            raise SinkUnavailable(f"cannot reach Kafka at {self.bootstrap}: {exc}") from exc
        self._committer.start()
        self._healthy = True

    async def send(self, records: list[Record]) -> None:
        try:
            await self._committer.submit(records)
        except SinkUnavailable:
            self._healthy = False  # /ready reports it until a later commit succeeds
            raise

    async def flush(self) -> None:
        await self._committer.drain()
        if self._producer is not None:
            await self._producer.flush()

    async def stop(self) -> None:
        await self._committer.stop()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        self._healthy = False

    def ready(self) -> bool:
        return self._producer is not None and self._healthy

    async def _create_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="charter-admin")
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            rf = self._settings.kafka_replication_factor
            new = [NewTopic(t, n, rf) for t, n in self.topics.items() if t not in existing]
            if new:
                with contextlib.suppress(TopicAlreadyExistsError):  # another collector created it first
                    await admin.create_topics(new)
                log.info("created topics: %s", ", ".join(t.name for t in new))
        finally:
            await admin.close()

    async def _partitions_for(self, topic: str) -> list[int]:
        parts = self._partitions.get(topic)
        if parts is None:
            assert self._producer is not None
            parts = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return parts

    async def _commit(self, records: list[Record]) -> None:
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("Kafka producer is stopped")
        batches: dict[tuple[str, int], Any] = {}
        deliveries: list[asyncio.Future[Any]] = []
        try:
            for r in records:
                parts = await self._partitions_for(r.topic)
                tp = (r.topic, parts[_hash(r.key) % len(parts)])
                batch = batches.get(tp)
                if batch is None:
                    batch = batches[tp] = producer.create_batch()
                if batch.append(timestamp=None, key=r.key, value=r.value, headers=r.headers) is None:
                    deliveries.append(await producer.send_batch(batch, tp[0], partition=tp[1]))
                    batch = batches[tp] = producer.create_batch()
                    if batch.append(timestamp=None, key=r.key, value=r.value, headers=r.headers) is None:
                        raise SinkUnavailable(f"a {len(r.value)}-byte record exceeds the Kafka batch size")
            for (topic, partition), batch in batches.items():
                deliveries.append(await producer.send_batch(batch, topic, partition=partition))
            results = await asyncio.gather(*deliveries, return_exceptions=True)
        except KafkaError as exc:
            self._healthy = False
            raise SinkUnavailable(f"Kafka did not accept the records: {exc}") from exc
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            self._healthy = False
            raise SinkUnavailable(f"Kafka did not acknowledge {len(errors)} batch(es): {errors[0]!r}")
        self._healthy = True
