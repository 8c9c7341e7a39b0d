"""Bad records for what the pipeline cannot take as one contract's event: an unusable body, the
events of a refused body, and the payloads of rejected events, each with its PII protected.

A payload that can be mapped to one contract line's fields has those fields protected; one that
cannot (an odd shape, extra keys, an unknown line) is sealed whole when any contract has PII.
"""

from __future__ import annotations

from typing import Any

import msgspec

from collector.annotate import COLLECTOR, BadEnvelope, error_info, uuid7
from collector.context import Context, with_origin
from collector.contracts import Registry
from collector.decode import BodyError
from collector.origin import Origin, as_received
from collector.privacy import PiiField
from collector.route import Record, bad_record

RAW_EXCERPT = 64 * 1024  # how much of an unusable body a bad record keeps
SEALED_LIMIT = 512 * 1024  # how much of an unmappable event is kept, encrypted (records must fit the broker)
_ENVELOPE_KEYS = frozenset({"schema", "data", "id", "sent_at"})
_any_decoder = msgspec.json.Decoder()


def reject_body(error: BodyError, body: bytes, ctx: Context, registry: Registry | None = None) -> Record:
    """The bad record for a body that could not be split into events: its text, or (when any
    contract has PII fields) the body protected as a whole."""
    if registry is not None and registry.has_pii:
        payload: Any = ctx.privacy.seal(body, RAW_EXCERPT)
        message = error.message
    else:
        payload = body[:RAW_EXCERPT].decode("utf-8", "backslashreplace")
        cut = len(body) > RAW_EXCERPT
        message = error.message + (f" (payload truncated to {RAW_EXCERPT} bytes)" if cut else "")
    env = BadEnvelope(
        uuid7(), ctx.collected_at, None, error_info(error.type, [], message), payload, ctx.source, COLLECTOR
    )
    return bad_record(env, registry)


def reject_items(error: BodyError, ctx: Context, registry: Registry) -> list[Record]:
    """A body refused for the number of its events: each event is still its own bad record, so
    each keeps its own contract's protection (and lands in that contract's dead-letter topic).
    An event an input protocol translated keeps what it came as, as on every other path."""
    records = []
    info = error_info(error.type, [], error.message)
    for item, origin in zip(error.items, error.origins or (None,) * len(error.items), strict=True):
        schema, event_id, payload = _refused_item(item, origin, ctx, registry)
        source = ctx.source if origin is None else with_origin(ctx, origin).source
        env = BadEnvelope(event_id or uuid7(), ctx.collected_at, schema, info, payload, source, COLLECTOR)
        records.append(bad_record(env, registry))
    return records


def _refused_item(
    item: bytes, origin: Origin | None, ctx: Context, registry: Registry
) -> tuple[str | None, str | None, Any]:
    """The schema and id of an event refused with its body, and what its record keeps of it."""
    if origin is not None:  # the event as it came, not Charter's translation of it (always valid JSON)
        schema, event_id = claimed(_any_decoder.decode(item))
        schema = schema or None  # a protocol event that could not be translated names no contract
        return schema, event_id, as_received(origin, schema, registry, ctx.privacy, SEALED_LIMIT)
    try:
        obj = _any_decoder.decode(item)
    except (msgspec.DecodeError, RecursionError):
        return None, None, sealed(item, registry, ctx)
    schema, event_id = claimed(obj)
    return schema, event_id, mapped(obj, item, registry, ctx)


def excerpt(payload: Any, limit: int = 200) -> str:
    text = payload if isinstance(payload, str) else msgspec.json.encode(payload).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def claimed(obj: Any) -> tuple[str | None, str | None]:
    """The schema and id a malformed event claimed, if it names them usably."""
    if not isinstance(obj, dict):
        return None, None
    schema, event_id = obj.get("schema"), obj.get("id")
    schema = schema if isinstance(schema, str) and len(schema) <= 256 else None
    event_id = event_id if isinstance(event_id, str) and 0 < len(event_id) <= 128 else None
    return schema, event_id


def mapped(obj: Any, item: bytes, registry: Registry, ctx: Context) -> Any:
    """A rejected event with its contract line's PII fields protected; when it cannot be mapped
    to one contract line's fields (an odd shape, extra keys, an unknown line) and any contract
    has PII fields, the event is sealed as a whole."""
    if not registry.has_pii:
        return msgspec.Raw(item)
    schema = obj.get("schema") if isinstance(obj, dict) else None
    if not (isinstance(schema, str) and registry.knows_line(schema) and set(obj) <= _ENVELOPE_KEYS):
        return sealed(item, registry, ctx)
    pii = registry.pii_for(schema)
    if not pii:
        return msgspec.Raw(item)
    if "data" in obj and not isinstance(obj["data"], dict):
        return sealed(item, registry, ctx)
    if "data" in obj:
        obj["data"] = ctx.privacy.protect(obj["data"], pii)
    return obj


def sealed(item: bytes, registry: Registry, ctx: Context) -> Any:
    return ctx.privacy.seal(item, SEALED_LIMIT) if registry.has_pii else item.decode("utf-8", "backslashreplace")


def protected(item: bytes, pii: tuple[PiiField, ...], ctx: Context, registry: Registry) -> Any:
    """A decoded event of a known contract, with the fields its contract protects protected."""
    if not pii:
        return msgspec.Raw(item)
    obj = _any_decoder.decode(item)
    if not isinstance(obj.get("data"), dict):
        return sealed(item, registry, ctx)
    obj["data"] = ctx.privacy.protect(obj["data"], pii)
    return obj
