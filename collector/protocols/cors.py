"""CORS with credentials for browser trackers (Snowplow's send with `credentials: include`).

A credentialed response must name the page's origin (never `*`) and allow credentials, else
the browser hides the answer and the tracker sends the events again. Pure ASGI, for the
tracker paths only; every other path keeps the `--cors-origins` policy.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALLOWED_HEADERS = "Content-Type, SP-Anonymous, Authorization"


class CredentialedCorsMiddleware:
    def __init__(self, app: ASGIApp, paths: frozenset[str], origins: tuple[str, ...] = ()) -> None:
        self.app, self.paths, self.origins = app, paths, origins

    def _allowed(self, origin: str) -> bool:
        """Like a Snowplow collector, any origin unless --cors-origins lists the allowed ones."""
        return not self.origins or "*" in self.origins or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or not self._allowed(origin):
            await self.app(scope, receive, send)
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"), (b"vary", b"Origin")]  # fmt: skip
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            requested = headers.get("access-control-request-headers", _ALLOWED_HEADERS)
            cors += [(b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                     (b"access-control-allow-headers", requested.encode("latin-1")),
                     (b"access-control-max-age", b"3600"), (b"content-length", b"0")]  # fmt: skip
            await send({"type": "http.response.start", "status": 200, "headers": cors})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":  # ours replace --cors-origins' (no credentials there)
                kept = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-")]
                message["headers"] = [*kept, *cors]
            await send(message)

        await self.app(scope, receive, send_with_cors)
