"""The per-event path: decode → resolve contract → validate → protect PII → annotate → route.

`process` is a plain function over raw event items, shared by the HTTP app and
`charter validate`, so both give exactly the same verdicts. Bad events are values here
(bad envelopes), never exceptions.
"""

from __future__ import annotations

import datetime
import logging
import math
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta

from collector.annotate import (
    COLLECTOR,
    COLLECTOR_JSON,
    BadEnvelope,
    GoodOut,
    canonical,
    error_info,
    fingerprint_of,
    uuid7,
)
from collector.context import REDACT_ONLY as REDACT_ONLY
from collector.context import Context as Context
from collector.context import with_origin
from collector.contracts import Contract, Registry, parse_reference
from collector.dedupe import Claim, Deduper, dedupe_key, parse_window
from collector.errors import ErrorType
from collector.origin import Origin, as_received, entities, entity_failures
from collector.reject import SEALED_LIMIT, claimed, excerpt, mapped, protected, sealed
from collector.reject import reject_body as reject_body
from collector.reject import reject_items as reject_items
from collector.route import Record, bad_record, good_record
from collector.rules import evaluate, reads_sent_at
from collector.schema import compile_schema
from collector.telemetry import Tally
from collector.validate import Failure, exact, lossy, validate

log = logging.getLogger("charter")


class Event(msgspec.Struct, forbid_unknown_fields=True, gc=False):  # decoded JSON holds no cycle
    schema: str
    data: Any
    id: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    sent_at: Annotated[datetime.datetime, Meta(tz=True)] | None = None


_lossy_numbers: list[str] = []  # the current event's numbers a double may not hold exactly


def _float(text: str) -> float:
    """Every fraction or exponent of an event: a float, noting a lossy one; beyond the float range, refused."""
    value = float(text)
    if math.isinf(value):
        raise ValueError("a number beyond the float range")
    if lossy(text):
        _lossy_numbers.append(text)
    return value


_event_decoder = msgspec.json.Decoder(Event, float_hook=_float)
_any_decoder = msgspec.json.Decoder()
# The event envelope as a JSON Schema: explains, field by field, why an event did not decode.
_ENVELOPE = compile_schema(
    {"type": "object", "required": ["schema", "data"], "additionalProperties": False,
     "properties": {"schema": {"type": "string"}, "data": True,
                    "id": {"type": "string", "minLength": 1, "maxLength": 128},
                    "sent_at": {"type": "string", "format": "date-time"}}},
    "<event envelope>",
)  # fmt: skip


class Rejection(msgspec.Struct, omit_defaults=True):
    index: int
    id: str
    schema: str | None
    type: ErrorType
    failures: list[Failure]
    message: str | None = None


@dataclass(frozen=True, slots=True)
class _Pending:
    """An event accepted before the dedupe store answered for its key: if the key was taken, its
    good record (at `position`) becomes its duplicate record."""

    claim: Claim
    position: int
    index: int
    item: bytes
    event: Event
    contract: Contract
    dlq: str | None
    ctx: Context  # the event's own (an input protocol may give each event its own)


@dataclass(slots=True)
class Outcome:
    records: list[Record] = field(default_factory=list)
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)  # accepted events whose dedupe key awaits the store
    reserved: list[Claim] = field(default_factory=list)  # dedupe keys this request holds, until the sink answers
    tally: Tally = field(default_factory=Counter)  # for metrics: one increment per event
    # accepted events' tally keys, folded into `tally` once per request (a Counter `+=` per event costs more)
    accepted_keys: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # for /v1/stats: what broke, PII protected


def process(items: list[bytes], registry: Registry, ctx: Context, origins: list[Origin] | None = None) -> Outcome:
    """Verdicts for every event. Dedupe keys are asked of the store once per request: the
    in-process store answers here; for a shared store `out.pending` waits for `settle`.
    `origins` (one per item) come with events an input protocol translated."""
    out = Outcome()
    for index, item in enumerate(items):
        _one(index, item, registry, ctx if origins is None else with_origin(ctx, origins[index]), out)
    out.accepted = len(out.accepted_keys)
    out.tally.update(out.accepted_keys)
    if out.pending and isinstance(ctx.dedupe, Deduper):
        settle(out, ctx.dedupe.take([p.claim for p in out.pending], ctx.clock), registry)
    return out


def settle(out: Outcome, fresh: list[bool], registry: Registry) -> None:
    """The store's answer for each pending key (True: reserved for this request, False: seen
    within the window): each event whose key was seen becomes a duplicate record in its place."""
    for p, first in zip(out.pending, fresh, strict=True):
        if first:
            out.reserved.append(p.claim)
        else:
            _as_duplicate(p, out, registry)
    out.pending.clear()
    out.rejections.sort(key=lambda r: r.index)


