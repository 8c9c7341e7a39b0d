"""Limits on what a client controls: header size and count, read timeouts, connections.

uvicorn's httptools protocol has no limit on request headers (httptools buffers a header
value whole before handing it over, so a 200 MB header costs 200 MB) and no timeout on a
request that arrives slowly. `GuardedHttpToolsProtocol` adds both, and answers requests over
the connection limit with a JSON 503 + Retry-After instead of uvicorn's plain one. The body
read timeout is `BodyTimeoutMiddleware`, in the app, where the request is known.

Every refusal, here or in the app, is counted in `refused`, which /metrics exports as
`charter_requests_refused_total`. The count is per process because refusals at the
connection happen before any app sees the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

log = logging.getLogger("charter")

# (reason, HTTP status, write key name or ""): requests refused
refused: Counter[tuple[str, int, str]] = Counter()
# every (reason, status) a request is refused for without a write key's name: counted at 0 from the start
# (a key's own refusals, forbidden 403 and rate_limited 429, are named by collector.auth.WriteKeys.refusals)
REFUSALS = (
    ("header_too_large", 431), ("too_many_headers", 431), ("header_timeout", 408), ("body_timeout", 408),
    ("too_many_connections", 503), ("host_not_allowed", 400), ("admin_required", 401), ("admin_required", 403),
    ("unauthorized", 401), ("errors_truncated", 207),
)  # fmt: skip
MAX_ERRORS_LISTED = 100  # a 207 lists at most this many rejected events, then counts the rest
LINGER_S = 2.0  # after refusing a request, how long unread bytes are still read and dropped


def refuse(reason: str, status: int, key: str = "") -> None:
    refused[(reason, status, key)] += 1


def refusal_body(kind: str, message: str, resolution: str) -> bytes:
    return msgspec.json.encode({"accepted": 0, "rejected": 0, "error": {"type": kind, "message": message,
                                "resolution": resolution}})  # fmt: skip


def json_headers(body: bytes, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *extra]


def cap_errors(errors: list[Any]) -> dict[str, Any]:
    """The `errors` of a 207, at most MAX_ERRORS_LISTED, plus how many were left out."""
    if len(errors) <= MAX_ERRORS_LISTED:
        return {"errors": errors}
    refuse("errors_truncated", 207)
    return {"errors": errors[:MAX_ERRORS_LISTED], "errors_omitted": len(errors) - MAX_ERRORS_LISTED}


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    max_connections: int = 1000
    retry_after: int = 1


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the answer is already chosen."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header limits, a header timeout and a connection limit.

    Given to uvicorn as `http=functools.partial(GuardedHttpToolsProtocol, limits=...)`.
    """

    def __init__(self, *args: Any, limits: EdgeLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.limit_concurrency = None  # checked here instead, to answer with Retry-After
        self._in_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str] | None = None
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()  # a connection that never sends a request is cut off too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None or self._lingering:
            return  # refused: what the client still sends is read and dropped
        if self._in_headers:
            self._header_bytes += len(data)
            self._arm_header_timer()
        super().data_received(data)
        # Checked after parsing: the chunk that ends the headers may carry body bytes too.
        if self._in_headers and self._header_bytes > self.limits.max_header_bytes and self._refusal is None:
            self._refuse(431, "header_too_large", f"request headers over {self.limits.max_header_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = (431, "too_many_headers", f"more than {self.limits.max_headers} request headers")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm_header_timer()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:  # it all came in one chunk: data_received could not tell
            self._refusal = (431, "header_too_large", f"request headers over {self.limits.max_header_bytes} bytes")
            raise _Refused
        limit = self.limits.max_connections
        over = len(self.connections) > limit or len(self.tasks) >= limit
        if over:
            refuse("too_many_connections", 503)
            log.warning("refused a request: more than %d connections (503)", limit)
            self.app, real = self._busy, self.app
            try:
                super().on_headers_complete()
            finally:
                self.app = real
            self.cycle.transport = cast(asyncio.Transport, _LingeringClose(self, self.cycle))
            return
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = cast(asyncio.Transport, _LingeringClose(self, self.cycle))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers, self._header_bytes, self._header_count = True, 0, 0

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; a refusal raised in a callback answers as itself."""
        if self._refusal is None:
            super().send_400_response(msg)
            return
        status, reason, message = self._refusal
        self._refusal = None
        self._refuse(status, reason, message)

    def _refuse(self, status: int, reason: str, message: str) -> None:
        refuse(reason, status)
        log.warning("refused a request: %s (%d)", message, status)
        self._refusal = (status, reason, message)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is under way: it cannot be replaced, only cut off
            return
        kind = "timeout" if status == 408 else reason
        body = refusal_body(kind, message, _RESOLUTIONS[reason])
        head = [STATUS_LINE[status], b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]  # fmt: skip
        self.transport.write(b"".join(head) + body)
        self.close_lingering()

    def close_lingering(self) -> None:
        """Send the answer and a FIN, keep reading (and dropping) for a moment, then close.

        Closing a socket that still has unread request bytes makes the kernel answer with a
        reset, which can destroy the 408/431 before the client reads it.
        """
        if self._lingering or self.transport.is_closing():
            return
        self._lingering = True
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None and self._in_headers:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._in_headers:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_header_timer()  # a pipelined request waits for the response before it: not its fault
            return
        self._refuse(408, "header_timeout", f"request headers not complete within {self.limits.header_timeout} s")

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = refusal_body("overloaded", f"more than {self.limits.max_connections} connections are open",
                            "Nothing was acknowledged: retry after the Retry-After delay.")  # fmt: skip
        headers = json_headers(body, (b"retry-after", b"%d" % self.limits.retry_after), (b"connection", b"close"))
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _LingeringClose:
    """A response cycle's view of the transport: closing before the body was read lingers.

    uvicorn closes the connection after a `connection: close` response (a 408 for a slow
    body, a 503); the request bytes still on their way would turn that close into a reset.
    """

    def __init__(self, protocol: GuardedHttpToolsProtocol, cycle: RequestResponseCycle) -> None:
        self._protocol, self._cycle, self._transport = protocol, cycle, protocol.transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        if self._cycle.more_body:
            self._protocol.close_lingering()
        else:
            self._transport.close()


_RESOLUTIONS = {
    "header_too_large": "Send fewer and smaller request headers (cookies included).",
    "too_many_headers": "Send fewer and smaller request headers (cookies included).",
    "header_timeout": "Send the request headers at once; the connection was closed.",
}


class BodyTimeoutMiddleware:
    """Pure ASGI: a request body not read whole within `timeout` seconds is answered 408.

    A client that trickles its body (one byte a second) would otherwise hold a connection,
    a task and a partial buffer for as long as it likes. The deadline covers the whole body,
    not each chunk, so a slow trickle cannot keep resetting it.
    """

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout
        state = {"done": False, "timed_out": False, "started": False}

        async def guarded_receive() -> Message:
            if state["done"]:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                await _timed_out(scope, send, state, self.timeout)
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["done"] = True
            return message

        async def guarded_send(message: Message) -> None:
            if state["timed_out"]:
                return  # the 408 went out: the app's late answer goes nowhere
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except ClientDisconnect:
            if not state["timed_out"]:
                raise


async def _timed_out(scope: Scope, send: Send, state: dict[str, bool], timeout: float) -> None:
    state["timed_out"] = True
    refuse("body_timeout", 408)
    log.warning("refused a request: body not received within %s s (408)", timeout)
    if state["started"]:
        return
    body = refusal_body("timeout", f"the request body did not arrive within {timeout} s",
                        "Send the body at once; nothing from this request was kept. Retry.")  # fmt: skip
    headers = json_headers(body, (b"connection", b"close"))
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})
