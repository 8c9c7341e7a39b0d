"""Segment's HTTP tracking API: `POST /v1/track|identify|page|screen|group|alias|batch`.

What Segment's libraries send, with the write key as HTTP Basic user name. A contract
claims calls with `x-contract.segment`: `{type: track, event: "Order Completed"}` governs
that event's `properties`; `{type: page}` / `{type: screen}` (optionally with `event`: the
page's name) their `properties`; `{type: identify}` / `{type: group}` their `traits`;
`{type: alias}` `{previousId, userId}`. A call no contract claims is rejected (the dead-letter
topic) or, with `--unplanned accept`, forwarded as `com.segment/unplanned`, like a tracking
plan that does not block unplanned events. `messageId` is the event id, `sentAt` its
`sent_at`; the rest of the call (ids, `timestamp`, `context` without `traits` and `ip`) is
kept in `source.client`. Clients get `{"success": true}`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

import msgspec
from starlette.responses import Response

from collector.annotate import anonymize_ip
from collector.contracts import Registry
from collector.decode import BodyError, check_content_type
from collector.errors import ErrorType
from collector.origin import Origin
from collector.protocols.base import Batch, Incoming, charter_event, encode, event_id, too_many
from collector.validate import Failure

CALLS = ("track", "identify", "page", "screen", "group", "alias")
UNPLANNED = "com.segment/unplanned/1"
Unplanned = Literal["reject", "accept"]
_CLIENT = ("type", "event", "name", "category", "userId", "anonymousId", "groupId", "previousId",
           "timestamp", "originalTimestamp", "sentAt", "receivedAt")  # fmt: skip
_PRIVATE_CONTEXT = frozenset({"traits", "ip"})  # traits may hold what contracts protect; ip obeys --anonymize-ip
_decoder = msgspec.json.Decoder()
_WRITE_KEY = re.compile(rb'"writeKey"\s*:\s*"(?:[^"\\]|\\.)*"')


class SegmentInput:
    name = "segment"

    def __init__(self, call: str | None, unplanned: Unplanned = "reject", anonymize: bool = False) -> None:
        self.call, self.unplanned = call, unplanned  # call None: /v1/batch, each message says its type
        self.anonymize = anonymize
        self._plans: tuple[Registry, dict[tuple[str, str | None], str]] | None = None

    def accepts(self, content_type: str | None) -> BodyError | None:
        return check_content_type(content_type)

    def scrub(self, body: bytes) -> bytes:
        """Segment's libraries put the write key in the body too (`writeKey`): never kept."""
        return _WRITE_KEY.sub(b'"writeKey": "[redacted]"', body)

    def decode(self, incoming: Incoming, registry: Registry, max_events: int) -> Batch | BodyError:
        messages = _messages(incoming.body, self.call)
        if isinstance(messages, BodyError):
            return messages
        plans = self.plans(registry)
        items, origins = [], []
        for message in messages:
            item, origin = self.translate(message, plans)
            items.append(item)
            origins.append(origin)
        return too_many(items, origins, max_events) or Batch(items, origins)

    def reply(self, method: str, response: Response) -> Response:
        """What Segment clients expect: 200 `{"success": true}` once the batch is written (its
        rejected calls in the dead-letter topic); an error's `code` and `message` otherwise."""
        body = _decoder.decode(response.body) if response.body else {}
        if response.status_code in (200, 207):
            return _json({"success": True, **body}, 200)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            body = {"success": False, "code": error.get("type"), "message": error.get("message"), **body}
        return _json(body, response.status_code, response.headers)

    def plans(self, registry: Registry) -> dict[tuple[str, str | None], str]:
        """(call type, event or page name or None) → the contract that claims it (the newest
        version of its line; the loader refuses two lines claiming one call)."""
        if self._plans is None or self._plans[0] is not registry:
            claims: dict[tuple[str, str | None], str] = {
                (c.meta.segment.type, c.meta.segment.event): c.ref for c in registry if c.meta.segment
            }
            self._plans = (registry, claims)  # the registry is sorted oldest first: the newest wins
        return self._plans[1]

    def translate(self, message: dict[str, Any], plans: dict[tuple[str, str | None], str]) -> tuple[bytes, Origin]:
        """One call → its Charter event and origin."""
        if self.anonymize:
            message = _anonymized(message)
        raw, call = encode(message), self.call or message.get("type")
        mid, sent_at = event_id(message.get("messageId")), message.get("sentAt")
        sent_at = sent_at if isinstance(sent_at, str) else None
        origin = Origin(self.name, raw, _client(message, call))
        problem = _problem(call, message) or self._unplanned(str(call), message, plans)
        if problem is not None:
            return charter_event("", None, mid, sent_at), dataclasses.replace(origin, failure=problem)
        ref = _claim(str(call), message, plans)
        data = _data(str(call), message)
        if ref is None:  # --unplanned accept
            ref, data = UNPLANNED, {"type": call, "event": _name(str(call), message), "data": data}
        return charter_event(ref, data, mid, sent_at), origin

    def _unplanned(
        self, call: str, message: dict[str, Any], plans: dict[tuple[str, str | None], str]
    ) -> tuple[ErrorType, Failure] | None:
        """With --unplanned reject, why a call no contract claims is rejected."""
        if self.unplanned == "accept" or _claim(call, message, plans) is not None:
            return None
        name = _name(call, message)
        what = f"{call} {name!r}" if name is not None else call
        message_text = (f"no contract claims the Segment {what} call: declare it with x-contract.segment, "
                        "or run with --unplanned accept")  # fmt: skip
        return ErrorType.UNKNOWN_SCHEMA, Failure("$.event" if call == "track" else "$.type", "schema", message_text)