def _one(index: int, item: bytes, registry: Registry, ctx: Context, out: Outcome) -> None:
    pending = len(out.pending)
    try:
        _check(index, item, registry, ctx, out)
    except Exception as exc:  # a bug or a value nothing expected: this event's bad record, never a 500
        # the message may quote event data; the type and the frames say where without it
        where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
        log.error("internal error on event %d: %s\n%s", index, type(exc).__name__, where)
        del out.pending[pending:]
        failure = Failure("$", "internal", f"Charter failed on this event ({type(exc).__name__}); it is kept here")
        payload = sealed(item, registry, ctx)
        _reject(out, index, None, ErrorType.INTERNAL_ERROR, [failure], None, payload, ctx, registry)


def _check(index: int, item: bytes, registry: Registry, ctx: Context, out: Outcome) -> None:
    _lossy_numbers.clear()
    try:
        event = _event_decoder.decode(item)
    except msgspec.ValidationError:  # a subclass of DecodeError: first
        try:
            obj = _any_decoder.decode(item)  # valid JSON: only its shape was wrong, or a number too big
        except (msgspec.DecodeError, RecursionError) as exc:
            _unreadable(index, item, exc, registry, ctx, out)
            return
        failures = validate(_ENVELOPE, obj) or [Failure("$", "type", "not a valid event envelope")]
        schema, event_id = claimed(obj)
        payload = mapped(obj, item, registry, ctx)
        _reject(out, index, event_id, ErrorType.MALFORMED_EVENT, failures, schema, payload, ctx, registry)
        return
    except (msgspec.DecodeError, RecursionError) as exc:
        _unreadable(index, item, exc, registry, ctx, out)
        return
    if ctx.origin is not None and ctx.origin.failure is not None:
        kind, failure = ctx.origin.failure
        _reject(out, index, event.id, kind, [failure], event.schema or None, None, ctx, registry)
        return
    contract = registry.get(event.schema)
    if contract is None:
        if parse_reference(event.schema):
            kind, message = ErrorType.UNKNOWN_SCHEMA, f"no contract {event.schema!r} is loaded"
        else:
            kind, message = ErrorType.INVALID_SCHEMA_REF, f"{event.schema!r} is not <namespace>/<name>/<version>"
        failure = Failure("$.schema", "schema", message)
        payload = mapped(_any_decoder.decode(item), item, registry, ctx)
        _reject(out, index, event.id, kind, [failure], event.schema, payload, ctx, registry)
        return
    redirect = contract.meta.redirect
    restricted = redirect is not None and contract.redirected(event.data)
    dlq = redirect.dlq_topic if restricted and redirect is not None else None
    # as JSON Schema judges it: numbers a double cannot hold exactly, as decimals (decoded again, only then)
    exact_data = exact(item).get("data") if _lossy_numbers else event.data
    failures = validate(contract.compiled, exact_data)
    if ctx.origin is not None and ctx.origin.entities:
        failures += entity_failures(ctx.origin.entities, registry)
    if failures:
        payload = protected(item, contract.pii, ctx, registry)
        _reject(out, index, event.id, ErrorType.INVALID_PAYLOAD, failures, event.schema, payload, ctx, registry, dlq)
        return
    flags: list[str] | None = None
    if contract.rules:
        sent_at = _rfc3339(event.sent_at) if reads_sent_at(contract.rules) else None
        broken = evaluate(contract.rules, event.data, contract.ref, sent_at, bool(contract.pii))
        if broken and any(b.rule.on_failure == "dlq" for b in broken):
            failures = [Failure(b.rule.path, "rule", f"{b.rule.name}: {b.reason}") for b in broken]
            payload = protected(item, contract.pii, ctx, registry)
            kind = ErrorType.RULE_VIOLATION
            _reject(out, index, event.id, kind, failures, event.schema, payload, ctx, registry, dlq)
            return
        flags = [b.rule.name for b in broken]
    # encoded once: hashed for the fingerprint (before protection: redacted values would collide),
    # and written as the envelope's data when no field is protected. Exact decimals stay exact.
    data = canonical(exact_data)
    fp = fingerprint_of(contract.schema_header, data)
    spec = contract.meta.dedupe if ctx.dedupe is not None else None
    if spec is not None and (key := dedupe_key(spec, event.id, fp, event.data)) is not None:
        claim = Claim(f"{contract.namespace}/{contract.name}", key, parse_window(spec.window))
        out.pending.append(_Pending(claim, len(out.records), index, item, event, contract, dlq, ctx))
    _accept(out, event, contract, ctx, flags, fp, data, restricted, registry)


