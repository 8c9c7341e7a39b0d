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
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)
from aiokafka.partitioner import murmur2

from collector.route import Record
from collector.sinks import SinkUnavailable
from collector.sinks.batching import GroupCommitter

if TYPE_CHECKING:
    from collector.settings import Settings

log = logging.getLogger("charter.kafka")
_FATAL = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


@lru_cache(maxsize=65536)
def _hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


class KafkaSink:
    name = "kafka"

    def __init__(self, settings: Settings, topics: dict[str, int]) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.topics = topics
        self._settings = settings
        self._timeout = settings.sink_timeout
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, list[int]] = {}
        self._committer = GroupCommitter(self._commit, settings.sink_timeout, max_pipeline=8)
        self._healthy = False
        self._reset_lock = asyncio.Lock()
        self._enqueue_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        try:
            await self._create_topics()
            self._producer = await self._new_producer()
            for topic in self.topics:
                self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        except KafkaError as exc:
            await self.stop()
            raise SinkUnavailable(f"cannot reach Kafka at {self.bootstrap}: {exc}") from exc
        self._committer.start()
        self._spawn(self._probe())
        self._healthy = True

    async def send(self, records: list[Record]) -> None:
        try:
            await self._committer.submit(records)
        except SinkUnavailable:
            self._healthy = False  # /ready reports it until a commit or the probe succeeds
            raise

    async def flush(self) -> None:
        """Wait for what is in flight, at most the sink timeout: its requests are answered already."""
        try:
            await asyncio.wait_for(self._committer.drain(), self._timeout)
            if self._producer is not None:
                await asyncio.wait_for(self._producer.flush(), self._timeout)
        except TimeoutError:
            log.warning("Kafka flush gave up after %gs; unacknowledged requests were answered 503", self._timeout)

    async def stop(self) -> None:
        """Flush and close within one sink timeout: a down broker must not hold the shutdown."""
        for task in self._background:
            task.cancel()
        try:
            await asyncio.wait_for(self._shutdown(), self._timeout)
        except TimeoutError:
            log.warning("Kafka did not acknowledge everything within %gs of shutdown; "
                        "those requests were answered 503", self._timeout)  # fmt: skip
        self._producer = None
        self._healthy = False

    async def _shutdown(self) -> None:
        await self._committer.stop()
        if self._producer is not None:
            await self._producer.stop()

    def ready(self) -> bool:
        return self._producer is not None and self._healthy

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            compression_type=self._settings.kafka_compression,
            linger_ms=self._settings.kafka_linger_ms,
            max_batch_size=1024 * 1024,
            request_timeout_ms=int(self._timeout * 1000),
            client_id="charter",
        )
        await producer.start()
        return producer

    async def _close(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self._timeout)
        except (TimeoutError, KafkaError) as exc:
            log.warning("replaced Kafka producer did not close cleanly: %r", exc)

    async def _reset(self, broken: AIOKafkaProducer) -> None:
        """Replace a producer whose idempotence state the broker no longer accepts.

        After an outage aiokafka can expire batches that already used sequence numbers;
        every later batch is then refused (OutOfOrderSequenceNumber). A new producer gets a
        new producer id and starts clean (aio-libs/aiokafka#1017).
        """
        async with self._reset_lock:
            if self._producer is not broken:
                return  # another commit already replaced it
            log.warning("replacing the Kafka producer after a fatal idempotence error")
            self._producer = await self._new_producer()
            self._spawn(self._close(broken))

    async def _probe(self) -> None:
        """Keep /ready honest without traffic: refresh metadata every few seconds."""
        interval = max(1.0, min(5.0, self._timeout / 2))
        while True:
            await asyncio.sleep(interval)
            producer = self._producer
            if producer is None:
                continue
            try:
                ok = await asyncio.wait_for(producer.client.force_metadata_update(), interval)
            except (TimeoutError, KafkaError):
                ok = False
            self._healthy = bool(ok)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
        deliveries: list[asyncio.Future[Any]] = []
        try:
            # One commit enqueues at a time: concurrent send_batch calls on the same partition
            # race for its slot and aiokafka times the losers out early (aio-libs/aiokafka#814).
            async with self._enqueue_lock:
                await self._send_batches(producer, records, deliveries)
        except KafkaError as exc:
            self._healthy = False
            raise SinkUnavailable(f"Kafka did not accept the records: {exc}") from exc
        finally:
            for fut in deliveries:  # read every outcome, even if we stop early
                fut.add_done_callback(_consume)
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            self._healthy = False
            if any(isinstance(e, _FATAL) for e in errors):
                await self._reset(producer)
            raise SinkUnavailable(f"Kafka did not acknowledge {len(errors)} batch(es): {errors[0]!r}")
        self._healthy = True

    async def _send_batches(
        self, producer: AIOKafkaProducer, records: list[Record], out: list[asyncio.Future[Any]]
    ) -> None:
        """One BatchBuilder per topic-partition; a full batch is sent and a new one started."""
        batches: dict[tuple[str, int], Any] = {}
        deadline = time.monotonic() + self._timeout
        for r in records:
            parts = await self._partitions_for(r.topic)
            tp = (r.topic, parts[_hash(r.key) % len(parts)])
            batch = batches.get(tp)
            if batch is None:
                batch = batches[tp] = producer.create_batch()
            if batch.append(timestamp=None, key=r.key, value=r.value, headers=r.headers) is None:
                out.append(await _enqueue(producer, batch, tp, deadline))
                batch = batches[tp] = producer.create_batch()
                if batch.append(timestamp=None, key=r.key, value=r.value, headers=r.headers) is None:
                    raise SinkUnavailable(f"a {len(r.value)}-byte record exceeds the Kafka batch size")
        for tp, batch in batches.items():
            out.append(await _enqueue(producer, batch, tp, deadline))


async def _enqueue(producer: AIOKafkaProducer, batch: Any, tp: tuple[str, int], deadline: float) -> Any:
    """send_batch, retried while the partition's slot is busy, until the sink deadline."""
    while True:
        try:
            return await producer.send_batch(batch, tp[0], partition=tp[1])
        except KafkaTimeoutError:
            if time.monotonic() >= deadline:
                raise


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()
