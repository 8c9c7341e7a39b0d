"""Bump rules: PATCH for docs, MINOR for changes compatible under the mode, MAJOR for the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.check.helpers import REF, check, codes, contract, report, write

INT, STR = {"type": "integer"}, {"type": "string"}
BASE = contract({"id": INT})
DOCS = {**BASE, "description": "An order, as placed."}
OPTIONAL_OPEN = contract({"id": INT, "note": STR}, closed=False)  # compatible both ways with an open base
OPTIONAL_CLOSED = contract({"id": INT, "note": STR})  # breaks FORWARD only: the closed 1.0.0 rejects `note`
RENAMED = contract({"key": INT})
PII = contract({"id": {**INT, "x-pii": "redact"}})


def mode(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {**body, "x-contract": {**body["x-contract"], "compatibility": name}}


def tree(tmp_path: Path, *versions: tuple[str, dict[str, Any]]) -> Path:
    for version, body in versions:
        write(tmp_path, version, body)
    return tmp_path


# fmt: off
BUMPS = [
    pytest.param(BASE, "1.0.1", DOCS, 0, "1.0.1", id="docs-as-patch"),
    pytest.param(BASE, "1.1.0", DOCS, 0, "1.0.1", id="docs-as-minor-is-allowed"),
    pytest.param(contract({"id": INT}, closed=False), "1.0.1", OPTIONAL_OPEN, 1, "1.1.0", id="compatible-as-patch"),
    pytest.param(contract({"id": INT}, closed=False), "1.1.0", OPTIONAL_OPEN, 0, "1.1.0", id="compatible-as-minor"),
    pytest.param(BASE, "1.0.1", PII, 1, "1.1.0", id="pii-change-as-patch"),
    pytest.param(BASE, "1.1.0", RENAMED, 1, "2.0.0", id="breaking-as-minor"),
    pytest.param(BASE, "1.0.1", RENAMED, 1, "2.0.0", id="breaking-as-patch"),
    pytest.param(BASE, "2.0.0", RENAMED, 0, "2.0.0", id="breaking-as-major"),
    pytest.param(BASE, "1.1.0", OPTIONAL_CLOSED, 0, "1.1.0", id="closed-optional-field-as-minor-under-default-backward"),
    pytest.param(BASE, "1.1.0", mode(OPTIONAL_CLOSED, "BACKWARD"), 0, "1.1.0", id="closed-optional-field-as-minor-spelling-out-backward"),
    pytest.param(mode(BASE, "FULL"), "1.1.0", mode(OPTIONAL_CLOSED, "FULL"), 1, "2.0.0", id="closed-optional-field-as-minor-under-full"),
    pytest.param(mode(BASE, "FORWARD"), "1.1.0", mode(OPTIONAL_CLOSED, "FORWARD"), 1, "2.0.0", id="closed-optional-field-as-minor-under-forward"),
    pytest.param(mode(BASE, "NONE"), "1.1.0", mode(RENAMED, "NONE"), 0, "1.1.0", id="breaking-as-minor-under-none"),
    pytest.param(BASE, "1.1.0", mode(RENAMED, "NONE"), 1, "2.0.0", id="breaking-as-minor-setting-none-in-itself"),
]
# fmt: on


@pytest.mark.parametrize(("base", "version", "body", "exit_code", "suggested"), BUMPS)
def test_bump_is_checked_and_the_right_version_suggested(
    tmp_path: Path, base: dict[str, Any], version: str, body: dict[str, Any], exit_code: int, suggested: str
) -> None:
    code, doc = report(tree(tmp_path, ("1.0.0", base), (version, body)))
    assert code == exit_code
    assert doc["suggestions"] == [
        {"contract": REF, "base": "1.0.0", "version": version, "suggested": suggested,
         "needs": doc["suggestions"][0]["needs"], "ok": exit_code == 0},
    ]  # fmt: skip
    assert ("wrong-bump" in codes(doc)) is (exit_code == 1)


def test_wrong_bump_lists_the_changes_and_the_version_it_should_have_been(tmp_path: Path) -> None:
    exit_code, doc = report(tree(tmp_path, ("1.0.0", BASE), ("1.1.0", RENAMED)))
    assert exit_code == 1
    (message,) = [f["message"] for f in doc["findings"] if f["code"] == "wrong-bump"]
    assert message.startswith(
        f"{REF} 1.1.0 is a MINOR bump from 1.0.0, but its changes need a MAJOR under BACKWARD "
        f"(the default: {REF}/1.0.0 sets no `x-contract.compatibility`)"
    )
    assert "it should have been 2.0.0" in message
    assert message.endswith(
        "Changes:\n  - `$.id` renamed? `id` → `key` (`id` removed, `key` added in an object that rejects unknown fields) [breaking]"
    )


def test_new_major_is_listed_and_needs_no_compatibility(tmp_path: Path) -> None:
    code, doc = report(tree(tmp_path, ("1.0.0", BASE), ("2.0.0", RENAMED)))
    assert code == 0
    assert codes(doc, "info") == ["new-major"]
    assert [(c["from"], c["to"], c["verdict"]) for c in doc["changes"]] == [("1.0.0", "2.0.0", "new major")]


@pytest.mark.parametrize(
    ("name", "exit_code"),
    [
        pytest.param("BACKWARD", 0, id="backward-checks-only-the-previous-version"),
        pytest.param("BACKWARD_TRANSITIVE", 1, id="backward-transitive-checks-every-earlier-version"),
    ],
)
def test_transitive_modes_check_against_every_earlier_version_of_the_major(
    tmp_path: Path, name: str, exit_code: int
) -> None:
    # 1.1.0 drops `note` and opens the object; 1.2.0 brings `note` back as an integer. Each step
    # is BACKWARD-compatible with the one before, but 1.0.0 data (note: string) fails 1.2.0.
    v1 = mode(contract({"id": INT, "note": STR}), name)
    v2 = mode(contract({"id": INT}, closed=False), name)
    v3 = mode(contract({"id": INT, "note": INT}, closed=False), name)
    code, doc = report(tree(tmp_path, ("1.0.0", v1), ("1.1.0", v2), ("1.2.0", v3)))
    assert code == exit_code
    if exit_code:
        (finding,) = [f for f in doc["findings"] if f["code"] == "breaking-change"]
        assert finding["path"] == "$.note"
        assert "compatibility with 1.0.0" in finding["message"]


@pytest.mark.parametrize(
    ("versions", "code"),
    [
        pytest.param(("1.0.0", "1.2.0"), "version-gap", id="minor-skipped"),
        pytest.param(("1.0.0", "2.1.0"), "version-gap", id="new-major-not-at-0-0"),
    ],
)
def test_skipped_versions_warn_without_failing(tmp_path: Path, versions: tuple[str, str], code: str) -> None:
    exit_code, doc = report(tree(tmp_path, (versions[0], BASE), (versions[1], RENAMED if versions[1] >= "2" else DOCS)))
    assert exit_code == 0
    assert code in codes(doc, "warning")


def test_a_version_without_changes_warns(tmp_path: Path) -> None:
    exit_code, doc = report(tree(tmp_path, ("1.0.0", BASE), ("1.0.1", BASE)))
    assert exit_code == 0
    assert codes(doc, "warning") == ["no-change"]


def test_suggest_version_prints_a_table_in_text(tmp_path: Path) -> None:
    result = check(tree(tmp_path, ("1.0.0", BASE), ("1.1.0", RENAMED)), "--suggest-version")
    assert "Suggested versions" in result.output
    table = result.output.split("Suggested versions")[1].splitlines()
    row = next(line for line in table if line.strip().startswith(REF))
    assert row.split()[1:] == ["1.0.0", "1.1.0", "MAJOR", "2.0.0", "no"]


def test_without_suggest_version_text_has_no_suggestions(tmp_path: Path) -> None:
    result = check(tree(tmp_path, ("1.0.0", BASE), ("1.1.0", RENAMED)))
    assert "Suggested versions" not in result.output
