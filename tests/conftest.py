from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
