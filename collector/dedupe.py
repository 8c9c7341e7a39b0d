"""Drop duplicates at the collector: per contract, within a time window, in bounded memory.

`x-contract.dedupe: {by: id | fingerprint | [field, ...], window: "10m"}`. The guarantee is
exactly this: one collector process forwards at most one good event per key per window.
Keys are kept in time buckets (a window is ten buckets), as 16-byte digests, and the total
is capped (`--dedupe-max-keys`); when the cap forces the oldest bucket out early, that is
counted and logged, and the window is shorter than configured until traffic drops.

A key is only reserved while its request waits for the sink: if the sink fails (503), the
reservation is released, so the client's retry is not taken for a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

log = logging.getLogger("charter.dedupe")
_canonical = msgspec.json.Encoder(order="sorted")
_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
BUCKETS = 10


class DedupeSpec(msgspec.Struct, forbid_unknown_fields=True):
    """The `x-contract.dedupe` block."""

    by: Literal["id", "fingerprint"] | list[str] = "fingerprint"
    window: str = "10m"
    topic: str | None = None  # where duplicates are recorded; default the contract's dlq_topic


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
    """One window per contract line that asks for deduplication."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.windows: dict[str, Window] = {}

    def window(self, line: str, spec: DedupeSpec) -> Window:
        w = self.windows.get(line)
        if w is None:
            w = self.windows[line] = Window(parse_window(spec.window), self.max_keys)
        return w

    def release(self, reserved: list[tuple[Window, bytes]]) -> None:
        for w, key in reserved:
            w.release(key)
