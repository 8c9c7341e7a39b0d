"""CloudEvents over HTTP (spec 1.0): `POST /v1/cloudevents` in structured mode
(`application/cloudevents+json`), batch mode (`application/cloudevents-batch+json`) or binary
mode (`ce-*` headers, the body is the data).

An event's contract comes from its `dataschema` (Charter's own schema URL,
`…/v1/schemas/<namespace>/<name>/<version>`, or a bare `<namespace>/<name>/<version>`), else
from the contract whose `x-contract.cloudevents_type` is its `type`. Its `data` is what the
contract governs; `id` is the event id, `time` its `sent_at`; every other attribute (`source`,
`type`, `subject`, extensions) is kept in `source.client`. With `--cloudevents-headers` its good
Kafka record carries the Kafka binding's `ce_*` headers, so CloudEvents consumers read it
natively (the record's value, Charter's envelope, is the event's data there).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import unquote

import msgspec
from starlette.responses import Response

from collector.contracts import Registry, parse_reference
from collector.decode import BodyError, media_type
from collector.errors import ErrorType
from collector.origin import Origin
from collector.protocols.base import Batch, Incoming, charter_event, encode, event_id, too_many
from collector.validate import Failure

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
_REQUIRED = ("id", "source", "specversion", "type")
_SCHEMA_URL = re.compile(r"(?:^|/v1/schemas/)([^/]+/[^/]+/[^/]+)$")
_decoder = msgspec.json.Decoder()


class CloudEventsInput:
    name = "cloudevents"

    def __init__(self, kafka_headers: bool = False) -> None:
        self.kafka_headers = kafka_headers
        self._types: tuple[Registry, dict[str, str]] | None = None

    def accepts(self, content_type: str | None) -> BodyError | None:
        return None  # binary mode carries the data's own content type: decode judges the request as a whole

    def scrub(self, body: bytes) -> bytes:
        return body

    def decode(self, incoming: Incoming, registry: Registry, max_events: int) -> Batch | BodyError:
        events = _events(incoming)
        if isinstance(events, BodyError):
            return events
        types = self.types(registry)
        items, origins = [], []
        for event in events:
            item, origin = self.translate(event, types)
            items.append(item)
            origins.append(origin)
        return too_many(items, origins, max_events) or Batch(items, origins)

    def reply(self, method: str, response: Response) -> Response:
        return response

    def types(self, registry: Registry) -> dict[str, str]:
        """`type` → the newest contract of the line declaring it in `x-contract.cloudevents_type`
        (the loader refuses two lines declaring one type)."""
        if self._types is None or self._types[0] is not registry:
            types = {c.meta.cloudevents_type: c.ref for c in registry if c.meta.cloudevents_type is not None}
            self._types = (registry, types)  # the registry is sorted oldest first: the newest wins
        return self._types[1]

    def translate(self, event: dict[str, Any], types: dict[str, str]) -> tuple[bytes, Origin]:
        raw = encode(event)
        attributes = {k: v for k, v in event.items() if k not in ("data", "data_base64")}
        eid, time = event_id(event.get("id")), event.get("time")
        time = time if isinstance(time, str) else None
        headers = _kafka_headers(attributes) if self.kafka_headers else ()
        try:
            schema, data = _contract(event, types), _data(event)
        except _Problem as problem:
            return charter_event("", None, eid, time), Origin(self.name, raw, attributes, failure=problem.failure)
        return charter_event(schema, data, eid, time), Origin(self.name, raw, attributes, headers=headers)


class _Problem(Exception):
    def __init__(self, kind: ErrorType, path: str, keyword: str, message: str) -> None:
        super().__init__(message)
        self.failure = (kind, Failure(path, keyword, message))


def _events(incoming: Incoming) -> list[dict[str, Any]] | BodyError:
    mt = media_type(incoming.content_type)
    if mt in (STRUCTURED, BATCH):
        try:
            body = _decoder.decode(incoming.body)
        except (msgspec.DecodeError, RecursionError) as exc:
            return BodyError(ErrorType.MALFORMED_BODY, 400, f"invalid JSON: {exc}")
        events = [body] if mt == STRUCTURED else body
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            shape = "one JSON object" if mt == STRUCTURED else "a JSON array of objects"
            return BodyError(ErrorType.MALFORMED_BODY, 400, f"a {mt} body is {shape}")
        if not events:
            return BodyError(ErrorType.MALFORMED_BODY, 400, "the batch holds no events")
        return events
    if "ce-specversion" in incoming.headers:
        return [_binary(incoming)]
    return BodyError(
        ErrorType.UNSUPPORTED_CONTENT_TYPE, 415,
        f"Content-Type {mt!r} without ce-specversion: send {STRUCTURED}, {BATCH}, or binary mode (ce-* headers)",
    )  # fmt: skip


def _binary(incoming: Incoming) -> dict[str, Any]:
    """A binary-mode event in its structured form: attributes from the ce-* headers
    (percent-decoded), the body as its data (JSON when the content type says so)."""
    event: dict[str, Any] = {k[3:]: unquote(v) for k, v in incoming.headers.items() if k.startswith("ce-")}
    if incoming.content_type:
        event["datacontenttype"] = incoming.content_type
    if _is_json(incoming.content_type):
        try:
            event["data"] = _decoder.decode(incoming.body) if incoming.body else None
        except (msgspec.DecodeError, RecursionError):
            event["data_base64"] = base64.b64encode(incoming.body).decode()
    elif incoming.body:
        event["data_base64"] = base64.b64encode(incoming.body).decode()
    return event


def _is_json(content_type: Any) -> bool:
    mt = media_type(content_type) if isinstance(content_type, str) else "application/json"
    return mt == "application/json" or mt.endswith("+json") or mt == "text/json"


def _contract(event: dict[str, Any], types: dict[str, str]) -> str:
    for name in _REQUIRED:
        if not isinstance(event.get(name), str) or not event[name]:
            raise _Problem(ErrorType.MALFORMED_EVENT, f"$.{name}", "required", f"`{name}` must be a non-empty string")
    if event["specversion"] != "1.0":
        raise _Problem(ErrorType.MALFORMED_EVENT, "$.specversion", "const", "specversion must be 1.0")
    dataschema = event.get("dataschema")
    if dataschema is not None:
        m = _SCHEMA_URL.search(dataschema) if isinstance(dataschema, str) else None
        if m is None or parse_reference(m[1]) is None:
            message = "dataschema must be Charter's schema URL …/v1/schemas/<namespace>/<name>/<version>"
            raise _Problem(ErrorType.INVALID_SCHEMA_REF, "$.dataschema", "schema", message)
        return m[1]
    ref = types.get(event["type"])
    if ref is None:
        raise _Problem(ErrorType.UNKNOWN_SCHEMA, "$.type", "schema",
                       f"no contract declares x-contract.cloudevents_type {event['type'][:120]!r}, "
                       "and the event has no dataschema")  # fmt: skip
    return ref


def _data(event: dict[str, Any]) -> Any:
    if "data_base64" not in event:
        return event.get("data")
    if not _is_json(event.get("datacontenttype")):
        message = f"data of type {event.get('datacontenttype')!r} has no contract: Charter checks JSON data"
        raise _Problem(ErrorType.MALFORMED_EVENT, "$.datacontenttype", "json", message)
    try:
        return _decoder.decode(base64.b64decode(str(event["data_base64"]), validate=True))
    except (binascii.Error, msgspec.DecodeError, RecursionError) as exc:
        raise _Problem(ErrorType.MALFORMED_EVENT, "$.data_base64", "json", f"not base64 of JSON: {exc}") from None


def _kafka_headers(attributes: dict[str, Any]) -> tuple[tuple[str, bytes], ...]:
    """The CloudEvents Kafka binding (binary mode): ce_<attribute>, and content-type for the value."""
    out = [(f"ce_{k}", str(v).encode()) for k, v in attributes.items() if k != "datacontenttype" and v is not None]
    return (*out, ("content-type", b"application/json"))
