"""Drop duplicates at the collector: per contract, within a time window, in bounded memory.

`x-contract.dedupe: {by: id | fingerprint | [field, ...], window: "10m"}`. The guarantee is
exactly this: the collectors that share one dedupe store forward at most one good event per
key per window. Without `--dedupe-store` the store is this process's memory (`Deduper`):
keys are kept in time buckets (a window is ten buckets), as 16-byte digests, and the total
is capped (`--dedupe-max-keys`); when the cap forces the oldest bucket out early, that is
counted and logged, and the window is shorter than configured until traffic drops. With
`--dedupe-store redis://…` every worker and instance asks Redis or Valkey
(`collector.dedupe_redis`), once per request for all of its keys.

A key is only reserved while its request waits for the sink: if the sink fails (503), the
reservation is released, so the client's retry is not taken for a duplicate.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import msgspec
from opentelemetry.metrics import Observation

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

log = logging.getLogger("charter.dedupe")
_canonical = msgspec.json.Encoder(order="sorted")
_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
BUCKETS = 10


class DedupeUnavailable(Exception):
    """The dedupe store did not answer: the request's events cannot be told apart from duplicates (503)."""

    retriable = True


class Claim(NamedTuple):
    """One event's dedupe key, as the store is asked to reserve it."""

    line: str  # namespace/name: windows are per contract line
    key: bytes  # the 16-byte digest of `dedupe_key`
    window: float  # seconds


class DedupeStore(Protocol):
    """Where dedupe keys live: this process's memory (`Deduper`) or a shared Redis/Valkey."""

    name: str
    errors: int  # requests the store did not answer
    failed_open: int  # events forwarded without dedupe because it did not (--dedupe-store-fail open)

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def claim(self, claims: list[Claim]) -> list[bool]: ...  # per claim: True if newly reserved
    async def release(self, claims: list[Claim]) -> None: ...  # the request's sink failed: not duplicates
    def problem(self) -> str | None: ...  # why the store cannot answer now (for /ready), or None


class DedupeSpec(msgspec.Struct, forbid_unknown_fields=True):
    """The `x-contract.dedupe` block."""

    by: Literal["id", "fingerprint"] | list[str] = "fingerprint"
    window: str = "10m"
    topic: str | None = None  # where duplicates are recorded; default the contract's dlq_topic


@functools.lru_cache(maxsize=1024)  # read once per deduped event
def parse_window(text: str) -> float:
    m = _DURATION.match(text)
    if m is None or int(m[1]) == 0:
        raise ValueError(f"window {text!r} must be a positive duration like 30s, 10m, 1h or 1d")
    return float(int(m[1]) * _SECONDS[m[2]])


def dedupe_key(spec: DedupeSpec, event_id: str | None, fp: str, data: Any) -> bytes | None:
    """The digest an event is deduplicated by; None when it has no key (no client id)."""
    if spec.by == "fingerprint":
        material = fp.encode()
    elif spec.by == "id":
        if event_id is None:
            return None  # a generated id is unique by construction
        material = event_id.encode()
    else:
        material = _canonical.encode([data.get(f) if isinstance(data, dict) else None for f in spec.by])
    return hashlib.blake2b(material, digest_size=16).digest()  # windows are per contract line


@dataclass
class _Bucket:
    start: float
    keys: set[bytes] = field(default_factory=set)


class Window:
    """Keys seen in the last `seconds`, in time buckets, at most `max_keys` of them."""

    def __init__(self, seconds: float, max_keys: int) -> None:
        self.seconds, self.max_keys = seconds, max_keys
        self.width = seconds / BUCKETS
        self.buckets: deque[_Bucket] = deque()
        self.size = 0
        self.evicted = 0

    def seen_or_add(self, key: bytes, now: float) -> bool:
        """True if `key` was seen within the window; otherwise remember it and return False."""
        self._expire(now)
        if any(key in b.keys for b in self.buckets):
            return True
        if not self.buckets or now >= self.buckets[-1].start + self.width:
            self.buckets.append(_Bucket(now))
        self.buckets[-1].keys.add(key)
        self.size += 1
        if self.size > self.max_keys:
            self._evict_oldest()
        return False

    def release(self, key: bytes) -> None:
        for b in self.buckets:
            if key in b.keys:
                b.keys.discard(key)
                self.size -= 1
                return

    def _expire(self, now: float) -> None:
        # a bucket goes once its newest possible key is older than the window
        while self.buckets and self.buckets[0].start + self.width + self.seconds <= now:
            self.size -= len(self.buckets.popleft().keys)

    def _evict_oldest(self) -> None:
        victim = self.buckets.popleft()
        if not self.buckets:
            self.buckets.append(_Bucket(victim.start))
        self.size -= len(victim.keys)
        self.evicted += len(victim.keys)
        log.warning(
            "dedupe cap of %d keys reached: forgot %d keys early (%d so far)",
            self.max_keys,
            len(victim.keys),
            self.evicted,
        )


class Deduper:
    """The in-process store: one window per contract line that asks for deduplication."""

    name = "memory"
    errors = failed_open = 0  # memory always answers

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.windows: dict[str, Window] = {}

    def window(self, line: str, seconds: float) -> Window:
        w = self.windows.get(line)
        if w is None:
            w = self.windows[line] = Window(seconds, self.max_keys)
        return w

    def take(self, claims: list[Claim], now: float) -> list[bool]:
        """Reserve each key not seen within its window; False for those that were (in order, so
        the second of two equal keys in one request is the duplicate)."""
        return [not self.window(c.line, c.window).seen_or_add(c.key, now) for c in claims]

    async def claim(self, claims: list[Claim]) -> list[bool]:
        return self.take(claims, time.monotonic())

    async def release(self, claims: list[Claim]) -> None:
        for c in claims:
            self.window(c.line, c.window).release(c.key)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def problem(self) -> str | None:
        return None


def make_store(url: str | None, max_keys: int, timeout: float, fail_open: bool) -> DedupeStore:
    """The store `--dedupe-store` names: None for this process's memory, `redis://` or `rediss://`."""
    if url is None:
        return Deduper(max_keys)
    from collector.dedupe_redis import RedisStore

    return RedisStore(url, timeout, fail_open)


def observe(store: DedupeStore, provider: MeterProvider) -> None:
    """The store's own metrics, beside the duplicates counted per contract."""
    from collector import __version__

    meter = provider.get_meter("charter", __version__)
    meter.create_observable_counter(
        "charter.dedupe.store.errors", [lambda _: [Observation(store.errors)]], "{request}",
        "Requests the dedupe store did not answer (503, or forwarded without dedupe with --dedupe-store-fail open)",
    )  # fmt: skip
    meter.create_observable_counter(
        "charter.dedupe.store.unchecked", [lambda _: [Observation(store.failed_open)]], "{event}",
        "Events forwarded without dedupe because the store did not answer (--dedupe-store-fail open)",
    )  # fmt: skip


def refuse_unshared(workers: int, store: str | None, deduping: list[str]) -> str | None:
    """Why `--workers N` cannot serve contracts that dedupe without a shared store, or None."""
    if workers == 1 or store is not None or not deduping:
        return None
    named = ", ".join(deduping[:3]) + (f" and {len(deduping) - 3} more" if len(deduping) > 3 else "")
    return (f"--workers {workers} with contracts that dedupe ({named}) needs a shared store: "
            "--dedupe-store redis://HOST:PORT/DB (or CHARTER_DEDUPE_STORE); each worker process would keep "
            "its own keys and forward duplicates")  # fmt: skip
