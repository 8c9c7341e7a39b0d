"""`--access-log`: one JSON line per request, with nothing in it a client should not see logged.

The line holds the method, path, query string with any write key (`key=`) replaced, status,
duration and client address (masked with `--anonymize-ip`); for event posts also the events,
body bytes and write key name the app noted; never headers or bodies. The request id comes
with every log line (collector.logs), so an access line joins the others.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.annotate import anonymize_ip

log = logging.getLogger("charter.access")
SECRET_PARAMS = frozenset({"key", "token", "access_token"})
REDACTED = "[redacted]"


def redact_query(query: bytes) -> str:
    """The query string with the values of credential parameters replaced."""
    if not query:
        return ""
    text = query.decode("latin-1")
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(name.lower() in SECRET_PARAMS for name, _ in pairs):
        return text
    return urlencode([(n, REDACTED if n.lower() in SECRET_PARAMS else v) for n, v in pairs], safe="[]")


class AccessLogMiddleware:
    """Pure ASGI: log each HTTP request once its response has started (or it failed)."""

    def __init__(self, app: ASGIApp, anonymize: bool = False) -> None:
        self.app = app
        self.anonymize = anonymize

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._line(scope, status, time.perf_counter() - started)

    def _line(self, scope: Scope, status: int, seconds: float) -> None:
        client = scope.get("client")
        ip = client[0] if client else None
        if ip is not None and self.anonymize:
            ip = anonymize_ip(ip)
        noted = (scope.get("state") or {}).get("access") or {}  # events, bytes, key: set by the app
        log.info("request", extra={"method": scope["method"], "path": scope["path"],
                                   "query": redact_query(scope.get("query_string", b"")), "status": status,
                                   "ms": round(seconds * 1000, 3), "client": ip, **noted})  # fmt: skip
