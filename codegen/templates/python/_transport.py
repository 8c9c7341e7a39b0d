"""One keep-alive HTTP connection to the collector's `POST /v1/events` (stdlib http.client only)."""

from __future__ import annotations

import email.utils
import http.client
import time
import urllib.parse
from dataclasses import dataclass

EVENTS_PATH = "/v1/events"
USER_AGENT = "charter-events-python"
# a keep-alive connection the server closed while idle fails like this before any answer
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True, slots=True)
class Answer:
    """The collector's answer; `status` 0 means a network error, described by `error`."""

    status: int
    body: bytes = b""
    retry_after: float | None = None
    error: str | None = None


class Transport:
    """Not thread-safe: one sender uses it at a time."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint {endpoint!r} must be an http(s) URL, e.g. http://localhost:8080")
        path = url.path.rstrip("/")
        self.path = path if path.endswith(EVENTS_PATH) else path + EVENTS_PATH
        self._https, self._host, self._port = url.scheme == "https", url.hostname, url.port
        self._timeout = timeout
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
        try:
            conn.request("POST", self.path, body, {**headers, "User-Agent": USER_AGENT})
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
        self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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
