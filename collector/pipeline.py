"""The per-event path: decode → resolve contract → validate → protect PII → annotate → route.

`process` is a plain function over raw event items, shared by the HTTP app and
`charter validate`, so both give exactly the same verdicts. Bad events are values here
(bad envelopes), never exceptions.
"""

from __future__ import annotations

import datetime
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta

from collector.annotate import (
    COLLECTOR,
    BadEnvelope,
    ErrorInfo,
    GoodEnvelope,
    Source,
    error_info,
    fingerprint,
    uuid7,
)
from collector.checks import Failure
from collector.contracts import Contract, Registry, parse_reference
from collector.decode import BodyError
from collector.dedupe import Deduper, Window, dedupe_key
from collector.errors import ErrorType
from collector.privacy import PiiField, Privacy
from collector.route import Record, bad_record, good_record
from collector.rules import evaluate
from collector.telemetry import Tally
from collector.validate import failure_from, validate

RAW_EXCERPT = 64 * 1024  # how much of an unusable body a bad record keeps


class Event(msgspec.Struct, forbid_unknown_fields=True):
    schema: str
    data: Any
    id: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    sent_at: Annotated[datetime.datetime, Meta(tz=True)] | None = None


_event_decoder = msgspec.json.Decoder(Event)
REDACT_ONLY = Privacy()  # no keys: hashed and encrypted fields are redacted, never left clear
_event_schema: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Context:
    """What a request contributes to each of its envelopes."""

    collected_at: str
    source: Source
    privacy: Privacy = REDACT_ONLY
    dedupe: Deduper | None = None
    clock: float = field(default_factory=time.monotonic)


class Rejection(msgspec.Struct, omit_defaults=True):
    index: int
    id: str
    schema: str | None
    type: ErrorType
    failures: list[Failure]
    message: str | None = None


@dataclass(slots=True)
class Outcome:
    records: list[Record] = field(default_factory=list)
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    reserved: list[tuple[Window, bytes]] = field(default_factory=list)  # dedupe keys, until the sink answers
    tally: Tally = field(default_factory=Counter)  # for metrics: one increment per event
    failures: list[dict[str, Any]] = field(default_factory=list)  # for /v1/stats: what broke, PII protected


def process(items: list[bytes], registry: Registry, ctx: Context) -> Outcome:
    out = Outcome()
    for index, item in enumerate(items):
        _one(index, item, registry, ctx, out)
    return out


def _one(index: int, item: bytes, registry: Registry, ctx: Context, out: Outcome) -> None:
    try:
        event = _event_decoder.decode(item)
    except msgspec.ValidationError as exc:
        failure = failure_from(str(exc), _event_schema)
        schema, event_id, payload = _as_received(item, registry, ctx)
        _reject(out, index, event_id, ErrorType.MALFORMED_EVENT, [failure], schema, payload, ctx, registry)
        return
    except (msgspec.DecodeError, RecursionError) as exc:
        msg = "JSON nesting is too deep" if isinstance(exc, RecursionError) else f"invalid JSON: {exc}"
        failure = Failure("$", "json", msg)
        _reject(out, index, None, ErrorType.MALFORMED_EVENT, [failure], None, item.decode(), ctx, registry)
        return
    contract = registry.get(event.schema)
    if contract is None:
        if parse_reference(event.schema):
            kind, message = ErrorType.UNKNOWN_SCHEMA, f"no contract {event.schema!r} is loaded"
        else:
            kind, message = ErrorType.INVALID_SCHEMA_REF, f"{event.schema!r} is not <namespace>/<name>/<version>"
        failure = Failure("$.schema", "schema", message)
        payload = _protected(item, registry.pii_for(event.schema), ctx)
        _reject(out, index, event.id, kind, [failure], event.schema, payload, ctx, registry)
        return
    failures = validate(contract, event.data)
    if failures:
        payload = _protected(item, contract.pii, ctx)
        _reject(out, index, event.id, ErrorType.INVALID_PAYLOAD, failures, event.schema, payload, ctx, registry)
        return
    flags: list[str] = []
    if contract.rules:
        broken = evaluate(contract.rules, event.data, contract.ref, _rfc3339(event.sent_at))
        if any(b.rule.on_failure == "dlq" for b in broken):
            failures = [Failure(b.rule.path, "rule", f"{b.rule.name}: {b.reason}") for b in broken]
            payload = _protected(item, contract.pii, ctx)
            _reject(out, index, event.id, ErrorType.RULE_VIOLATION, failures, event.schema, payload, ctx, registry)
            return
        flags = [b.rule.name for b in broken]
    fp = fingerprint(contract.ref, event.data)  # before protection: redacted values would collide
    if (
        contract.meta.dedupe is not None
        and ctx.dedupe is not None
        and _duplicate(index, item, event, contract, fp, ctx, out, registry)
    ):
        return
    _accept(out, event, contract, ctx, flags, fp)


