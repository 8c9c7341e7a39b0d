"""The collection endpoint: one path from an HTTP request to records in the sink, for every input.

`POST /v1/events` and each input protocol's routes (Snowplow, Segment, CloudEvents) come here:
read and inflate the body, identify the write key, decode the protocol's events, run the
pipeline, hand the records to the sink, and answer. A 2xx is sent only after the sink durably
accepted every record; anything that breaks that promise answers 503/429 with `Retry-After`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from collector.access_log import redact_query
from collector.annotate import now_rfc3339, source_of
from collector.auth import WriteKey, forbidden, retry_after, unauthorized
from collector.contracts import Registry
from collector.decode import BodyError, inflate
from collector.dedupe import DedupeUnavailable
from collector.errors import ErrorType
from collector.limits import cap_errors, refuse
from collector.pipeline import Context, Outcome, process, settle
from collector.protocols import CHARTER, Batch, Incoming, Input
from collector.protocols.base import LazyQuery
from collector.reject import reject_body, reject_items
from collector.route import Record
from collector.settings import Settings
from collector.sinks import Refused, SinkUnavailable
from collector.sinks.oversize import record_refused, reject_refused
from collector.state import Collector, json_response, state

log = logging.getLogger("charter")
Endpoint = Callable[[Request], Awaitable[Response]]


def _unavailable(status: int, message: str, retry_after: int) -> Response:
    body = {"error": {"type": "unavailable" if status == 503 else "overloaded", "message": message,
                      "resolution": "Nothing was acknowledged: retry after the Retry-After delay."}}  # fmt: skip
    return json_response(body, status, {"Retry-After": str(retry_after)})


async def post_events(request: Request) -> Response:
    return await _collect(request, CHARTER)


def input_endpoint(inp: Input) -> Endpoint:
    """An input protocol's endpoint: its decoding and answers around the one collection path."""

    async def endpoint(request: Request) -> Response:
        if request.method == "HEAD":  # a safe method (RFC 9110): a probe of the pixel is answered, never collected
            return inp.reply("HEAD", json_response({"accepted": 0, "rejected": 0}))
        return inp.reply(request.method, await _collect(request, inp))

    return endpoint


class CollectionRoutes:
    """Pure ASGI, innermost: the collection endpoints, answered without Starlette's router and its
    per-request wrappers (a measurable share of a single-event request). Every middleware above
    still applies; any other path or method goes on to the router."""

    def __init__(self, app: ASGIApp, endpoints: dict[tuple[str, str], Endpoint]) -> None:
        self.app, self.endpoints = app, endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get((scope["path"], scope["method"])) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


async def _collect(request: Request, inp: Input) -> Response:
    started = time.perf_counter()
    c = state(request)
    s = c.settings
    if c.inflight >= s.max_inflight_events:
        return _unavailable(429, f"{c.inflight} events are waiting for the sink", s.retry_after)
    client_ip = request.client.host if request.client else None
    headers = _headers(request.scope)
    source = source_of(client_ip, headers, s.record_headers, s.anonymize_ip)
    ctx = Context(now_rfc3339(), source, c.privacy, c.dedupe)
    body, error = await _read_body(request, headers, s, inp)
    if request.method == "GET":  # a pixel's event is its query string: what a refused request records
        body = redact_query(request.scope["query_string"]).encode()
    body = inp.scrub(body)  # no credential in what is decoded or recorded
    query = LazyQuery(request.scope["query_string"])
    key = c.auth.identify(headers, query) if c.auth is not None else None
    if c.auth is not None and key is None:
        return await _unauthorized(c, body, ctx)
    source.key = key.name if key is not None else None
    request.state.access = {"bytes": len(body), "key": source.key}  # for --access-log
    registry = c.registry  # one set for the whole request, even if a reload swaps it meanwhile
    incoming = Incoming(request.method, body, headers.get("content-type"), headers, query)
    batch = error if error is not None else inp.decode(incoming, registry, s.max_events)
    if not isinstance(batch, BodyError):
        request.state.access["events"] = len(batch.items)
    if isinstance(batch, BodyError):
        c.telemetry.request(len(body), None)
        return await _refuse_body(c, batch, body, ctx)
    if key is not None and (refusal := await _within_key(c, key, batch, body, ctx)) is not None:
        return refusal
    outcome = process(batch.items, registry, ctx, batch.origins)
    if outcome.pending and not await _settle(c, outcome, registry):
        return _unavailable(503, "the dedupe store did not answer; see the collector log", s.retry_after)
    written: list[tuple[Refused, Record]] = []
    if not await _send(c, outcome.records, written):
        await c.dedupe.release(outcome.reserved)  # the client will retry: its events are not duplicates
        return _unavailable(503, "the sink did not accept the events; see the collector log", s.retry_after)
    if written:  # records the sink can never take (too large) were recorded as too_large: a 207
        reject_refused(outcome, written, registry)
    c.telemetry.record(outcome.tally, outcome.failures)
    elapsed = time.perf_counter() - started
    c.telemetry.request(len(body), elapsed)
    if log.isEnabledFor(logging.DEBUG):  # counts only: never event data
        log.debug("events", extra={"accepted": outcome.accepted, "rejected": len(outcome.rejections),
                                   "bytes": len(body), "ms": round(elapsed * 1000, 3)})  # fmt: skip
    if not outcome.rejections:
        return json_response({"accepted": outcome.accepted, "rejected": 0})
    body_out = {"accepted": outcome.accepted, "rejected": len(outcome.rejections), **cap_errors(outcome.rejections)}
    return json_response(body_out, 207)


