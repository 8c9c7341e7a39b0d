"""Both SDKs' package version comes from the contracts (`codegen.model.sdk_version`): the same contracts
give the same version, and publishing any contract version raises it."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from codegen import python_sdk, typescript_sdk
from codegen.model import SDK_API, sdk_version
from collector.contracts import Registry
from tests.conftest import ROOT, make_contract

FIRST = "com.example.test/thing/1.0.0"


def _versions(*refs: str) -> tuple[str, str]:
    """The (Python, TypeScript) package versions generated from contracts of these references."""
    registry = Registry([make_contract({"n": {"type": "integer"}}, ref=ref) for ref in refs])
    py: dict[str, Any] = tomllib.loads(python_sdk.generate(registry)["pyproject.toml"].decode())
    ts: dict[str, Any] = json.loads(typescript_sdk.generate(registry)["package.json"])
    return py["project"]["version"], ts["version"]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_same_contracts_give_the_same_version_in_both_sdks() -> None:
    assert _versions(FIRST) == _versions(FIRST) == (f"{SDK_API}.1.0", f"{SDK_API}.1.0")


@pytest.mark.parametrize(
    "published",
    [
        pytest.param("com.example.test/thing/1.0.1", id="patch"),
        pytest.param("com.example.test/thing/1.1.0", id="minor"),
        pytest.param("com.example.test/thing/2.0.0", id="major"),
        pytest.param("com.example.test/other/1.0.0", id="new-contract"),
    ],
)
def test_publishing_a_contract_version_raises_the_minor(published: str) -> None:
    before, after = _versions(FIRST), _versions(FIRST, published)
    assert after[0] == after[1]
    assert _key(after[0]) > _key(before[0])
    assert _key(after[0])[0] == _key(before[0])[0]  # an SDK only gains: never a new major


def test_the_committed_sdks_carry_the_version_of_schemas_in_every_manifest_and_readme(registry: Registry) -> None:
    version = sdk_version(registry)
    assert version == f"{SDK_API}.{len(registry)}.0"
    sdks = ROOT / "sdks"
    assert tomllib.loads((sdks / "python/pyproject.toml").read_text())["project"]["version"] == version
    assert json.loads((sdks / "typescript/package.json").read_text())["version"] == version
    lock = json.loads((sdks / "typescript/package-lock.json").read_text())
    assert lock["version"] == lock["packages"][""]["version"] == version
    assert (sdks / "python/README.md").read_text().startswith(f"# charter-events {version}\n")
    assert (sdks / "typescript/README.md").read_text().startswith(f"# charter-events {version}\n")
