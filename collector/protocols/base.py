"""The one small interface every input protocol implements (STYLE rule 13).

An input turns one HTTP request into Charter events (`{"schema","data","id"?,"sent_at"?}`,
raw bytes, exactly what `POST /v1/events` takes) plus, for each, an `Origin`: the event as
it came, the protocol's own fields and any attached entities. Everything after it (write
keys, limits, validation, rules, PII, dedupe, routing, metrics) is the same code for every
input, and never learns which protocol an event came in by.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

import msgspec
from starlette.responses import Response

from collector.contracts import Registry
from collector.decode import BodyError
from collector.errors import ErrorType
from collector.origin import Origin


class LazyQuery(Mapping[str, str]):
    """A request's query string, parsed on first use (most requests never read it)."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._parsed: dict[str, str] | None = None

    def _params(self) -> dict[str, str]:
        if self._parsed is None:  # as Starlette's QueryParams: the last value of a repeated name
            self._parsed = dict(parse_qsl(self._raw.decode("latin-1"), keep_blank_values=True))
        return self._parsed

    def __getitem__(self, key: str) -> str:
        return self._params()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params())

    def __len__(self) -> int:
        return len(self._params()) if self._raw else 0


@dataclass(frozen=True, slots=True)
class Incoming:
    """What an input may read of a request (the body already size-checked and inflated)."""

    method: str
    body: bytes
    content_type: str | None
    headers: Mapping[str, str]
    query: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Batch:
    """The request's events as Charter events, with one origin each (None: Charter's own input)."""

    items: list[bytes]
    origins: list[Origin] | None = None


class Input(Protocol):
    """One wire protocol. `accepts` runs before the body is read, `scrub` right after; `reply`
    adapts Charter's answer (200/207/4xx JSON) to what the protocol's clients expect."""

    name: str

    def accepts(self, content_type: str | None) -> BodyError | None: ...

    def scrub(self, body: bytes) -> bytes:
        """The body with any credential the protocol carries in it replaced: all Charter decodes or records."""
        ...

    def decode(self, incoming: Incoming, registry: Registry, max_events: int) -> Batch | BodyError: ...

    def reply(self, method: str, response: Response) -> Response: ...


class _Item(msgspec.Struct, omit_defaults=True):
    schema: str
    data: Any
    id: str | None = None
    sent_at: str | None = None


_encoder = msgspec.json.Encoder()


def charter_event(schema: str, data: Any, event_id: str | None = None, sent_at: str | None = None) -> bytes:
    """The Charter event a protocol's event translates to."""
    return _encoder.encode(_Item(schema, data, event_id, sent_at))


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def event_id(value: Any) -> str | None:
    """A client's event id, if it is one Charter keeps (else the pipeline makes one)."""
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def from_millis(value: Any) -> str | None:
    """A Unix time in milliseconds (as Snowplow trackers send it) as RFC 3339, or None."""
    try:
        ms = int(str(value))
        stamp = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def too_many(items: list[bytes], origins: list[Origin], max_events: int) -> BodyError | None:
    """413 over the event limit; each event is still recorded, as it came (its origin)."""
    if len(items) <= max_events:
        return None
    message = f"{len(items)} events in one request; the limit is {max_events}"
    return BodyError(ErrorType.TOO_LARGE, 413, message, tuple(items), tuple(origins))