async def _settle(c: Collector, outcome: Outcome, registry: Registry) -> bool:
    """Ask the shared dedupe store about all of the request's keys at once; False (503) if it did not answer."""
    try:
        fresh = await c.dedupe.claim([p.claim for p in outcome.pending])
    except DedupeUnavailable as exc:
        log.warning("dedupe store unavailable, answered 503: %s", exc)
        return False
    settle(outcome, fresh, registry)
    return True


async def _send(c: Collector, records: list[Record], written: list[tuple[Refused, Record]] | None = None) -> bool:
    """Hand records to the sink; False (and counted) when it could not take them durably.

    A record the sink refuses for good (too large) is replaced by its too_large bad record;
    `written` gets each such record with its stand-in.
    """
    t = c.telemetry
    c.inflight += len(records)
    t.inflight = c.inflight
    started = time.perf_counter()
    try:
        refused = await c.sink.send(records)
        if refused:
            stand_ins = await record_refused(c.sink, refused, c.registry)
            written = written if written is not None else []
            written += stand_ins
    except SinkUnavailable as exc:
        t.sink(None)
        log.warning("sink unavailable, answered 503: %s", exc)
        return False
    finally:
        c.inflight -= len(records)
        t.inflight = c.inflight
    t.sink(time.perf_counter() - started)
    return True


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, the first of a repeated one (as Starlette's
    `Headers.get` answers, without its scan of the whole list on every lookup)."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers


async def _read_body(
    request: Request, headers: dict[str, str], s: Settings, inp: Input
) -> tuple[bytes, BodyError | None]:
    """Read at most the byte limit; then refuse content types the input does not take and inflate gzip."""
    error = inp.accepts(headers.get("content-type"))
    chunks: list[bytes] = []
    size = 0
    while True:  # the ASGI messages themselves: `Request.stream()` is an async generator per request
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > s.max_body_bytes:
            too_large = BodyError(ErrorType.TOO_LARGE, 413, f"body exceeds the limit of {s.max_body_bytes} bytes")
            return b"".join(chunks), too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if error is not None:
        return body, error
    inflated = inflate(body, headers.get("content-encoding"), s.max_body_bytes)
    if isinstance(inflated, BodyError):
        return body, inflated
    return inflated, None


async def _refuse_body(c: Collector, error: BodyError, body: bytes, ctx: Context) -> Response:
    """Record the unusable body as a bad event, then answer its 4xx (503 if it could not be recorded)."""
    records = reject_items(error, ctx, c.registry) if error.items else [reject_body(error, body, ctx, c.registry)]
    record = records[0]
    if not await _send(c, records):
        return _unavailable(503, "the sink did not accept the record; see the collector log", c.settings.retry_after)
    kind = error.type.value
    failure = {"schema_key": "unknown/unknown/unknown", "at": ctx.collected_at, "id": record.key.decode(),
               "type": kind, "path": "$", "keyword": "", "message": error.message, "excerpt": "",
               "record": record.value}  # fmt: skip
    c.telemetry.record(Counter({("unknown", "unknown", "unknown", "rejected", kind): 1}), [failure])
    info = {"type": error.type.value, "message": error.message, "resolution": error.type.resolution}
    return json_response(
        {"accepted": 0, "rejected": 0, "error": info, "recorded_as": record.key.decode()}, error.status
    )


async def _unauthorized(c: Collector, body: bytes, ctx: Context) -> Response:
    """401 for the whole request: no valid write key. The body is recorded (protected) all the same."""
    refuse("unauthorized", 401)
    error = unauthorized("no valid write key (Authorization: Bearer <key>, Basic with the key as user, or ?key=)")
    response = await _refuse_body(c, error, body, ctx)
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="charter"'
    return response


async def _within_key(c: Collector, key: WriteKey, batch: Batch, body: bytes, ctx: Context) -> Response | None:
    """403 (recorded) when an event, or an entity attached to one, names a contract outside the key's
    scope; 429 over the key's rate."""
    assert c.auth is not None
    attached = [ref for origin in batch.origins or () for ref, _ in origin.entities]
    ref = c.auth.out_of_scope(key, batch.items, attached)
    if ref is not None:
        refuse("forbidden", 403, key.name)
        return await _refuse_body(c, forbidden(key, ref), body, ctx)
    wait = key.bucket.take(len(batch.items)) if key.bucket is not None else 0.0
    if not wait:
        return None
    refuse("rate_limited", 429, key.name)
    error = {"type": "rate_limited", "message": f"write key {key.name!r} is over its rate limit",
             "resolution": "Nothing was acknowledged: retry after the Retry-After delay."}  # fmt: skip
    return json_response({"error": error}, 429, {"Retry-After": str(retry_after(wait))})
