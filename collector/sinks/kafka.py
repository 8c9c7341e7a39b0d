"""Kafka sink: aiokafka, acks=all, idempotent, compressed, one batch per partition per commit.

Requests are group-committed (after waiting `--kafka-linger-ms`, 1 by default, for requests
close together to join): the writer takes every record waiting, builds one
`BatchBuilder` per topic-partition (kafka_batches.py; `create_batch`/`send_batch`, several
times cheaper than one `send()` per record), and resolves the requests only when Kafka has
acknowledged every batch. Keys are partitioned with Kafka's own murmur2, so a
`partition_key` lands where a Java producer would put it.

Too large is permanent, not retriable. Each topic's `max.message.bytes` is read at start;
a record that cannot fit (its size, uncompressed, against the smaller of that and the
producer's request size) is never sent: it is returned `Refused`, and the app records a
small `too_large` bad record instead. Batches are cut to fit the topic's limit too, so a
small record never shares a refusal with a big one. If the broker refuses a batch as too
large anyway (its limit was lowered since), the limit is read again and the batch's
records are sent once more, each on its own, so only the record that is too large is
refused. A broker refusal also breaks the idempotent producer's sequence numbers for the
partition: the producer is replaced and the records the broken sequence refused are sent
again, so requests that shared the commit are not failed. The replaced producer is stopped
only once no commit is still adding to it or waiting on it (kafka_producer.py): aiokafka's
`stop()` would strand a batch added while it flushes, and that commit's requests would get
503 at the sink timeout.

A breaker (breaker.py) watches the broker: after a failure, or when the periodic metadata
probe fails, requests get 503 at once until a probe succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownProducerId,
)

from collector.route import Record
from collector.sinks import Refused, SinkUnavailable
from collector.sinks.batching import Delivery, GroupCommitter
from collector.sinks.breaker import Breaker
from collector.sinks.kafka_batches import Sent, send_batches
from collector.sinks.kafka_limits import MAX_REQUEST_BYTES, read_limits
from collector.sinks.kafka_producer import ProducerUsers, new_producer
from collector.sinks.kafka_security import KafkaSecurity
from collector.sinks.kafka_topics import create_topics

if TYPE_CHECKING:
    from collector.settings import Settings

log = logging.getLogger("charter.kafka")
_FATAL = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)


class KafkaSink:
    name = "kafka"

    def __init__(self, settings: Settings, topics: dict[str, int]) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.topics = topics
        self._settings = settings
        self._security = KafkaSecurity.of(settings)  # TLS, SASL and --kafka-option, for every client
        self._timeout = settings.sink_timeout
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, list[int]] = {}
        self._limits: dict[str, int] = {}  # topic → max.message.bytes, read at start
        watch = max(1.0, min(5.0, self._timeout / 2))  # keep /ready honest without traffic
        self._breaker = Breaker(self._probe, settings.sink_probe_interval, self._timeout, watch=watch)
        # linger.ms is the group commit's window here (aiokafka lingers each send_batch batch as long again)
        window = self._security.producer().get("linger_ms", settings.kafka_linger_ms) / 1000  # --kafka-option wins
        self._committer = GroupCommitter(
            self._commit, settings.sink_timeout, max_pipeline=8, breaker=self._breaker, window=window
        )
        self._started = False
        self._reset_lock = asyncio.Lock()
        self._enqueue_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._closing: set[asyncio.Task[None]] = set()  # replaced producers, stopped once unused
        self._users = ProducerUsers(self._timeout)  # commits and probes using each producer
        self._waiting: str | None = None  # why the sink is not started yet, while --kafka-wait lasts

    async def start(self) -> None:
        """Connect; a broker not there yet is tried again in the background for --kafka-wait, not-ready meanwhile."""
        try:
            await self._connect()
        except SinkUnavailable as exc:
            if self._settings.kafka_wait <= 0:
                raise
            task = asyncio.create_task(self._wait(exc))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _wait(self, first: SinkUnavailable) -> None:
        from collector.sinks.kafka_wait import wait_for_broker

        def report(line: str) -> None:
            self._waiting = line

        wait, shared = self._settings.kafka_wait, self._settings.metrics_dir
        if await wait_for_broker(self._connect, first, wait, self.bootstrap, report, shared):
            self._waiting = None

    async def _connect(self) -> None:
        try:
            await self._create_topics()
            self._limits = await read_limits(self.bootstrap, list(self.topics), self._security.client())
            self._producer = await self._new_producer()
            for topic in self.topics:
                self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        except KafkaError as exc:
            if self._producer is not None:
                await self._producer.stop()
            self._producer = None
            raise SinkUnavailable(f"cannot reach Kafka at {self.bootstrap}: {exc}") from exc
        self._committer.start()
        self._breaker.start()
        self._started = True

    async def send(self, records: list[Record]) -> list[Refused]:
        return await self._committer.submit(records)

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
        await self._breaker.stop()
        try:
            await asyncio.wait_for(self._shutdown(), self._timeout)
        except TimeoutError:
            log.warning("Kafka did not acknowledge everything within %gs of shutdown; "
                        "those requests were answered 503", self._timeout)  # fmt: skip
        self._producer = None
        self._started = False

    async def _shutdown(self) -> None:
        await self._committer.stop()
        await asyncio.gather(*self._closing)  # their users are done now: stop them rather than leak them
        if self._producer is not None:
            await self._producer.stop()

    def ready(self) -> bool:
        return self._producer is not None and self._started and self._breaker.problem is None

    def problem(self) -> str | None:
        if self._waiting is not None:
            return self._waiting
        if self._producer is None or not self._started:
            return "the Kafka producer is stopped"
        return self._breaker.problem

    async def _new_producer(self) -> AIOKafkaProducer:
        return await new_producer(self._settings, self._security, self.bootstrap, self._timeout)

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
            task = asyncio.create_task(self._users.close(broken))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _probe(self) -> None:
        """The breaker's probe: a metadata round-trip to the brokers."""
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("the Kafka producer is stopped")
        with self._users.using(producer):  # a metadata update pending when the client closes is never answered
            if not await producer.client.force_metadata_update():
                raise SinkUnavailable(f"Kafka at {self.bootstrap} did not answer a metadata request")

    async def add_topics(self, topics: dict[str, int]) -> None:
        """A contract reload: create the topics the new set writes to, before it serves."""
        new = {t: n for t, n in topics.items() if t not in self.topics}
        if not new:
            return
        self.topics = {**self.topics, **new}
        try:
            await self._create_topics()
            self._limits.update(await read_limits(self.bootstrap, list(new), self._security.client()))
        except KafkaError as exc:
            self.topics = {t: n for t, n in self.topics.items() if t not in new}
            raise SinkUnavailable(f"cannot create topics {', '.join(new)} on Kafka at {self.bootstrap}: {exc}") from exc

    async def _create_topics(self) -> None:
        rf = self._settings.kafka_replication_factor
        await create_topics(self.bootstrap, self.topics, rf, self._security.client())

    def _limit(self, topic: str) -> int:
        return min(self._limits.get(topic, MAX_REQUEST_BYTES), MAX_REQUEST_BYTES)

    async def _partitions_for(self, topic: str) -> list[int]:
        parts = self._partitions.get(topic)
        if parts is None:
            assert self._producer is not None
            parts = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return parts

    async def _commit(self, records: list[Record], retry: bool = True) -> Delivery:
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("Kafka producer is stopped")
        delivery = Delivery()
        sent: Sent = []
        unsent: list[Record] = []  # not enqueued because another commit replaced the producer meanwhile
        with self._users.using(producer):  # until every batch has its outcome: a replaced producer waits for us
            try:
                # One commit enqueues at a time: concurrent send_batch calls on the same partition
                # race for its slot and aiokafka times the losers out early (aio-libs/aiokafka#814).
                async with self._enqueue_lock:
                    await self._send_batches(producer, records, sent, delivery, alone=not retry)
            except KafkaError as exc:
                if not retry or self._producer is producer:
                    raise SinkUnavailable(f"Kafka did not accept the records: {exc}") from exc
                enqueued = {id(r) for batch, _ in sent for r in batch.records}
                unsent = [r for r in records if id(r) not in enqueued and id(r) not in delivery.refused]
            finally:
                for _, fut in sent:  # read every outcome, even if we stop early
                    fut.add_done_callback(_consume)
            results = await asyncio.gather(*(fut for _, fut in sent), return_exceptions=True)
        replaced = self._producer is not producer
        again = unsent  # refused by a broken sequence, a replaced producer or as too large: one more try
        for (batch, _), result in zip(sent, results, strict=True):
            if not isinstance(result, BaseException):
                continue
            if retry and (replaced or isinstance(result, (*_FATAL, *_TOO_LARGE))):
                again += batch.records
            elif isinstance(result, _TOO_LARGE) and len(batch.records) == 1:
                reason = f"the Kafka broker refused the record as too large ({type(result).__name__})"
                delivery.refused[id(batch.records[0])] = reason
            else:
                error = SinkUnavailable(f"Kafka did not acknowledge a batch: {result!r}")
                delivery.failed.update((id(r), error) for r in batch.records)
        try:
            if any(isinstance(r, (*_FATAL, *_TOO_LARGE)) for r in results):
                await self._reset(producer)  # its sequence numbers no longer match the broker's
            if again:
                if any(isinstance(r, _TOO_LARGE) for r in results):
                    topics = sorted({r.topic for r in again})
                    self._limits.update(await read_limits(self.bootstrap, topics, self._security.client()))
                retried = await self._commit(again, retry=False)
                delivery.refused.update(retried.refused)
                delivery.failed.update(retried.failed)
        except (KafkaError, SinkUnavailable) as exc:  # only the records sent again are in doubt
            error = exc if isinstance(exc, SinkUnavailable) else SinkUnavailable(f"Kafka producer reset failed: {exc}")
            delivery.failed.update((id(r), error) for r in again)
        return delivery

    async def _send_batches(
        self, producer: AIOKafkaProducer, records: list[Record], out: Sent, delivery: Delivery, alone: bool
    ) -> None:
        limit_of, parts = self._limit, self._partitions
        await send_batches(
            producer, records, out, delivery, alone, self._timeout, limit_of, parts, self._partitions_for
        )


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()
