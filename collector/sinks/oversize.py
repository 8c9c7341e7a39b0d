"""A record the sink can never take (too large for the broker) becomes a small `too_large` bad record.

Retrying such a record cannot succeed, so it is recorded instead of answered 503 forever:
the bad record keeps the original's id, schema and provenance, an excerpt of its event
that fits, the original record's size and SHA-256, and goes to the dead-letter topic; the
client gets a 207 that lists the event as rejected. The excerpt is cut from the record as
routed, so every PII field in it was protected already.
"""

from __future__ import annotations

import hashlib

import msgspec

from collector.annotate import COLLECTOR, BadEnvelope, Source, error_info, now_rfc3339
from collector.contracts import Registry
from collector.errors import ErrorType
from collector.pipeline import Outcome, Rejection
from collector.route import Record, bad_record
from collector.sinks import Refused, Sink, SinkUnavailable
from collector.validate import Failure

EXCERPT_BYTES = 1024  # of the event (`data` of a good envelope, `payload` of a bad one)


class _Original(msgspec.Struct):
    """What a too_large record keeps of a good or bad envelope; the bulk stays undecoded."""

    id: str | None = None
    collected_at: str | None = None
    schema: str | None = None
    source: Source = msgspec.field(default_factory=Source)
    data: msgspec.Raw = msgspec.Raw(b"")
    payload: msgspec.Raw = msgspec.Raw(b"")


_decoder = msgspec.json.Decoder(_Original)


class Oversize(msgspec.Struct):
    excerpt: str
    bytes: int
    sha256: str
    truncated_to: int = EXCERPT_BYTES


def too_large(record: Record, reason: str, registry: Registry | None, excerpt: int = EXCERPT_BYTES) -> Record:
    """The bad record that stands for `record`, same id, to the dead-letter topic of its contract."""
    try:
        original = _decoder.decode(record.value)
    except msgspec.DecodeError:
        original = _Original()
    event = bytes(original.data or original.payload)[:excerpt]
    payload = Oversize(event.decode("utf-8", "ignore"), len(record.value), hashlib.sha256(record.value).hexdigest(),
                       excerpt)  # fmt: skip
    failure = Failure("$", "size", reason)
    env = BadEnvelope(
        original.id or record.key.decode("utf-8", "replace"), original.collected_at or now_rfc3339(), original.schema,
        error_info(ErrorType.TOO_LARGE, [failure], reason), payload, original.source, COLLECTOR,
    )  # fmt: skip
    topic = record.topic if record.kind == "bad" else None  # a bad record stays in its own dead-letter topic
    return bad_record(env, registry, topic)


async def record_refused(sink: Sink, refused: list[Refused], registry: Registry | None) -> list[tuple[Refused, Record]]:
    """Write a too_large record for each refused one; return each with its stand-in.

    If the sink refuses a stand-in too (a broker limit under a few kB), it is written again
    without an excerpt; if even that is refused, the sink cannot record anything and the
    request gets its 503.
    """
    done: list[tuple[Refused, Record]] = []
    for excerpt in (EXCERPT_BYTES, 0):
        stand_ins = {id(s): (ref, s) for ref in refused for s in [too_large(ref.record, ref.reason, registry, excerpt)]}
        again = await sink.send([s for _, s in stand_ins.values()])
        again_ids = {id(r.record) for r in again}
        done += [(ref, s) for key, (ref, s) in stand_ins.items() if key not in again_ids]
        refused = [stand_ins[id(r.record)][0] for r in again]
        if not refused:
            return done
    raise SinkUnavailable(f"the sink refused even a small too_large record: {refused[0].reason}")


def reject_refused(outcome: Outcome, written: list[tuple[Refused, Record]], registry: Registry | None) -> None:
    """Turn each refused good event of the request into a too_large rejection in its answer (a 207)."""
    position = {id(r): i for i, r in enumerate(outcome.records)}
    for ref, stand_in in written:
        index = position.get(id(ref.record))
        if index is None or ref.record.kind != "good":
            continue  # a bad event is listed among the rejections already
        schema = dict(ref.record.headers).get("schema", b"").decode() or None
        failure = Failure("$", "size", ref.reason)
        outcome.rejections.append(Rejection(index, stand_in.key.decode(), schema, ErrorType.TOO_LARGE, [failure]))
        outcome.accepted -= 1
        contract = registry.get(schema) if registry is not None and schema else None
        if contract is not None:
            labels = (contract.namespace, contract.name, contract.version_str)
            outcome.tally[(*labels, "accepted", "")] -= 1
            outcome.tally[(*labels, "rejected", ErrorType.TOO_LARGE.value)] += 1
            at = _decoder.decode(stand_in.value).collected_at or ""
            outcome.failures.append({"schema_key": "/".join(labels), "at": at, "id": stand_in.key.decode(),
                                     "type": ErrorType.TOO_LARGE.value, "path": "$", "keyword": "size",
                                     "message": ref.reason, "excerpt": ""})  # fmt: skip
    outcome.rejections.sort(key=lambda r: r.index)
    for key in [k for k, n in outcome.tally.items() if n <= 0]:
        del outcome.tally[key]
