"""Protect fields tagged `x-pii` before anything leaves the process.

- `redact`: the value becomes `"[redacted]"`.
- `hash`: HMAC-SHA256 with the key ring's secret, hex (a plain hash of a card number or an
  e-mail is brute-forceable; a keyed one is not). Equal values hash equal, so they still join.
- `mask`: every character but a kept prefix and suffix becomes `*` (`"x-pii-mask": {"keep_first":
  0, "keep_last": 4}`, the default: `************1111`); a value no longer than what is kept is
  masked whole, so masking never reveals a short value.
- `encrypt`: AES-256-SIV, deterministic, so equal values encrypt equal and still join; with
  `"x-pii-encryption": "randomized"` AES-256-GCM with a random nonce instead. The value is
  stored as `enc:<siv|gcm>:<key id>:<base64url>`, so keys can rotate (`charter decrypt`).

A contract's PII paths are compiled once at load into steps (`$.items[*].email` →
`("items", "*", "email")`) and applied in place to the decoded `data`, for good envelopes
and for bad envelopes' payloads alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from collector.keys import KeyRing

REDACTED = "[redacted]"
ACTIONS = ("none", "redact", "hash", "encrypt", "mask")
MASK_DEFAULT = (0, 4)  # keep_first, keep_last
ENCRYPTED_PREFIX = "enc:"
_STEP = re.compile(r"\.([^.\[{]+)|(\[\*\])|(\{\*\})")
_json = msgspec.json.Encoder()


class PiiField(NamedTuple):
    path: str  # `$.card.number`, `$.items[*].email`, `$.attributes{*}` (every value of an object)
    action: str  # redact | hash | encrypt | encrypt-randomized | mask
    steps: tuple[str, ...]
    keep: tuple[int, int] = MASK_DEFAULT  # mask: characters kept at the start and at the end


def pii_field(path: str, action: str, keep: tuple[int, int] = MASK_DEFAULT) -> PiiField:
    return PiiField(path, action, tuple(m[1] or ("*" if m[2] else "{*}") for m in _STEP.finditer(path)), keep)


class MissingKey(Exception):
    """A contract asks for hashing or encryption and the key ring lacks the key."""


class Privacy:
    """The transforms for each action, bound to a key ring once at startup."""

    def __init__(self, keys: KeyRing | None = None) -> None:
        self.keys = keys or KeyRing()
        self._transforms: dict[str, Callable[[Any], Any]] = {"redact": _redact_value}
        if self.keys.hash_secret is not None:
            self._hmac = HmacSha256(self.keys.hash_secret)
            self._transforms["hash"] = self._hash
        if self.keys.can_encrypt:
            self._transforms["encrypt"] = self._encrypt_siv
            self._transforms["encrypt-randomized"] = self._encrypt_gcm

    def require(self, fields: tuple[PiiField, ...], where: str) -> None:
        """Refuse to start when a contract needs a key the ring does not have."""
        for f in fields:
            if f.action not in self._transforms:
                need = "hash_secret" if f.action == "hash" else "an active encryption key"
                action = f.action.split("-")[0]
                hint = "--keys / CHARTER_KEYS; `charter keys generate`"
                raise MissingKey(
                    f"{where}: {f.path} is tagged x-pii {action!r}, which needs {need} in the key file ({hint})"
                )

    def protect(self, data: Any, fields: tuple[PiiField, ...]) -> Any:
        """Apply each field's action in place; shapes that do not match are left to validation."""
        for f in fields:
            # a field whose key is missing is redacted: protection never silently degrades to clear text
            transform = _masker(f.keep) if f.action == "mask" else self._transforms.get(f.action, _redact_value)
            _apply(data, f.steps, 0, transform)
        return data

    def seal(self, raw: bytes, limit: int) -> dict[str, Any]:
        """A payload that cannot be mapped to one contract's fields, protected as a whole: its size,
        a (keyed, when a secret is set) digest, and with an encryption key the text itself,
        encrypted (at most `limit` bytes of it), for `charter decrypt`."""
        keyed = self.keys.hash_secret is not None
        digest = hmac.new(self.keys.hash_secret, raw, hashlib.sha256) if keyed else hashlib.sha256(raw)  # type: ignore[arg-type]
        out: dict[str, Any] = {
            "protected": "whole",
            "bytes": len(raw),
            "hmac_sha256" if keyed else "sha256": digest.hexdigest(),
        }
        if self.keys.can_encrypt:
            text = raw[:limit].decode("utf-8", "backslashreplace")
            out["text"] = self._encrypt_gcm(text)
            if len(raw) > limit:
                out["truncated_to"] = limit
        return out

    def _hash(self, value: Any) -> str:
        return self._hmac.hexdigest(_plain(value))

    def _encrypt_siv(self, value: Any) -> str:
        cipher = self.keys.ciphers[self.keys.active or ""]
        return f"{ENCRYPTED_PREFIX}siv:{cipher.key_id}:{_b64(cipher.siv.encrypt(_json.encode(value), None))}"

    def _encrypt_gcm(self, value: Any) -> str:
        cipher = self.keys.ciphers[self.keys.active or ""]
        nonce = os.urandom(12)
        sealed = nonce + cipher.gcm.encrypt(nonce, _json.encode(value), None)
        return f"{ENCRYPTED_PREFIX}gcm:{cipher.key_id}:{_b64(sealed)}"


def decrypt_value(keys: KeyRing, text: str) -> Any:
    """The JSON value behind `enc:<mode>:<key id>:<data>`; raises ValueError if it is not one."""
    try:
        _, mode, key_id, data = text.split(":", 3)
        cipher = keys.ciphers[key_id]
    except (ValueError, KeyError):
        raise ValueError(f"not decryptable with this key ring: {text[:40]!r}") from None
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    plain = cipher.siv.decrypt(raw, None) if mode == "siv" else cipher.gcm.decrypt(raw[:12], raw[12:], None)
    return msgspec.json.decode(plain)


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer pad states hashed once: each value
    then costs two state copies and three short updates, a third of `hmac.digest`'s time (which
    sets OpenSSL's HMAC up again for every call). Same bytes as `hmac.digest(key, msg, "sha256")`."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_SHA256_BLOCK = 64


def _plain(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else _json.encode(value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _redact_value(value: Any) -> str:
    return REDACTED


def _masker(keep: tuple[int, int]) -> Callable[[Any], str]:
    first, last = keep

    def mask(value: Any) -> str:
        text = value if isinstance(value, str) else _json.encode(value).decode()
        if len(text) <= first + last:
            return "*" * len(text)
        return text[:first] + "*" * (len(text) - first - last) + text[len(text) - last :]

    return mask


def _apply(node: Any, steps: tuple[str, ...], i: int, transform: Callable[[Any], Any]) -> None:
    step, last = steps[i], i == len(steps) - 1
    if step == "{*}":
        if isinstance(node, dict):
            for key, child in node.items():
                if last:
                    node[key] = transform(child) if child is not None else None
                else:
                    _apply(child, steps, i + 1, transform)
        return
    if step == "*":
        if isinstance(node, list):
            for j, child in enumerate(node):
                if last:
                    node[j] = transform(child) if child is not None else None
                else:
                    _apply(child, steps, i + 1, transform)
        return
    if not isinstance(node, dict) or step not in node:
        return
    if not last:
        _apply(node[step], steps, i + 1, transform)
    elif node[step] is not None:
        node[step] = transform(node[step])
