"""Output formats and exit codes: json parses, github lines are annotations, markdown is a
table, text has no colour off a terminal; 0 clean, 1 violations, 2 usage errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from codegen.check.command import check_command
from tests.check.helpers import check, contract, write

INT = {"type": "integer"}
FINDING_KEYS = ["level", "code", "file", "line", "path", "message", "contract", "owner"]
ANNOTATION = re.compile(r"^::(error|warning|notice) file=[^,:]+(,line=\d+)?,title=[^:]+::.+$")


@pytest.fixture
def failing(tmp_path: Path) -> Path:
    write(tmp_path, "1.0.0", contract({"id": INT}))
    write(tmp_path, "1.1.0", contract({"key": INT}))  # renamed in a MINOR
    return tmp_path


@pytest.fixture
def passing(tmp_path: Path) -> Path:
    write(tmp_path, "1.0.0", contract({"id": INT}))
    write(tmp_path, "1.0.1", {**contract({"id": INT}), "description": "An order, as placed."})
    return tmp_path


def test_json_has_a_stable_shape(failing: Path) -> None:
    result = check(failing, "--format", "json")
    doc = json.loads(result.output)
    assert list(doc) == ["ok", "findings", "changes", "suggestions"]
    assert doc["ok"] is False
    assert all(list(f) == FINDING_KEYS for f in doc["findings"])
    assert [c["kind"] for c in doc["changes"]] == ["field-renamed"]


def test_github_prints_one_annotation_per_finding(failing: Path) -> None:
    lines = check(failing, "--format", "github").output.splitlines()
    annotations = [line for line in lines if line.startswith("::")]
    assert len(annotations) == 2
    assert all(ANNOTATION.match(line) for line in annotations), annotations
    assert any(",line=" in line and "Data Engineering Team <data-eng@museum.org>" in line for line in annotations)
    assert "%0A" in next(line for line in annotations if "wrong-bump" in line)  # multi-line messages stay one line


def test_markdown_is_a_report_with_tables(failing: Path) -> None:
    output = check(failing, "--format", "markdown", "--suggest-version").output
    assert output.startswith("## ❌ Charter contract check")
    assert "|---|---|---|---|---|---|" in output
    assert "### Changes" in output
    assert "### Suggested versions" in output
    assert "Data Engineering Team &lt;data-eng@museum.org&gt;" in output


def test_text_is_plain_off_a_terminal(failing: Path) -> None:
    output = check(failing).output
    assert "\x1b[" not in output
    assert "FAILED: 2 error(s), 0 warning(s) in 1 contract(s), 2 version file(s)" in output


def test_a_clean_tree_exits_0_in_every_format(passing: Path) -> None:
    for fmt in ("text", "json", "github", "markdown"):
        assert check(passing, "--format", fmt).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--format", "xml"], "'xml' is not one of", id="bad-format"),
        pytest.param(["--frobnicate"], "No such option", id="unknown-flag"),
    ],
)
def test_bad_flags_exit_2(passing: Path, args: list[str], message: str) -> None:
    result = check(passing, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_missing_schemas_dir_exits_2(tmp_path: Path) -> None:
    result = check(tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_empty_schemas_dir_exits_2(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert result.exit_code == 2
    assert "no contracts found" in result.output


def test_text_is_coloured_on_a_terminal(failing: Path) -> None:
    output = CliRunner().invoke(check_command, ["--schemas", str(failing)], color=True).output
    assert "\x1b[31m" in output  # errors in red
