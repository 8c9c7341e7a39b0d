"""`--against GIT_REF` on a temporary repository: published versions are immutable, active
versions are not deleted, new contracts and versions are listed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.check.helpers import REF, check, codes, contract, report, write

INT, STR = {"type": "integer"}, {"type": "string"}
V1 = contract({"id": INT}, closed=False)


def git(repo: Path, *args: str) -> None:
    config = ["-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *config, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with `schemas/` holding 1.0.0 (active) and 1.1.0 (deprecated), committed."""
    git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path / "schemas", "1.0.0", V1)
    write(
        tmp_path / "schemas", "1.1.0", contract({"id": INT, "note": STR}, closed=False, meta={"status": "deprecated"})
    )
    (tmp_path / "README.md").write_text("not a contract\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "publish")
    return tmp_path


def schemas_of(repo: Path) -> Path:
    return repo / "schemas"


def edit(path: Path, **changes: Any) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=2) + "\n")


def test_unchanged_tree_passes(repo: Path) -> None:
    assert report(schemas_of(repo), "--against", "HEAD")[1]["findings"] == []


def test_editing_a_published_version_fails_naming_the_file(repo: Path) -> None:
    path = schemas_of(repo) / REF / "1.0.0.json"
    edit(path, description="An order, edited in place.")
    exit_code, doc = report(schemas_of(repo), "--against", "HEAD")
    assert exit_code == 1
    (finding,) = [f for f in doc["findings"] if f["code"] == "published-modified"]
    assert finding["file"] == str(path)
    assert finding["line"] == 2  # the description's line
    assert "publish it as 1.1.1" in finding["message"]  # a PATCH (docs), after the newest published 1.1.0
    assert finding["message"].endswith("Changes:\n  - `$` `description` changed [docs]")


def test_deleting_an_active_version_fails(repo: Path) -> None:
    (schemas_of(repo) / REF / "1.0.0.json").unlink()
    exit_code, doc = report(schemas_of(repo), "--against", "HEAD")
    assert exit_code == 1
    assert codes(doc) == ["active-deleted"]
    assert doc["findings"][0]["file"].endswith(f"{REF}/1.0.0.json")


def test_deleting_a_deprecated_version_is_listed(repo: Path) -> None:
    (schemas_of(repo) / REF / "1.1.0.json").unlink()
    exit_code, doc = report(schemas_of(repo), "--against", "HEAD")
    assert exit_code == 0
    assert codes(doc, "info") == ["version-removed"]


def test_new_contracts_and_versions_are_listed(repo: Path) -> None:
    write(schemas_of(repo), "1.2.0", contract({"id": INT, "note": STR, "tag": STR}, closed=False))
    write(schemas_of(repo), "1.0.0", V1, ref="org.example.shop/refund")
    exit_code, doc = report(schemas_of(repo), "--against", "HEAD")
    assert exit_code == 0
    assert sorted((f["code"], f["contract"]) for f in doc["findings"]) == [
        ("new-contract", "org.example.shop/refund"),
        ("new-version", REF),
    ]


def test_against_an_older_commit_sees_everything_since(repo: Path) -> None:
    write(schemas_of(repo), "1.2.0", contract({"id": INT, "note": STR, "tag": STR}, closed=False))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "1.2.0")
    _, doc = report(schemas_of(repo), "--against", "HEAD~1")
    assert codes(doc, "info") == ["new-version"]
    assert report(schemas_of(repo), "--against", "HEAD")[1]["findings"] == []


def test_suggested_version_is_measured_from_the_ref(repo: Path) -> None:
    write(schemas_of(repo), "1.2.0", contract({"id": STR}, closed=False))  # `id` integer → string: breaking
    exit_code, doc = report(schemas_of(repo), "--against", "HEAD", "--suggest-version")
    assert exit_code == 1
    assert doc["suggestions"] == [
        {"contract": REF, "base": "1.1.0", "version": "1.2.0", "suggested": "2.0.0", "needs": "MAJOR", "ok": False}
    ]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        pytest.param("no-such-ref", "unknown git ref 'no-such-ref'", id="unknown-ref"),
        pytest.param("HEAD~5", "unknown git ref 'HEAD~5'", id="ref-before-the-first-commit"),
    ],
)
def test_an_unknown_ref_is_a_usage_error(repo: Path, ref: str, message: str) -> None:
    result = check(schemas_of(repo), "--against", ref)
    assert result.exit_code == 2
    assert message in result.output


def test_against_outside_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path / "schemas", "1.0.0", V1)
    result = check(tmp_path / "schemas", "--against", "HEAD", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert result.exit_code == 2
    assert "--against" in result.output


def test_a_formatting_only_edit_still_fails(repo: Path) -> None:
    path = schemas_of(repo) / REF / "1.0.0.json"
    path.write_text(json.dumps(json.loads(path.read_text())))  # same content, one line
    exit_code, doc = report(schemas_of(repo), "--against", "HEAD")
    assert exit_code == 1
    (finding,) = doc["findings"]
    assert finding["code"] == "published-modified"
    assert "(it changes only the file's formatting)" in finding["message"]


def test_an_edit_is_suggested_as_a_new_version_after_the_newest(repo: Path) -> None:
    edit(schemas_of(repo) / REF / "1.1.0.json", properties={"id": {**INT, "description": "Id.", "x-pii": "redact"}})
    _, doc = report(schemas_of(repo), "--against", "HEAD")
    assert doc["suggestions"] == [
        {"contract": REF, "base": "1.1.0", "version": "1.1.0", "suggested": "1.2.0", "needs": "MINOR", "ok": False}
    ]
