"""Who may reach what: the Host allow-list, operator pages, and the dashboard's browser headers.

Operator pages (`/v1/stats`, `/v1/stats/bad`, `/ui`, the memory sink's endpoints) show other clients' rejected
events, so they need `--admin-token` (`Authorization: Bearer <token>`; a browser opening /ui
may send it as the password of HTTP Basic, which it then repeats for the page's own calls),
or are answered only to loopback clients when no token is set. `--allowed-hosts` refuses
requests for any other Host name, which defeats DNS rebinding: a hostile page whose domain
re-resolves to the collector still sends its own domain as Host.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import re
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from collector.limits import json_headers, refusal_body, refuse

OPERATOR_PATHS = frozenset({"/v1/stats", "/v1/stats/bad", "/ui"})
OPERATOR_PREFIXES = ("/v1/memory/",)
_REALM = b'Bearer realm="charter operator", Basic realm="charter operator"'


def is_operator_path(path: str) -> bool:
    return path in OPERATOR_PATHS or path.startswith(OPERATOR_PREFIXES)


def is_loopback(host: str | None) -> bool:
    """A loopback address; None (a Unix socket) is local too. Names are not: they can be spoofed."""
    if host is None:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    """`Host` (port stripped) against names like `collector.acme.com`, `*.acme.com` or `*`."""
    host = _strip_port(host_header.strip().lower())
    if not host:
        return False
    for pattern in allowed:
        p = pattern.lower()
        if p == "*" or p == host or (p.startswith("*.") and host.endswith(p[1:])):
            return True
    return False


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class AllowedHostsMiddleware:
    """Pure ASGI: 400 for a request whose Host is not on `--allowed-hosts`."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.allowed:
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        refuse("host_not_allowed", 400)
        body = refusal_body("host_not_allowed", "the Host header names a host this collector does not serve",
                            "Send requests to one of the collector's configured host names.")  # fmt: skip
        await _answer(send, 400, body, [])


class OperatorAccessMiddleware:
    """Pure ASGI: operator pages need the admin token, or a loopback client when none is set."""

    def __init__(self, app: ASGIApp, admin_token: str | None) -> None:
        self.app = app
        self.digest = hashlib.sha256(admin_token.encode()).digest() if admin_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_operator_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.digest is None:
            client = scope.get("client")
            if is_loopback(client[0] if client else None):
                await self.app(scope, receive, send)
                return
            refuse("admin_required", 403)
            body = refusal_body("forbidden", "operator pages answer loopback clients only when no admin token is set",
                                "Start the collector with --admin-token (CHARTER_ADMIN_TOKEN) and send it as "
                                "Authorization: Bearer <token>, or call from the collector's host.")  # fmt: skip
            await _answer(send, 403, body, [])
            return
        if self._token_ok(dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")):
            await self.app(scope, receive, send)
            return
        refuse("admin_required", 401)
        body = refusal_body("unauthorized", "operator pages need the admin token",
                            "Send Authorization: Bearer <admin token> (the value of --admin-token).")  # fmt: skip
        await _answer(send, 401, body, [(b"www-authenticate", _REALM)])

    def _token_ok(self, authorization: str) -> bool:
        assert self.digest is not None
        scheme, _, value = authorization.strip().partition(" ")
        token = value.strip()
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            token = password or user
        elif scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self.digest)


async def _answer(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": json_headers(body, *extra)})
    await send({"type": "http.response.body", "body": body})


@functools.lru_cache(maxsize=4)
def page_headers(page: Path) -> dict[str, str]:
    """Headers for a static page: a CSP that allows exactly its own inline script and style."""
    html = page.read_text(encoding="utf-8")
    scripts = " ".join(_hashes(html, "script")) or "'none'"
    styles = " ".join(_hashes(html, "style")) or "'none'"
    csp = (f"default-src 'none'; script-src {scripts}; style-src {styles}; connect-src 'self'; "
           "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")  # fmt: skip
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _hashes(html: str, tag: str) -> list[str]:
    bodies = re.findall(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", html, flags=re.DOTALL | re.IGNORECASE)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies]
