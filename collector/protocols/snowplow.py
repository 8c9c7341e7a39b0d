"""Snowplow's tracker protocol: what every Snowplow tracker sends, as Charter events.

- `POST /com.snowplowanalytics.snowplow/tp2` and `POST /i`: a `payload_data` body,
  `{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": [event, …]}`.
- `GET /i` and `GET /com.snowplowanalytics.snowplow/i`: one event in the query string (the
  pixel), answered with a 1x1 GIF.

An event is a flat map of the tracker protocol's fields. Its `e` says what it is: `ue` (a
self-describing event, `ue_pr` or base64 `ue_px`: `iglu:vendor/name/jsonschema/M-R-A` is the
contract `vendor/name/M.R.A`), `pv`, `pp`, `se` (the page view, page ping and structured event
contracts that ship in schemas/com.snowplowanalytics.snowplow). Its contexts (`co`, base64
`cx`) are entities, each checked against its own contract. Every other field (`eid`, `dtm`,
`stm`, `p`, `aid`, `tv`, `uid`, `duid`, `url`, `refr`, …) is kept in the envelope's
`source.client`; `eid` is the event id, `stm` (else `dtm`) its `sent_at`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import msgspec
from starlette.responses import Response

from collector.annotate import anonymize_ip
from collector.contracts import Registry
from collector.decode import BodyError, check_content_type
from collector.errors import ErrorType
from collector.origin import Origin
from collector.protocols.base import Batch, Incoming, charter_event, encode, event_id, from_millis, too_many
from collector.validate import Failure

NAMESPACE = "com.snowplowanalytics.snowplow"
_IGLU = re.compile(r"^iglu:([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z][A-Za-z0-9_-]*)/jsonschema/(\d+)-(\d+)-(\d+)$")
# 1x1 transparent GIF: what a Snowplow collector answers to the pixel
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate"}
_decoder = msgspec.json.Decoder()

# The event types with a contract of Charter's: tracker field → (data field, type)
_ATOMIC: dict[str, tuple[str, dict[str, tuple[str, type]]]] = {
    "pv": (f"{NAMESPACE}/page_view/1", {"url": ("page_url", str), "page": ("page_title", str),
                                          "refr": ("page_referrer", str)}),
    "pp": (f"{NAMESPACE}/page_ping/1", {"url": ("page_url", str), "page": ("page_title", str),
                                          "refr": ("page_referrer", str), "pp_mix": ("pp_xoffset_min", int),
                                          "pp_max": ("pp_xoffset_max", int), "pp_miy": ("pp_yoffset_min", int),
                                          "pp_may": ("pp_yoffset_max", int)}),
    "se": (f"{NAMESPACE}/structured_event/1", {"se_ca": ("se_category", str), "se_ac": ("se_action", str),
                                                 "se_la": ("se_label", str), "se_pr": ("se_property", str),
                                                 "se_va": ("se_value", float)}),
}  # fmt: skip
_ENTITY_FIELDS = frozenset({"ue_pr", "ue_px", "co", "cx"})


class _Problem(Exception):
    """A field of the event could not be read; becomes the event's bad record."""

    def __init__(self, kind: ErrorType, path: str, keyword: str, message: str) -> None:
        super().__init__(message)
        self.failure = (kind, Failure(path, keyword, message))


def iglu_reference(uri: object) -> str | None:
    """`iglu:com.acme/link_click/jsonschema/1-0-2` → `com.acme/link_click/1.0.2`."""
    m = _IGLU.match(uri) if isinstance(uri, str) else None
    return f"{m[1]}/{m[2]}/{m[3]}.{m[4]}.{m[5]}" if m else None


class SnowplowInput:
    name = "snowplow"

    def __init__(self, anonymize: bool = False) -> None:
        self.anonymize = anonymize

    def accepts(self, content_type: str | None) -> BodyError | None:
        return check_content_type(content_type)

    def scrub(self, body: bytes) -> bytes:
        return body

    def decode(self, incoming: Incoming, registry: Registry, max_events: int) -> Batch | BodyError:
        events = _events(incoming)
        if isinstance(events, BodyError):
            return events
        items, origins = [], []
        for params in events:
            item, origin = self.translate(params)
            items.append(item)
            origins.append(origin)
        return too_many(items, origins, max_events) or Batch(items, origins)

    def reply(self, method: str, response: Response) -> Response:
        """200 as a Snowplow collector answers (rejected events are in the dead-letter topic); the GIF to a
        pixel, and its headers to a HEAD of the pixel (which is answered, never collected)."""
        if response.status_code not in (200, 207):
            return response
        if method in ("GET", "HEAD"):
            return Response(PIXEL, 200, _NO_CACHE, media_type="image/gif")
        return Response(response.body, 200, media_type="application/json")

    def translate(self, params: dict[str, Any]) -> tuple[bytes, Origin]:
        """One tracker event → its Charter event and origin."""
        fields = {k: _text(v) for k, v in params.items()}
        if self.anonymize and isinstance(fields.get("ip"), str):  # a server-side tracker's `ip`, as --anonymize-ip says
            params = fields = {**fields, "ip": anonymize_ip(fields["ip"])}
        raw = encode(params)
        eid = event_id(fields.get("eid"))
        sent_at = from_millis(fields["stm"]) if "stm" in fields else from_millis(fields.get("dtm"))
        client = {k: v for k, v in fields.items() if k not in _ENTITY_FIELDS}
        try:
            entities = _contexts(fields)
            schema, data, used = _payload(fields)
        except _Problem as problem:
            item = charter_event("", None, eid, sent_at)
            return item, Origin(self.name, raw, client, (), problem.failure)
        for key in used:
            client.pop(key, None)  # kept once, in data: its contract's PII protection covers it there
        return charter_event(schema, data, eid, sent_at), Origin(self.name, raw, client, entities)


