"""One keep-alive HTTP connection to the collector's `POST /v1/events` (stdlib http.client only).

The connection goes straight to the collector, or through an HTTP proxy: the one passed as `proxy`,
else (with `trust_env`) the one HTTP_PROXY/HTTPS_PROXY name, unless NO_PROXY lists the collector's
host, as urllib reads them. An http:// collector is reached with absolute URLs through the proxy, an
https:// one through a CONNECT tunnel, so TLS is still end to end.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

EVENTS_PATH = "/v1/events"
USER_AGENT = "charter-events-python"
# a keep-alive connection the server closed while idle fails like this before any answer
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
_OWN_HEADERS = frozenset({"content-type", "content-encoding", "content-length", "host"})


@dataclass(frozen=True, slots=True)
class Answer:
    """The collector's answer; `status` 0 means a network error, described by `error`."""

    status: int
    body: bytes = b""
    retry_after: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Proxy:
    host: str
    port: int
    auth: dict[str, str]  # Proxy-Authorization, from the proxy URL's user:password


class Transport:
    """Not thread-safe: one sender uses it at a time."""

    def __init__(
        self,
        endpoint: str,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint {endpoint!r} must be an http(s) URL, e.g. http://localhost:8080")
        path = url.path.rstrip("/")
        path = path if path.endswith(EVENTS_PATH) else path + EVENTS_PATH
        self.path = f"{path}?{url.query}" if url.query else path  # `?key=<write key>` is kept
        self._https, self._host, self._port = url.scheme == "https", url.hostname, url.port
        self._timeout = timeout
        self.headers = {"User-Agent": USER_AGENT, **_userinfo(url), **checked_headers(headers or {})}
        self.proxy = _proxy(proxy if proxy is not None else _from_env(url) if trust_env else None)
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        reused = self._conn is not None
        try:
            return self._post(body, headers)
        except _STALE:
            if not reused:
                return Answer(0, error="the collector closed the connection")
        except (OSError, http.client.HTTPException) as exc:
            return Answer(0, error=f"{type(exc).__name__}: {exc}")
        try:  # once, at once, on a fresh connection
            return self._post(body, headers)
        except (OSError, http.client.HTTPException) as exc:
            return Answer(0, error=f"{type(exc).__name__}: {exc}")

    def _post(self, body: bytes, headers: dict[str, str]) -> Answer:
        conn = self._conn or self._connect()
        target, extra = self.path, {}
        if self.proxy is not None and not self._https:  # a proxied http:// request names the whole URL
            netloc = self._host if self._port is None else f"{self._host}:{self._port}"
            target, extra = f"http://{netloc}{self.path}", self.proxy.auth
        try:
            conn.request("POST", target, body, {**self.headers, **extra, **headers})
            response = conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return Answer(response.status, data, retry_after(response.getheader("Retry-After")))

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        if self.proxy is None:
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        else:
            self._conn = cls(self.proxy.host, self.proxy.port, timeout=self._timeout)
            if self._https:
                self._conn.set_tunnel(self._host, self._port, headers=self.proxy.auth)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's extra headers, refused at once (ValueError) when they could never be sent."""
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValueError(f"header name {name!r} is not an HTTP token, e.g. 'Authorization'")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r} must be a str without CR, LF or NUL")
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"header {name!r} is set by the tracker itself; leave it out of `headers`")
    return dict(headers)


def _userinfo(url: urllib.parse.SplitResult) -> dict[str, str]:
    """`http://<key>@host`: the key as Basic credentials (the collector reads a write key there too)."""
    if url.username is None:
        return {}
    return {"Authorization": _basic(url.username, url.password)}


def _basic(user: str, password: str | None) -> str:
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _from_env(url: urllib.parse.SplitResult) -> str | None:
    """The proxy HTTP_PROXY/HTTPS_PROXY name for this URL, unless NO_PROXY excludes its host (on macOS and
    Windows, urllib falls back to the system's proxy settings when those variables are not set)."""
    host = url.hostname or ""
    if urllib.request.proxy_bypass(host if url.port is None else f"{host}:{url.port}"):
        return None
    return urllib.request.getproxies().get(url.scheme)


def _proxy(value: str | None) -> _Proxy | None:
    if not value:
        return None
    url = urllib.parse.urlsplit(value if "://" in value else f"http://{value}")
    if url.scheme != "http" or not url.hostname:
        raise ValueError(f"proxy {value!r} must be an http:// URL, e.g. http://proxy.internal:3128")
    auth = {} if url.username is None else {"Proxy-Authorization": _basic(url.username, url.password)}
    return _Proxy(url.hostname, url.port or 80, auth)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