def _duplicate(
    index: int, item: bytes, event: Event, contract: Contract, fp: str, ctx: Context, out: Outcome, registry: Registry
) -> bool:
    """Record the event as a duplicate if its key was seen in the window; else reserve the key."""
    spec = contract.meta.dedupe
    assert spec is not None and ctx.dedupe is not None
    key = dedupe_key(spec, event.id, fp, event.data)
    if key is None:
        return False
    window = ctx.dedupe.window(f"{contract.namespace}/{contract.name}", spec)
    if not window.seen_or_add(key, ctx.clock):
        out.reserved.append((window, key))
        return False
    by = spec.by if isinstance(spec.by, str) else ", ".join(spec.by)
    failure = Failure("$", "dedupe", f"duplicate (by {by}) of an event accepted within {spec.window}")
    payload = _protected(item, contract.pii, ctx)
    _reject(out, index, event.id, ErrorType.DUPLICATE, [failure], event.schema, payload, ctx, registry, spec.topic)
    return True


def _rfc3339(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _accept(out: Outcome, event: Event, contract: Contract, ctx: Context, flags: list[str], fp: str) -> None:
    data = ctx.privacy.protect(event.data, contract.pii) if contract.pii else event.data
    event_id = event.id or uuid7()
    env = GoodEnvelope(
        event_id, contract.ref, contract.namespace, contract.name, contract.version_str,
        data, event.sent_at, ctx.collected_at, fp, ctx.source, COLLECTOR, flags or UNSET,
    )  # fmt: skip
    key = event_id
    if contract.meta.partition_key is not None and isinstance(data, dict):
        value = data.get(contract.meta.partition_key)
        key = event_id if value is None else str(value)
    out.records.append(good_record(contract, env, key))
    out.accepted += 1
    out.tally[(contract.namespace, contract.name, contract.version_str, "accepted", "")] += 1


def _reject(
    out: Outcome, index: int, event_id: str | None, kind: ErrorType, failures: list[Failure],
    schema: str | None, payload: Any, ctx: Context, registry: Registry, topic: str | None = None,
) -> None:  # fmt: skip
    event_id = event_id or uuid7()
    env = BadEnvelope(event_id, ctx.collected_at, schema, error_info(kind, failures), payload, ctx.source, COLLECTOR)
    out.records.append(bad_record(env, registry, topic))
    out.rejections.append(Rejection(index, event_id, schema, kind, failures))
    contract = registry.get(schema) if schema else None  # unresolved references share one label: bounded cardinality
    labels = (
        (contract.namespace, contract.name, contract.version_str) if contract else ("unknown", "unknown", "unknown")
    )
    outcome = "duplicate" if kind is ErrorType.DUPLICATE else "rejected"
    out.tally[(*labels, outcome, kind.value)] += 1
    first = failures[0] if failures else Failure("$", "", env.error.message or "")
    out.failures.append({"schema_key": "/".join(labels), "at": ctx.collected_at, "id": event_id, "type": kind.value,
                         "path": first.path, "keyword": first.keyword, "message": first.message,
                         "excerpt": _excerpt(payload)})  # fmt: skip


def reject_body(error: BodyError, body: bytes, ctx: Context, registry: Registry | None = None) -> Record:
    """The bad record for a body that could not be split into events: keeps its raw text."""
    text = body[:RAW_EXCERPT].decode("utf-8", "backslashreplace")
    truncated = len(body) > RAW_EXCERPT
    info: ErrorInfo = error_info(
        error.type, [], error.message + (f" (payload truncated to {RAW_EXCERPT} bytes)" if truncated else "")
    )
    env = BadEnvelope(uuid7(), ctx.collected_at, None, info, text, ctx.source, COLLECTOR)
    return bad_record(env, registry)


def _excerpt(payload: Any, limit: int = 200) -> str:
    text = payload if isinstance(payload, str) else msgspec.json.encode(payload).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def _as_received(item: bytes, registry: Registry, ctx: Context) -> tuple[str | None, str | None, Any]:
    """The schema and id a malformed event claimed, and its payload with any PII protected."""
    obj = msgspec.json.decode(item)  # the item is valid JSON: only its shape was wrong
    if not isinstance(obj, dict):
        return None, None, msgspec.Raw(item)
    schema, event_id = obj.get("schema"), obj.get("id")
    schema = schema if isinstance(schema, str) else None
    event_id = event_id if isinstance(event_id, str) and 0 < len(event_id) <= 128 else None
    return schema, event_id, _protected(item, registry.pii_for(schema) if schema else (), ctx, obj)


def _protected(item: bytes, pii: tuple[PiiField, ...], ctx: Context, obj: Any = None) -> Any:
    """The event as received, except that fields its contract protects are protected here too."""
    if not pii:
        return msgspec.Raw(item)
    obj = msgspec.json.decode(item) if obj is None else obj
    if isinstance(obj, dict) and "data" in obj:
        obj["data"] = ctx.privacy.protect(obj["data"], pii)
    return obj