def _name(call: str, message: dict[str, Any]) -> str | None:
    """A track call's event name, a page's or screen's name."""
    name = message.get("event") if call == "track" else message.get("name")
    return name if isinstance(name, str) else None


def _claim(call: str, message: dict[str, Any], plans: dict[tuple[str, str | None], str]) -> str | None:
    """The contract that claims a call: by its name, else (not for track) the one for all calls of its type."""
    ref = plans.get((call, _name(call, message)))
    return ref if ref is not None or call == "track" else plans.get((call, None))


def _client(message: dict[str, Any], call: object) -> dict[str, Any]:
    client = {k: message[k] for k in _CLIENT if k in message}
    if isinstance(call, str):
        client["type"] = call  # a single-call endpoint's messages may leave it to the path
    context = message.get("context")
    if isinstance(context, dict):
        client["context"] = {k: v for k, v in context.items() if k not in _PRIVATE_CONTEXT}
    return client


def _anonymized(message: dict[str, Any]) -> dict[str, Any]:
    """The call with its context.ip truncated, as --anonymize-ip says."""
    context = message.get("context")
    if isinstance(context, dict) and isinstance(context.get("ip"), str):
        return {**message, "context": {**context, "ip": anonymize_ip(context["ip"])}}
    return message


def _messages(body: bytes, call: str | None) -> list[dict[str, Any]] | BodyError:
    try:
        obj = _decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as exc:
        return BodyError(ErrorType.MALFORMED_BODY, 400, f"invalid JSON: {exc}")
    if call is not None:
        if not isinstance(obj, dict):
            return BodyError(ErrorType.MALFORMED_BODY, 400, f"a /v1/{call} body is one JSON object")
        return [obj]
    batch = obj.get("batch") if isinstance(obj, dict) else None
    if not isinstance(batch, list) or not all(isinstance(m, dict) for m in batch):
        return BodyError(ErrorType.MALFORMED_BODY, 400, 'a /v1/batch body is {"batch": [{…}, …]}')
    if not batch:
        return BodyError(ErrorType.MALFORMED_BODY, 400, "the batch holds no calls")
    shared = {k: obj[k] for k in ("context", "integrations", "sentAt") if k in obj}
    return [{**shared, **m} for m in batch]  # the batch's context and sentAt apply to each call


def _problem(call: Any, message: dict[str, Any]) -> tuple[ErrorType, Failure] | None:
    """What Segment's API refuses in a call: an unknown type, or no user."""
    if call not in CALLS:
        return ErrorType.MALFORMED_EVENT, Failure("$.type", "enum", f"type must be one of {', '.join(CALLS)}")
    if not message.get("userId") and not message.get("anonymousId"):
        return ErrorType.MALFORMED_EVENT, Failure("$", "required", "a Segment call needs userId or anonymousId")
    if call == "track" and not isinstance(message.get("event"), str):
        return ErrorType.MALFORMED_EVENT, Failure("$.event", "required", "a track call needs its event name")
    return None


def _data(call: str, message: dict[str, Any]) -> Any:
    """The part of a call its contract governs."""
    if call in ("identify", "group"):
        return message.get("traits", {})
    if call == "alias":
        return {k: message[k] for k in ("previousId", "userId") if k in message}
    return message.get("properties", {})


def _json(body: Any, status: int, headers: Any = None) -> Response:
    response = Response(encode(body), status, media_type="application/json")
    for name in ("retry-after", "www-authenticate"):
        if headers is not None and name in headers:
            response.headers[name] = headers[name]
    return response