def _events(incoming: Incoming) -> list[dict[str, Any]] | BodyError:
    """The tracker events of a request: the query string's one (GET, or POST /i without a body), or the body's."""
    if incoming.method == "GET" or not incoming.body.strip():
        if not incoming.query:
            return BodyError(ErrorType.MALFORMED_BODY, 400, "the request holds no event (no query string, no body)")
        return [dict(incoming.query)]
    try:
        body = _decoder.decode(incoming.body)
    except (msgspec.DecodeError, RecursionError) as exc:
        return BodyError(ErrorType.MALFORMED_BODY, 400, f"invalid JSON: {exc}")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        message = 'the body must be a payload_data self-describing JSON: {"schema": "iglu:…", "data": [{…}, …]}'
        return BodyError(ErrorType.MALFORMED_BODY, 400, message)
    if not data:
        return BodyError(ErrorType.MALFORMED_BODY, 400, "the body holds no events")
    return data


def _text(value: Any) -> Any:
    """Trackers send every field as a string; some send numbers. Strings are what the protocol means."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _payload(fields: dict[str, Any]) -> tuple[str, Any, tuple[str, ...]]:
    """The event's contract, its data and the tracker fields that went into the data."""
    kind = fields.get("e")
    if kind == "ue":
        envelope, where = _json(fields, "ue_pr", "ue_px")
        inner = envelope.get("data") if isinstance(envelope, dict) else None
        if not isinstance(inner, dict) or "data" not in inner:
            raise _Problem(ErrorType.MALFORMED_EVENT, where, "shape",
                           'the self-describing event must be {"schema": "iglu:…/unstruct_event/…", '
                           '"data": {"schema": "iglu:…", "data": {…}}}')  # fmt: skip
        ref = iglu_reference(inner.get("schema"))
        if ref is None:
            message = f"{_cut(inner.get('schema'))} is not an Iglu URI iglu:vendor/name/jsonschema/M-R-A"
            raise _Problem(ErrorType.INVALID_SCHEMA_REF, f"{where}.data.schema", "schema", message)
        return ref, inner["data"], ()
    if kind in _ATOMIC:
        ref, mapping = _ATOMIC[kind]
        data = {name: _typed(fields[key], cast) for key, (name, cast) in mapping.items() if key in fields}
        return ref, data, tuple(k for k in mapping if k in fields)
    if kind is None:
        raise _Problem(ErrorType.MALFORMED_EVENT, "$.e", "required", "the event has no `e` (event type) field")
    raise _Problem(ErrorType.UNKNOWN_SCHEMA, "$.e", "enum",
                   f"Snowplow event type {_cut(kind)} has no contract: Charter maps ue, pv, pp and se "
                   "(send other events as self-describing events)")  # fmt: skip


def _contexts(fields: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    if "co" not in fields and "cx" not in fields:
        return ()
    envelope, where = _json(fields, "co", "cx")
    entities = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(entities, list):
        message = 'contexts must be {"schema": "iglu:…/contexts/…", "data": [{"schema": "iglu:…", "data": …}, …]}'
        raise _Problem(ErrorType.MALFORMED_EVENT, where, "shape", message)
    out = []
    for i, entity in enumerate(entities):
        ref = iglu_reference(entity.get("schema")) if isinstance(entity, dict) else None
        if ref is None or not isinstance(entity, dict) or "data" not in entity:
            message = f'context entity {i} is not {{"schema": "iglu:vendor/name/jsonschema/M-R-A", "data": …}}'
            raise _Problem(ErrorType.INVALID_SCHEMA_REF, f"{where}.data[{i}].schema", "schema", message)
        out.append((ref, entity["data"]))
    return tuple(out)


def _json(fields: dict[str, Any], plain: str, b64: str) -> tuple[Any, str]:
    """A JSON field the tracker sent as is (`plain`) or URL-safe base64 (`b64`), and where it was."""
    if plain in fields:
        text, where = fields[plain], f"$.{plain}"
    elif b64 in fields:
        where = f"$.{b64}"
        try:
            value = str(fields[b64])
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise _Problem(ErrorType.MALFORMED_EVENT, where, "base64", f"not URL-safe base64 of UTF-8: {exc}") from None
    else:
        raise _Problem(ErrorType.MALFORMED_EVENT, f"$.{plain}", "required", f"the event has neither {plain} nor {b64}")
    if not isinstance(text, str):
        raise _Problem(ErrorType.MALFORMED_EVENT, where, "type", "expected a JSON string")
    try:
        return _decoder.decode(text), where
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _Problem(ErrorType.MALFORMED_EVENT, where, "json", f"invalid JSON: {exc}") from None


def _typed(value: Any, cast: type) -> Any:
    """A numeric tracker field as a number; left as sent when it is not one (validation says why)."""
    if cast is str or not isinstance(value, str):
        return value
    try:
        number = cast(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _cut(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
