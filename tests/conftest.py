from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.contracts import Contract, Registry, Version, build_contract, load_registry

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
TEST_KEYS = ROOT / "tests" / "keys.test.json"  # a key ring for tests only; never use it anywhere else

# Every `charter serve` a test starts (they inherit the environment) gets the test key ring,
# since the example contracts hash and encrypt fields.
os.environ.setdefault("CHARTER_KEYS", str(TEST_KEYS))
OWNER = {"owner": {"name": "Test Team", "email": "test@example.com"}}


def make_contract(
    properties: dict[str, Any] | None = None,
    *,
    ref: str = "com.example.test/thing/1.0.0",
    **schema: Any,
) -> Contract:
    """A contract for `data` built inline, as each test needs it."""
    ns, name, version = ref.split("/")
    body: dict[str, Any] = {"type": "object", "x-contract": dict(OWNER), **schema}
    if properties is not None:
        body["properties"] = properties
    return build_contract(ns, name, Version.parse(version), body, f"{ref}.json")


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(SCHEMAS)


def payment(**overrides: Any) -> dict[str, Any]:
    data = {
        "order_id": 1001, "product_id": 7, "amount": 9.5, "confirmation_code": "AB12CD34",
        "cc_number": "4111111111111111", "ts": "2026-11-21T10:00:00Z",
    }  # fmt: skip
    data.update(overrides)
    return data


def unseal(payload: Any) -> str:
    """The text of a payload Charter sealed as a whole (it could not be mapped to one contract's
    fields), decrypted with the test key ring — what `charter decrypt` shows an authorised reader."""
    from collector.keys import load_keys
    from collector.privacy import decrypt_value

    assert isinstance(payload, dict) and payload["protected"] == "whole", payload
    text = decrypt_value(load_keys(TEST_KEYS), payload["text"])
    assert isinstance(text, str)
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"charter serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling a readiness endpoint, not synchronising on time
    raise TimeoutError(f"{url} not ready in {deadline_s}s")


@contextlib.contextmanager
def charter_serve(cwd: Path, *args: str, log: Path | None = None, **env: str) -> Iterator[str]:
    """A real `charter serve` subprocess on a free port (flags `args`, CHARTER_* `env`); yields its URL."""
    port = free_port()
    environ = {**os.environ, "CHARTER_SCHEMAS": str(SCHEMAS), "CHARTER_PORT": str(port),
               **{f"CHARTER_{k.upper()}": v for k, v in env.items()}}  # fmt: skip
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "serve", *args], cwd=cwd, env=environ, stdout=out, stderr=out
        )
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]  # the child keeps its own descriptor
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
