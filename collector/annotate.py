"""Build the good and bad envelopes: ids, timestamps, provenance and the content fingerprint."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import random
import re
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from collector import __version__
from collector.errors import ErrorType
from collector.validate import Failure

# key-sorted, and decimals (numbers a double cannot hold, decoded exactly) written as numbers
_canonical = msgspec.json.Encoder(order="sorted", decimal_format="number")
_encoder = msgspec.json.Encoder()


class Source(msgspec.Struct, omit_defaults=True):
    ip: str | None = None
    user_agent: str | None = None
    headers: dict[str, str] | None = None  # only those on the --record-headers allow-list
    key: str | None = None  # the write key's name (with --auth); never the key itself
    protocol: str | None = None  # the input protocol, when not Charter's own (snowplow, segment, cloudevents)
    client: dict[str, Any] | None = None  # that protocol's own fields (tracker, app, user ids, client times)
    traceparent: str | None = None  # the client's W3C trace context, so a record joins its trace


NEVER_RECORDED = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$")


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a valid W3C `traceparent` header, else None (never a value from a broken one)."""
    m = _TRACEPARENT.match(traceparent or "")
    if m is None or m[1] == "ff" or (m[1] == "00" and m[4]) or not m[2].strip("0") or not m[3].strip("0"):
        return None
    return m[2]


def anonymize_ip(ip: str) -> str:
    """Truncate an address to its network: IPv4 /24, IPv6 /48 (what analytics tools call IP masking)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


def source_of(ip: str | None, headers: Mapping[str, str], allow: tuple[str, ...], anonymize: bool) -> Source:
    """Provenance for the envelope: the client address and the allow-listed request headers only."""
    if ip is not None and anonymize:
        ip = anonymize_ip(ip)
    extra = {h: headers[h] for h in allow if h != "user-agent" and h in headers}
    ua = headers.get("user-agent") if "user-agent" in allow else None
    tp = headers.get("traceparent")
    return Source(ip, ua, extra or None, traceparent=tp if trace_id(tp) else None)


class CollectorInfo(msgspec.Struct):
    name: str
    version: str
    host: str


COLLECTOR = CollectorInfo("charter", __version__, socket.gethostname())


class GoodEnvelope(msgspec.Struct):
    id: str
    schema: str
    namespace: str
    name: str
    version: str
    data: Any
    sent_at: datetime.datetime | None
    collected_at: str
    fingerprint: str
    source: Source
    collector: CollectorInfo
    flags: list[str] | UnsetType = UNSET  # rules with on_failure: flag that this event broke
    contexts: list[Entity] | UnsetType = UNSET  # entities attached to the event, each valid against its own contract


class GoodOut(msgspec.Struct, gc=False):
    """How a good envelope is written: `GoodEnvelope`'s fields in its order, with the parts that
    are already JSON (the canonical data, the request's source, the collector) passed through."""

    id: str
    schema: str
    namespace: str
    name: str
    version: str
    data: msgspec.Raw | Any
    sent_at: datetime.datetime | None
    collected_at: str
    fingerprint: str
    source: msgspec.Raw
    collector: msgspec.Raw
    flags: list[str] | UnsetType = UNSET
    contexts: list[Entity] | UnsetType = UNSET


class Entity(msgspec.Struct):
    """An entity attached to an event (a Snowplow context): its contract and its data."""

    schema: str
    data: Any


class FailureOut(msgspec.Struct, omit_defaults=True):
    path: str
    keyword: str
    message: str
    schema_path: str = ""  # `#/properties/amount/minimum`: where in the contract the failed keyword is


class ErrorInfo(msgspec.Struct, omit_defaults=True):
    type: ErrorType
    resolution: str
    failures: list[FailureOut]
    message: str | None = None


class BadEnvelope(msgspec.Struct):
    id: str
    collected_at: str
    schema: str | None
    error: ErrorInfo
    payload: Any
    source: Source
    collector: CollectorInfo


def error_info(type: ErrorType, failures: list[Failure], message: str | None = None) -> ErrorInfo:
    outs = [FailureOut(f.path, f.keyword, f.message, f.schema_path) for f in failures]
    return ErrorInfo(type, type.resolution, outs, message)


# `canonical(data)`: `data` as JSON with every object's keys sorted: what the fingerprint hashes, and
# what a good envelope carries when no field is protected (encoded once for both). The encoder's own
# method, not a wrapper: it runs once per event.
canonical: Callable[[Any], bytes] = _canonical.encode


def fingerprint(ref: str, data: Any) -> str:
    """Same contract and same data (whatever the key order or client id) → same fingerprint."""
    return fingerprint_of(ref.encode(), canonical(data))


def fingerprint_of(ref: bytes, canonical_data: bytes) -> str:
    """`fingerprint` from the contract reference's bytes and the data's canonical JSON: BLAKE2b-128
    of `ref \n data`, continued from the contract's prefix hashed once (a fresh `blake2b(...,
    digest_size=16)` costs more in argument parsing than in hashing a small event)."""
    prefix = _prefixes.get(ref)
    if prefix is None:
        prefix = _prefixes[ref] = hashlib.blake2b(ref + b"\n", digest_size=16)
    h = prefix.copy()
    h.update(canonical_data)
    return h.hexdigest()


_prefixes: dict[bytes, Any] = {}  # contract reference → its hash state (one per contract ever loaded)


def as_json(value: Any) -> msgspec.Raw:
    """A value encoded once, to be passed through by every envelope of a request."""
    return msgspec.Raw(_encoder.encode(value))


COLLECTOR_JSON = as_json(COLLECTOR)


def uuid7() -> str:
    """A time-ordered UUIDv7 (RFC 9562): 48-bit milliseconds, version 7, 12 random bits, variant
    0b10, 62 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = random.getrandbits(74)  # unique, not secret: no syscall per id; reseeded after fork
    value = ms << 80 | 0x7000 << 64 | (rand >> 62) << 64 | 1 << 63 | (rand & _LOW62)
    h = value.to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_LOW62 = 2**62 - 1


_second: tuple[int, str] = (-1, "")  # the current second, formatted once


def now_rfc3339() -> str:
    """UTC now, to the microsecond: `2026-11-21T10:00:00.123456Z`."""
    global _second
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    if seconds != _second[0]:
        _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{_second[1]}.{nanos // 1000:06d}Z"
