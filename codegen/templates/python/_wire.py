"""Events on the wire: encoding and the local contract check, ids, timestamps and the request body."""

from __future__ import annotations

import datetime
import gzip
import random
import time
from dataclasses import dataclass

import msgspec

from ._check import check
from .event import Event
from .failures import InvalidEvent

ENVELOPE_BYTES = 120  # what `schema`, `id` and `sent_at` add to an event's data in the body
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Pending:
    """A checked event waiting to be sent; it keeps its id across retries."""

    schema: str
    id: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data) + ENVELOPE_BYTES


class _Envelope(msgspec.Struct):
    schema: str
    id: str
    sent_at: str
    data: msgspec.Raw


def schema_of(event: object) -> str:
    schema = getattr(type(event), "__charter_schema__", None)
    if not isinstance(event, Event) or not isinstance(schema, str):
        raise InvalidEvent(type(event).__name__, "not a generated event type (an Event subclass with a contract)")
    return schema


def encode(event: Event) -> Pending:
    """Encode the event's data and check it against its contract, as the collector will.

    A Struct's constructor checks no types or constraints; the check runs on the encoded JSON,
    with the collector's engine and the contract it loads (see `_check`), so what passes here
    passes the collector's schema check (`$.order_id: must be >= 1` otherwise).
    """
    schema = schema_of(event)
    try:
        data = _encoder.encode(event)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        raise InvalidEvent(schema, f"not encodable as JSON: {exc}") from None
    reason = check(schema, data)
    if reason is not None:
        raise InvalidEvent(schema, reason)
    return Pending(schema, uuid7(), data)


def body(batch: list[Pending], compress: bool) -> tuple[bytes, dict[str, str]]:
    """A JSON array of events, stamped with `sent_at` now (so each attempt says when it was sent)."""
    sent_at = now_rfc3339()
    raw = _encoder.encode([_Envelope(p.schema, p.id, sent_at, msgspec.Raw(p.data)) for p in batch])
    headers = {"Content-Type": "application/json"}
    if not compress:
        return raw, headers
    return gzip.compress(raw, compresslevel=6, mtime=0), {**headers, "Content-Encoding": "gzip"}


def uuid7() -> str:
    """A time-ordered UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version, variant, random bits."""
    ms = time.time_ns() // 1_000_000
    rand = random.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & (2**62 - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
