"""Turn a request body into one raw item per event, or a body-level error.

JSON bodies are an object or an array of objects; NDJSON bodies are one event per line
(a bad line only rejects that line). gzip is inflated with a hard cap so a small body
cannot inflate past the byte limit; every member of a multi-member gzip stream is read, and
bytes after the last member refuse the body.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from collector.errors import ErrorType

if TYPE_CHECKING:
    from collector.origin import Origin

JSON_TYPES = frozenset({"application/json", "text/plain", ""})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/ndjson"})
_items_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class BodyError:
    """The whole body was refused; `status` is the HTTP answer."""

    type: ErrorType
    status: int
    message: str
    items: tuple[bytes, ...] = ()  # the events of a body refused only for their number: each is recorded
    origins: tuple[Origin, ...] = ()  # one per item when an input protocol translated them: what each came as


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None) -> BodyError | None:
    mt = media_type(content_type)
    if mt in JSON_TYPES or mt in NDJSON_TYPES:
        return None
    return BodyError(
        ErrorType.UNSUPPORTED_CONTENT_TYPE, 415,
        f"Content-Type {mt!r} is not supported; use application/json or application/x-ndjson",
    )  # fmt: skip


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes | BodyError:
    """Undo Content-Encoding; gzip may inflate to at most `limit` bytes."""
    enc = (encoding or "identity").strip().lower()
    if enc == "identity":
        return body
    if enc != "gzip":
        return BodyError(
            ErrorType.UNSUPPORTED_CONTENT_TYPE, 415, f"Content-Encoding {enc!r} is not supported; use gzip"
        )
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes | BodyError:
    """Every gzip member in turn (`cat a.gz b.gz` is one valid stream), at most `limit` bytes in all.

    Bytes after a member that do not start another one are refused rather than ignored:
    a body Charter cannot read whole must not be acknowledged as if it had been.
    """
    out = bytearray()
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            return BodyError(ErrorType.MALFORMED_BODY, 400, f"gzip body could not be inflated: {exc}")
        if len(out) > limit:
            return BodyError(ErrorType.TOO_LARGE, 413, f"gzip body inflates past the limit of {limit} bytes")
        if not inflater.eof:
            return BodyError(ErrorType.MALFORMED_BODY, 400, "gzip body is truncated")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)
        if not rest.startswith(_GZIP_MAGIC):
            return BodyError(
                ErrorType.MALFORMED_BODY, 400,
                f"{len(rest)} byte(s) after the end of the gzip stream are not another gzip member",
            )  # fmt: skip


def split_events(body: bytes, content_type: str | None, max_events: int) -> list[bytes] | BodyError:
    """Split a body into the raw bytes of each event (not yet decoded as events)."""
    try:
        body.decode("utf-8")  # once for the whole body: cheap, and every item is then safe to echo
    except UnicodeDecodeError as exc:
        return BodyError(ErrorType.MALFORMED_BODY, 400, f"body is not valid UTF-8: {exc}")
    if media_type(content_type) in NDJSON_TYPES:
        items = [line for line in body.splitlines() if line.strip()]
    else:
        items_or_error = _json_items(body)
        if isinstance(items_or_error, BodyError):
            return items_or_error
        items = items_or_error
    if not items:
        return BodyError(ErrorType.MALFORMED_BODY, 400, "the body holds no events")
    if len(items) > max_events:
        message = f"{len(items)} events in one request; the limit is {max_events}"
        return BodyError(ErrorType.TOO_LARGE, 413, message, tuple(items))
    return items


def _json_items(body: bytes) -> list[bytes] | BodyError:
    start = body.lstrip()[:1]
    try:
        if start == b"[":
            return [bytes(raw) for raw in _items_decoder.decode(body)]
        if start == b"{":
            msgspec.json.decode(body, type=msgspec.Raw)  # validates the JSON once
            return [body]
    except msgspec.DecodeError as exc:
        return BodyError(ErrorType.MALFORMED_BODY, 400, f"invalid JSON: {exc}")
    except RecursionError:
        return BodyError(ErrorType.MALFORMED_BODY, 400, "JSON nesting is too deep")
    return BodyError(
        ErrorType.MALFORMED_BODY, 400, "the body must be a JSON object, a JSON array of objects, or NDJSON"
    )