def _unreadable(index: int, item: bytes, exc: Exception, registry: Registry, ctx: Context, out: Outcome) -> None:
    """An event that is not JSON, nests too deep, or holds a number no decoder can represent."""
    if isinstance(exc, RecursionError):
        message = "JSON nesting is too deep"
    elif isinstance(exc, msgspec.ValidationError):  # only numbers fail an untyped decode
        message = "a number cannot be represented (beyond the float range, or more than 4300 digits)"
    else:
        message = f"invalid JSON: {exc}"
    failure = Failure("$", "json", message)
    _reject(out, index, None, ErrorType.MALFORMED_EVENT, [failure], None, sealed(item, registry, ctx), ctx, registry)


def _as_duplicate(p: _Pending, out: Outcome, registry: Registry) -> None:
    """Record an event as a duplicate: its key was seen in the window (by any collector sharing the store)."""
    contract, spec, ctx = p.contract, p.contract.meta.dedupe, p.ctx
    assert spec is not None
    out.accepted -= 1
    counted = contract.accepted_key
    out.tally[counted] -= 1
    if not out.tally[counted]:
        del out.tally[counted]
    by = spec.by if isinstance(spec.by, str) else ", ".join(spec.by)
    failure = Failure("$", "dedupe", f"duplicate (by {by}) of an event accepted within {spec.window}")
    payload = protected(p.item, contract.pii, ctx, registry)
    topic = spec.topic or p.dlq
    _reject(out, p.index, p.event.id, ErrorType.DUPLICATE, [failure], p.event.schema, payload, ctx, registry, topic)
    out.records[p.position] = out.records.pop()  # in the good record's place


def _rfc3339(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _accept(
    out: Outcome, event: Event, contract: Contract, ctx: Context, flags: list[str] | None, fp: str, data: bytes,
    restricted: bool, registry: Registry,
) -> None:  # fmt: skip
    # no protected field: the canonical bytes as they are; else the decoded data, protected in place
    protected = ctx.privacy.protect(event.data, contract.pii) if contract.pii else event.data
    value: Any = protected if contract.pii else msgspec.Raw(data)
    event_id = event.id or uuid7()
    env = GoodOut(
        event_id, contract.ref, contract.namespace, contract.name, contract.version_str,
        value, event.sent_at, ctx.collected_at, fp, ctx.source_json, COLLECTOR_JSON, flags or UNSET,
    )  # fmt: skip
    key = event_id
    if contract.meta.partition_key is not None and isinstance(protected, dict):
        part = protected.get(contract.meta.partition_key)
        key = event_id if part is None else str(part)
    if ctx.origin is not None and ctx.origin.entities:
        env.contexts = entities(ctx.origin.entities, registry, ctx.privacy)
    record = good_record(contract, env, key, restricted)
    if ctx.origin is not None and ctx.origin.headers:
        record = msgspec.structs.replace(record, headers=record.headers + list(ctx.origin.headers))
    out.records.append(record)
    out.accepted_keys.append(contract.accepted_key)


def _reject(
    out: Outcome, index: int, event_id: str | None, kind: ErrorType, failures: list[Failure],
    schema: str | None, payload: Any, ctx: Context, registry: Registry, topic: str | None = None,
) -> None:  # fmt: skip
    event_id = event_id or uuid7()
    if ctx.origin is not None:  # the event as it came, not Charter's translation of it
        payload = as_received(ctx.origin, schema, registry, ctx.privacy, SEALED_LIMIT)
    env = BadEnvelope(event_id, ctx.collected_at, schema, error_info(kind, failures), payload, ctx.source, COLLECTOR)
    out.records.append(bad_record(env, registry, topic))
    out.rejections.append(Rejection(index, event_id, schema, kind, failures))
    contract = registry.get(schema) if schema else None  # unresolved references share one label: bounded cardinality
    labels = (
        (contract.namespace, contract.name, contract.version_str) if contract else ("unknown", "unknown", "unknown")
    )
    outcome = "duplicate" if kind is ErrorType.DUPLICATE else "rejected"
    out.tally[(*labels, outcome, kind.value)] += 1
    every = failures or [Failure("$", "", env.error.message or "")]
    first = every[0]
    out.failures.append({"schema_key": "/".join(labels), "at": ctx.collected_at, "id": event_id, "type": kind.value,
                         "path": first.path, "keyword": first.keyword, "message": first.message,
                         "failures": [{"path": f.path, "keyword": f.keyword, "message": f.message} for f in every],
                         "excerpt": excerpt(payload), "record": out.records[-1].value})  # fmt: skip
