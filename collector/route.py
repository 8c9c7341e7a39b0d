"""Route envelopes to records: good → the contract's topic, bad → its dead-letter topic."""

from __future__ import annotations

from typing import Literal

import msgspec

from collector.annotate import BadEnvelope, GoodOut
from collector.contracts import DEFAULT_DLQ_TOPIC, Contract, Registry

_encoder = msgspec.json.Encoder()


class Record(msgspec.Struct, frozen=True, gc=False):  # holds no cycle: the collector need not track it
    """One Kafka record (or one line of the file sink)."""

    kind: Literal["good", "bad"]
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def good_record(contract: Contract, env: GoodOut, key: str, redirected: bool = False) -> Record:
    headers = [("schema", contract.schema_header), ("fingerprint", env.fingerprint.encode())]
    topic = contract.meta.redirect.topic if redirected and contract.meta.redirect else contract.topic
    return Record("good", topic, key.encode(), _encoder.encode(env), headers)


def bad_record(env: BadEnvelope, registry: Registry | None = None, topic: str | None = None) -> Record:
    contract = registry.get(env.schema) if registry is not None and env.schema else None
    topic = topic or (contract.dlq_topic if contract is not None else DEFAULT_DLQ_TOPIC)
    headers = [("error_type", env.error.type.value.encode())]
    if env.schema is not None:
        headers.insert(0, ("schema", env.schema.encode()))
    return Record("bad", topic, env.id.encode(), _encoder.encode(env), headers)
