"""Write keys (`--auth FILE`): who may post events, for which contracts, how fast.

The file is YAML or JSON:

    keys:
      - name: web-shop                   # written into the envelope's source.key
        sha256: "<hex sha256 of the key>"  # or `key: "<the key>"` for local use
        namespaces: ["com.acme.shop"]    # or ["*"]
        contracts: ["com.acme.shop/payment"]  # optional: narrows the namespaces
        rate: 200                        # optional: events per second (token bucket)
        burst: 400                       # optional: bucket size (default: one second of rate)

A key is sent as `Authorization: Bearer <key>`, as HTTP Basic with the key as user name
(what Segment's libraries send), or as `?key=<key>` (navigator.sendBeacon cannot set
headers). Only sha256 digests are kept in memory and compared, in constant time, against
every key; a key never reaches a log line, a record or a metric (its name does).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import msgspec
import yaml
from msgspec import Meta

from collector.decode import BodyError
from collector.errors import ErrorType


class AuthFileError(Exception):
    """An --auth file that is missing, unreadable or malformed; the message says where."""


class _KeySpec(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    namespaces: Annotated[list[str], Meta(min_length=1)]
    sha256: Annotated[str, Meta(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    key: Annotated[str, Meta(min_length=16)] | None = None
    contracts: list[Annotated[str, Meta(pattern=r"^[^/\s]+/[^/\s]+$")]] | None = None
    rate: Annotated[float, Meta(gt=0)] | None = None
    burst: Annotated[int, Meta(ge=1)] | None = None


class _AuthFile(msgspec.Struct, forbid_unknown_fields=True):
    keys: Annotated[list[_KeySpec], Meta(min_length=1)]


class _Claim(msgspec.Struct):
    """The only field of an event the scope check needs; the pipeline judges the rest."""

    schema: object = None


_claim_decoder = msgspec.json.Decoder(_Claim)


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens a second up to `burst`; a request takes one token per event."""

    rate: float
    burst: int
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, n: int, now: float | None = None) -> float:
        """0 when `n` tokens were taken, else the seconds until they would be there (nothing taken).

        A request larger than the bucket costs the whole bucket, so it can pass once the
        bucket is full rather than never.
        """
        now = time.monotonic() if now is None else now
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        cost = min(n, self.burst)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class WriteKey:
    name: str
    digest: bytes = field(repr=False)
    namespaces: frozenset[str]
    contracts: frozenset[str] | None
    bucket: TokenBucket | None = field(compare=False)

    def allows(self, ref: str) -> bool:
        """Whether a contract reference `<namespace>/<name>/<version>` is in this key's scope."""
        ns, _, rest = ref.partition("/")
        if "*" not in self.namespaces and ns not in self.namespaces:
            return False
        return self.contracts is None or f"{ns}/{rest.partition('/')[0]}" in self.contracts

    @property
    def unrestricted(self) -> bool:
        return "*" in self.namespaces and self.contracts is None


class WriteKeys:
    """The loaded keys; built once in the app's lifespan (the buckets are per process)."""

    def __init__(self, keys: list[WriteKey]) -> None:
        self.keys = keys

    def __len__(self) -> int:
        return len(self.keys)

    def identify(self, headers: Mapping[str, str], query: Mapping[str, str]) -> WriteKey | None:
        """The key the request presents, or None when it presents none or an unknown one."""
        presented = presented_key(headers.get("authorization"), query.get("key"))
        if presented is None:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = None
        for key in self.keys:  # every key, no early exit: the time taken says nothing about which matched
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found

    def refusals(self) -> list[tuple[str, int, str]]:
        """(reason, status, key name) of each refusal a key can meet, for metrics at 0 from the start."""
        out = [("forbidden", 403, k.name) for k in self.keys if not k.unrestricted]
        return out + [("rate_limited", 429, k.name) for k in self.keys if k.bucket is not None]

    def out_of_scope(self, key: WriteKey, items: Iterable[bytes], attached: Iterable[str] = ()) -> str | None:
        """The first contract the events, or the entities `attached` to them (their contract
        references), name that `key` may not write, if any.

        Items that are not JSON objects with a string `schema` are left to the pipeline,
        which rejects them as malformed.
        """
        if key.unrestricted:
            return None
        for item in items:
            try:
                schema = _claim_decoder.decode(item).schema
            except (msgspec.DecodeError, RecursionError):
                continue
            if isinstance(schema, str) and "/" in schema and not key.allows(schema):
                return schema
        # an entity is written with its event (the envelope's contexts): its contract needs the key's scope too
        return next((ref for ref in attached if not key.allows(ref)), None)


def presented_key(authorization: str | None, query_key: str | None) -> str | None:
    """The key from `Bearer <key>`, from Basic's user name, or from `?key=`."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return value
        if scheme.lower() == "basic" and value:
            try:
                user = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                return None
            return user or None
        return None
    return query_key or None


def unauthorized(message: str) -> BodyError:
    return BodyError(ErrorType.UNAUTHORIZED, 401, message)


def forbidden(key: WriteKey, ref: str) -> BodyError:
    return BodyError(ErrorType.UNAUTHORIZED, 403, f"write key {key.name!r} may not write contract {ref!r}")


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def load_write_keys(path: Path) -> WriteKeys:
    """Read and check an --auth file; AuthFileError names the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthFileError(f"cannot read --auth file {path}: {exc.strerror}") from exc
    try:
        raw = yaml.safe_load(text)  # JSON is YAML too
        spec = msgspec.convert(raw, _AuthFile)
    except yaml.YAMLError as exc:
        raise AuthFileError(f"{path}: not valid YAML or JSON: {exc}") from exc
    except msgspec.ValidationError as exc:
        raise AuthFileError(f"{path}: {exc}") from exc
    keys = [_key(path, i, s) for i, s in enumerate(spec.keys)]
    names = [k.name for k in keys]
    if len(set(names)) < len(keys):
        raise AuthFileError(f"{path}: key names must be unique (they label records and metrics)")
    if len({k.digest for k in keys}) < len(keys):
        raise AuthFileError(f"{path}: two entries have the same key; give each client its own")
    return WriteKeys(keys)


def _key(path: Path, index: int, spec: _KeySpec) -> WriteKey:
    where = f"{path}: keys[{index}] ({spec.name})"
    if (spec.sha256 is None) == (spec.key is None):
        raise AuthFileError(f"{where}: give exactly one of `sha256` (hex digest of the key) or `key`")
    if spec.burst is not None and spec.rate is None:
        raise AuthFileError(f"{where}: `burst` needs `rate` (events per second)")
    digest = bytes.fromhex(spec.sha256) if spec.sha256 else hashlib.sha256(str(spec.key).encode()).digest()
    bucket = None
    if spec.rate is not None:
        bucket = TokenBucket(spec.rate, spec.burst or max(1, math.ceil(spec.rate)))
    contracts = frozenset(spec.contracts) if spec.contracts is not None else None
    return WriteKey(spec.name, digest, frozenset(spec.namespaces), contracts, bucket)
