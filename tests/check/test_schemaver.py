"""Contracts imported from Iglu (a top-level `x-iglu`) are versioned in SchemaVer, MODEL-REVISION-ADDITION."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.check.helpers import REF, check, codes, contract, report, write

INT, STR = {"type": "integer"}, {"type": "string"}
IGLU = {"uri": "iglu:org.example.shop/order/jsonschema/1-0-0"}


def iglu(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "x-iglu": IGLU}


BASE = contract({"id": INT}, closed=False)
OPTIONAL = contract({"id": INT, "note": STR}, closed=False)  # compatible with all historical data
RENAMED = contract({"key": INT}, required=("key",), closed=False)  # breaks BACKWARD: old events lack `key`
DOCS = {**BASE, "description": "An order, as placed."}


# fmt: off
STEPS = [
    pytest.param(iglu(BASE), "1.0.1", iglu(OPTIONAL), 0, "1.0.1", "ADDITION", id="optional-field-as-addition"),
    pytest.param(iglu(BASE), "1.0.1", iglu(DOCS), 0, "1.0.1", "ADDITION", id="docs-as-addition"),
    pytest.param(iglu(BASE), "1.1.0", iglu(OPTIONAL), 0, "1.0.1", "ADDITION", id="optional-field-as-revision-is-allowed"),
    pytest.param(iglu(BASE), "1.0.1", iglu(RENAMED), 1, "1.1.0", "REVISION", id="breaking-as-addition"),
    pytest.param(iglu(BASE), "1.1.0", iglu(RENAMED), 0, "1.1.0", "REVISION", id="breaking-as-revision"),
    pytest.param(BASE, "1.0.1", iglu(OPTIONAL), 1, "1.1.0", "MINOR", id="only-the-new-version-from-iglu-is-semver"),
    pytest.param(iglu(BASE), "1.0.1", OPTIONAL, 1, "1.1.0", "MINOR", id="only-the-old-version-from-iglu-is-semver"),
]
# fmt: on


@pytest.mark.parametrize(("base", "version", "body", "exit_code", "suggested", "needs"), STEPS)
def test_iglu_versions_are_classified_by_schemaver(
    tmp_path: Path, base: dict[str, Any], version: str, body: dict[str, Any], exit_code: int, suggested: str, needs: str
) -> None:
    write(tmp_path, "1.0.0", base)
    write(tmp_path, version, body)
    code, doc = report(tmp_path, "--suggest-version")
    assert code == exit_code, doc["findings"]
    assert doc["suggestions"] == [
        {"contract": REF, "base": "1.0.0", "version": version, "suggested": suggested, "needs": needs,
         "ok": exit_code == 0},
    ]  # fmt: skip


def test_addition_bump_of_iglu_contract_passes_where_semver_asks_for_minor(tmp_path: Path) -> None:
    write(tmp_path, "1.0.0", iglu(BASE))
    write(tmp_path, "1.0.1", iglu(OPTIONAL))
    result = check(tmp_path)
    assert result.exit_code == 0, result.output
    assert "wrong-bump" not in result.output


def test_breaking_addition_names_schemaver_and_the_revision_to_publish(tmp_path: Path) -> None:
    write(tmp_path, "1.0.0", iglu(BASE))
    write(tmp_path, "1.0.1", iglu(RENAMED))
    code, doc = report(tmp_path)
    assert code == 1
    assert "wrong-bump" in codes(doc)
    wrong = next(f for f in doc["findings"] if f["code"] == "wrong-bump")
    assert "is an ADDITION bump from 1.0.0, but its changes need a REVISION" in wrong["message"]
    assert "SchemaVer MODEL-REVISION-ADDITION, as both versions carry x-iglu" in wrong["message"]
    assert "it should have been 1.1.0" in wrong["message"]
    breaking = next(f for f in doc["findings"] if f["code"] == "breaking-change")
    assert "Publish this change as 1.1.0 (a REVISION in SchemaVer" in breaking["message"]
