"""The key ring for PII protection: a hash secret and versioned encryption keys.

Keys live in a JSON file given to `charter serve --keys FILE` (default `./charter-keys.json`),
never in contracts:

    {"hash_secret": "<base64, 32 bytes>",
     "encryption": {"active": "k20261121", "keys": {"k20261121": "<base64, 64 bytes>"}}}

New values are encrypted with the active key; every ciphertext names its key id, so old keys
stay in the file to decrypt old data while a new key takes over (`charter keys rotate`).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEFAULT_KEYS_FILE = Path("charter-keys.json")


class KeyRingError(Exception):
    """A key ring that is missing, unreadable, or lacks a key a contract needs."""


@dataclass(frozen=True, slots=True)
class Cipher:
    """The two AEADs derived from one master key: deterministic SIV and randomised GCM."""

    key_id: str
    siv: AESSIV
    gcm: AESGCM


@dataclass(frozen=True, slots=True)
class KeyRing:
    hash_secret: bytes | None = None
    active: str | None = None
    ciphers: dict[str, Cipher] = field(default_factory=dict)

    @property
    def can_encrypt(self) -> bool:
        return self.active is not None and self.active in self.ciphers


def load_keys(path: Path) -> KeyRing:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyRingError(
            f"{path}: key file not found; create one with `charter keys generate --out {path}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise KeyRingError(f"{path}: cannot read the key file: {exc}") from None
    try:
        secret = _b64(raw["hash_secret"]) if raw.get("hash_secret") else None
        enc = raw.get("encryption") or {}
        ciphers = {kid: _cipher(kid, _b64(material)) for kid, material in (enc.get("keys") or {}).items()}
        active = enc.get("active")
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyRingError(f"{path}: malformed key file ({exc}); see `charter keys generate`") from None
    if active is not None and active not in ciphers:
        raise KeyRingError(f"{path}: encryption.active {active!r} is not in encryption.keys")
    return KeyRing(secret, active, ciphers)


def generate(key_id: str | None = None) -> dict[str, Any]:
    kid = key_id or _new_key_id()
    return {"hash_secret": _enc(os.urandom(32)), "encryption": {"active": kid, "keys": {kid: _enc(os.urandom(64))}}}


def rotate(raw: dict[str, Any], key_id: str | None = None) -> dict[str, Any]:
    """Add a new encryption key and make it active; old keys stay for decryption."""
    kid = key_id or _new_key_id()
    enc = raw.setdefault("encryption", {"keys": {}})
    if kid in enc.setdefault("keys", {}):
        raise KeyRingError(f"key id {kid!r} already exists")
    enc["keys"][kid] = _enc(os.urandom(64))
    enc["active"] = kid
    return raw


def _cipher(key_id: str, master: bytes) -> Cipher:
    if len(master) < 32:
        raise ValueError(f"key {key_id!r} must be at least 32 bytes")
    return Cipher(
        key_id, AESSIV(_derive(master, b"charter aes-256-siv", 64)), AESGCM(_derive(master, b"charter aes-256-gcm", 32))
    )


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


def _new_key_id() -> str:
    return "k" + datetime.datetime.now(datetime.UTC).strftime("%Y%m%d") + "-" + os.urandom(3).hex()


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _enc(data: bytes) -> str:
    return base64.b64encode(data).decode()
