"""Dedupe keys shared through Redis or Valkey (`--dedupe-store redis://HOST:PORT/DB`).

Every worker and every instance that names the same store sees the same keys, so a payment
posted to two collectors is forwarded once. A request asks about all of its keys in one
round trip: a pipeline of `SET <key> <token> NX GET PX <window ms>`, one per event, answered
in order (the second of two equal keys in one request is the duplicate, as in memory).
`GET` makes a retried pipeline safe: a key that holds this request's own token was set by
an earlier attempt whose answer was lost, and is still this request's.

Keys are `charter:dedupe:<namespace>/<name>:<hex digest>`: windows are per contract line.
The window is the key's expiry, so Redis forgets keys by itself; give it `maxmemory` with
an eviction policy that spares keys (`noeviction`, or `volatile-ttl`: oldest first).

When the store does not answer (down, timed out, refused a command), the request is
answered 503 with Retry-After and nothing of it is written: never a silent double. With
`--dedupe-store-fail open` events are forwarded undeduplicated instead (logged, counted).
A release (the sink failed) that cannot reach the store is kept and sent ahead of the next
request's pipeline, so this collector never takes its own client's retry for a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from collector.dedupe import Claim, DedupeUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("charter.dedupe")
PREFIX = "charter:dedupe:"
SCHEMES = {"redis": "redis", "rediss": "rediss", "valkey": "redis", "valkeys": "rediss", "unix": "unix"}
PROBE_EVERY = 1.0  # while the store does not answer: how often a PING checks it is back (for /ready)
MAX_UNRELEASED = 100_000  # releases kept while the store is away; past this, the oldest keys just expire


def store_url(url: str) -> str:
    """The URL the client connects to (`valkey://` is `redis://`); ValueError with the fix if unusable."""
    parts = urlsplit(url)
    scheme = SCHEMES.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"--dedupe-store {redacted(url)!r} must be redis://HOST:PORT/DB (or rediss://, valkey://, "
                         "unix:///path.sock)")  # fmt: skip
    if scheme != "unix" and not parts.hostname:
        raise ValueError(f"--dedupe-store {redacted(url)!r} names no host: redis://HOST:PORT/DB")
    return scheme + url[len(parts.scheme) :]


def redacted(url: str) -> str:
    """The URL without its password, for logs and /ready."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def redis_key(claim: Claim) -> str:
    return f"{PREFIX}{claim.line}:{claim.key.hex()}"


class RedisStore:
    name = "redis"

    def __init__(self, url: str, timeout: float, fail_open: bool = False) -> None:
        self.url, self.timeout, self.fail_open = store_url(url), timeout, fail_open
        self.shown = redacted(url)
        self._client: Redis | None = None
        self._problem: str | None = None
        self._unreleased: list[str] = []
        self._probe: asyncio.Task[None] | None = None
        self.errors = 0  # requests the store did not answer
        self.failed_open = 0  # events forwarded without dedupe because the store was away (fail open)

    async def start(self) -> None:
        """Connect and PING: a store that cannot be reached at start stops the start, with the cause."""
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # one retry, on a fresh connection: a pooled connection may be dead after the store restarted
        self._client = Redis.from_url(
            self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 1)
        )
        try:
            await self._client.ping()
        except Exception as exc:
            await self.stop()
            raise DedupeUnavailable(f"cannot reach the dedupe store at {self.shown}: {_cause(exc)}") from exc
        log.info("dedupe store: %s", self.shown)

    async def stop(self) -> None:
        # the client goes first: the probe loop ends on it even if redis-py's `wait_for` (Python 3.11)
        # drops the cancel of a PING that finishes at the same moment
        client, self._client = self._client, None
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.wait({self._probe})
        if client is None:
            return
        if self._unreleased:  # last chance for releases the store missed
            try:
                await client.delete(*self._unreleased)
            except Exception as exc:
                log.warning("%d dedupe keys could not be released (%s); they expire with their window",
                            len(self._unreleased), _cause(exc))  # fmt: skip
        await client.aclose()

    async def claim(self, claims: list[Claim]) -> list[bool]:
        """One round trip for all of a request's keys; DedupeUnavailable when the store does not answer."""
        client = self._client
        if client is None:
            raise DedupeUnavailable("the dedupe store is not connected")
        token = os.urandom(12)
        keys = [redis_key(c) for c in claims]
        windows: dict[str, int] = {}  # each key once, with its window in ms
        for key, c in zip(keys, claims, strict=True):
            windows.setdefault(key, max(1, int(c.window * 1000)))
        releases, self._unreleased = self._unreleased, []
        try:
            async with client.pipeline(transaction=False) as pipe:
                if releases:
                    pipe.delete(*releases)
                for key, ms in windows.items():
                    pipe.set(key, token, px=ms, nx=True, get=True)
                answers = await pipe.execute(raise_on_error=False)
            if releases and isinstance(answers.pop(0), Exception):
                self._keep(releases)  # the claims still count; the release waits for the next request
            if failed := next((a for a in answers if isinstance(a, Exception)), None):
                raise failed
        except Exception as exc:
            self._keep(releases)
            return self._unanswered(claims, exc)
        self._answered()
        fresh = {key: old is None or old == token for key, old in zip(windows, answers, strict=True)}
        return [fresh.pop(key, False) for key in keys]  # a key's later events in this request are its duplicates

    async def release(self, claims: list[Claim]) -> None:
        """The request's sink failed: its keys are free again (kept for the next request if the store is away)."""
        keys = [redis_key(c) for c in claims]
        if not keys or self._client is None:
            return
        try:
            await self._client.delete(*keys)
        except Exception as exc:
            log.warning("dedupe store %s did not take a release (%s); it goes with the next request",
                        self.shown, _cause(exc))  # fmt: skip
            self._keep(keys)

    def problem(self) -> str | None:
        return self._problem

    def _answered(self) -> None:
        if self._problem is not None:
            log.info("dedupe store %s answers again", self.shown)
            self._problem = None

    async def _probing(self) -> None:
        """PING until the store answers, so /ready clears without waiting for traffic."""
        while self._problem is not None and self._client is not None:
            await asyncio.sleep(PROBE_EVERY)  # a probe's period, not a synchronisation
            with contextlib.suppress(Exception):
                await self._client.ping()
                self._answered()

    def _keep(self, keys: list[str]) -> None:
        self._unreleased = list(dict.fromkeys(keys + self._unreleased))[:MAX_UNRELEASED]

    def _unanswered(self, claims: list[Claim], exc: Exception) -> list[bool]:
        cause = _cause(exc)
        self.errors += 1
        if self._problem is None:
            log.warning("dedupe store %s does not answer: %s", self.shown, cause)
        self._problem = f"the dedupe store at {self.shown} does not answer: {cause}"
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probing())
        if not self.fail_open:
            raise DedupeUnavailable(self._problem) from exc
        self.failed_open += len(claims)
        log.warning("dedupe store away (--dedupe-store-fail open): %d events forwarded without dedupe", len(claims))
        return [True] * len(claims)


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
