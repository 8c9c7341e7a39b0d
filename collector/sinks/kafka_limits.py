"""How big a Kafka record may be: each topic's `max.message.bytes`, and batches cut to fit it.

Sizes are measured before compression (as the Java producer's `max.request.size` is), so a
record that would fit only once compressed is still refused: conservative, never retried.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from collector.route import Record

log = logging.getLogger("charter.kafka")
MAX_REQUEST_BYTES = 1024 * 1024  # the producer's max_request_size and batch size
BATCH_OVERHEAD = 128  # record batch header, with room to spare
RECORD_OVERHEAD = 32  # per record: length, attributes, deltas, header counts (varints)


def record_bytes(r: Record) -> int:
    """An upper bound on a record's size in a batch, uncompressed."""
    size = len(r.key) + len(r.value) + RECORD_OVERHEAD
    for k, v in r.headers:  # a loop, not sum() over a generator: this runs for every record
        size += len(k) + len(v) + 10
    return size


def fits(size: int, limit: int) -> bool:
    # lz4/zstd/snappy can grow incompressible data by a fraction of a percent
    return size + size // 128 + BATCH_OVERHEAD <= limit


class Batch:
    """One BatchBuilder and the records in it (to tell each request what became of its records)."""

    def __init__(self, builder: Any) -> None:
        self.builder, self.records, self.size = builder, list[Record](), 0


def append(batch: Batch, r: Record, size: int) -> bool:
    if batch.builder.append(timestamp=None, key=r.key, value=r.value, headers=r.headers) is None:
        return False
    batch.records.append(r)
    batch.size += size
    return True


async def read_limits(bootstrap: str, topics: list[str], security: dict[str, Any] | None = None) -> dict[str, int]:
    """Each topic's `max.message.bytes` (the broker default if the topic sets none).

    A cluster that will not describe its configs (no DescribeConfigs permission) leaves
    the producer's own limit in force; the broker's refusals are then handled as they come.
    """
    if not topics:
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="charter-admin", **(security or {}))
    try:
        await admin.start()
        resources = [ConfigResource(ConfigResourceType.TOPIC, t, {"max.message.bytes": None}) for t in topics]
        responses = await admin.describe_configs(resources)
    except KafkaError as exc:
        log.warning("cannot read the topics' max.message.bytes (%r); assuming %d", exc, MAX_REQUEST_BYTES)
        return {}
    finally:
        await admin.close()
    limits: dict[str, int] = {}
    for response in responses:
        for error, _, _, topic, entries in (r[:5] for r in response.resources):
            for name, value, *_ in entries if error == 0 else ():
                if name == "max.message.bytes" and value is not None:
                    limits[topic] = int(value)
    return limits
