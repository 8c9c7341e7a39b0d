"""Compatibility modes: BACKWARD by default, the older version's mode governs each step, and a
change of mode is itself a finding that needs a new major."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.check.helpers import REF, check, codes, contract, report, write

INT, STR = {"type": "integer"}, {"type": "string"}
BASE = contract({"id": INT, "amount": INT})


def mode(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {**body, "x-contract": {**body["x-contract"], "compatibility": name}}


def tree(tmp_path: Path, *versions: tuple[str, dict[str, Any]]) -> Path:
    for version, body in versions:
        write(tmp_path, version, body)
    return tmp_path


def findings(doc: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["code"] == code]


def test_a_version_cannot_loosen_its_own_check_by_setting_none(tmp_path: Path) -> None:
    # 1.1.0 changes `amount` from integer to string and declares NONE for itself: the step is
    # judged under 1.0.0's mode (the default, BACKWARD), so it fails.
    loosened = mode(contract({"id": INT, "amount": STR}), "NONE")
    code, doc = report(tree(tmp_path, ("1.0.0", BASE), ("1.1.0", loosened)))
    assert code == 1
    assert sorted(codes(doc)) == ["breaking-change", "mode-changed", "wrong-bump"]
    (breaking,) = findings(doc, "breaking-change")
    assert breaking["path"] == "$.amount"
    assert "breaks BACKWARD compatibility with 1.0.0" in breaking["message"]
    assert f"BACKWARD is the default: {REF}/1.0.0 sets no `x-contract.compatibility`" in breaking["message"]
    assert "Publish this change as 2.0.0" in breaking["message"]
    assert doc["suggestions"][0]["suggested"] == "2.0.0"


def test_an_optional_field_in_a_closed_object_is_a_minor_under_the_default(tmp_path: Path) -> None:
    added = contract({"id": INT, "amount": INT, "note": STR})  # additionalProperties: false in both
    code, doc = report(tree(tmp_path, ("1.0.0", BASE), ("1.1.0", added)))
    assert (code, doc["findings"]) == (0, [])
    assert [(c["kind"], c["backward"], c["forward"], c["verdict"]) for c in doc["changes"]] == [
        ("field-added-optional", True, False, "compatible")
    ]


def test_the_breaking_message_names_the_mode_where_it_is_set(tmp_path: Path) -> None:
    v1 = mode(BASE, "FULL")
    code, doc = report(
        tree(tmp_path, ("1.0.0", v1), ("1.1.0", mode(contract({"id": INT, "amount": INT, "n": STR}), "FULL")))
    )
    assert code == 1
    (breaking,) = findings(doc, "breaking-change")
    assert (
        "breaks FULL compatibility with 1.0.0 (FORWARD: consumers on 1.0.0 cannot read data written with 1.1.0)"
        in (breaking["message"])
    )
    assert f"FULL is set in {REF}/1.0.0" in breaking["message"]


def test_the_older_versions_mode_governs_even_when_the_newer_one_is_stricter(tmp_path: Path) -> None:
    # 1.0.0 says NONE: its step to 1.1.0 may break anything; 1.1.0 then asks for FULL from here on.
    renamed = mode(contract({"key": INT, "amount": INT}), "FULL")
    code, doc = report(tree(tmp_path, ("1.0.0", mode(BASE, "NONE")), ("1.1.0", renamed)))
    assert code == 0
    assert [(f["level"], f["code"]) for f in doc["findings"]] == [("warning", "mode-changed")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("FULL", "BACKWARD", id="drops-forward"),
        pytest.param("BACKWARD_TRANSITIVE", "BACKWARD", id="drops-transitive"),
        pytest.param("BACKWARD", "FORWARD", id="sideways"),
        pytest.param("BACKWARD", "NONE", id="to-none"),
    ],
)
def test_a_mode_change_that_drops_a_check_needs_a_major(tmp_path: Path, old: str, new: str) -> None:
    docs_only = {**mode(BASE, new), "description": "An order, as placed."}
    code, doc = report(tree(tmp_path, ("1.0.0", mode(BASE, old)), ("1.0.1", docs_only)))
    assert code == 1
    (changed,) = findings(doc, "mode-changed")
    assert (changed["level"], changed["path"]) == ("error", "x-contract.compatibility")
    assert f"compatibility mode {old} → {new}" in changed["message"]
    assert "needs a new major (2.0.0), or pass --allow-mode-change" in changed["message"]
    assert doc["suggestions"][0]["suggested"] == "2.0.0"


def test_a_mode_change_in_a_new_major_is_free(tmp_path: Path) -> None:
    code, doc = report(tree(tmp_path, ("1.0.0", mode(BASE, "FULL")), ("2.0.0", mode(BASE, "NONE"))))
    assert code == 0
    assert codes(doc, "info") == ["new-major"]
    assert findings(doc, "mode-changed") == []


def test_allow_mode_change_accepts_it_as_a_warning_that_the_output_shows(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        ("1.0.0", mode(BASE, "FULL")),
        ("1.1.0", mode(contract({"id": INT, "amount": INT, "n": STR}), "BACKWARD")),
    )
    assert check(root).exit_code == 1
    result = check(root, "--allow-mode-change")
    assert result.exit_code == 1  # the step itself is still judged under 1.0.0's FULL
    relaxed = tree(tmp_path, ("1.1.0", {**mode(BASE, "BACKWARD"), "description": "An order, as placed."}))
    result = check(relaxed, "--allow-mode-change")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"charter check: {relaxed} (--allow-mode-change)"
    assert "WARNING mode-changed" in result.output
    assert "Allowed by --allow-mode-change" in result.output
    github = check(relaxed, "--allow-mode-change", "--format", "github").output
    assert "::warning " in github and "mode-changed" in github
