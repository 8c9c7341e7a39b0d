"""A serve-only install (no `charter[codegen]`): `serve` starts, the codegen commands name the extra."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from collector.cli import main
from tests.conftest import SCHEMAS

CODEGEN_ONLY = ("jinja2", "datamodel_code_generator", "black", "isort", "pydantic")


def test_loading_the_cli_imports_no_codegen_only_package() -> None:
    probe = f"import sys, collector.cli; print([m for m in {CODEGEN_ONLY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _without(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == module else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize(
    ("args", "module"),
    [
        pytest.param(["docs"], "jinja2", id="docs"),
        pytest.param(["codegen", "python"], "datamodel_code_generator", id="codegen-python"),
    ],
)
def test_command_without_the_extra_exits_2_with_the_install_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], module: str
) -> None:
    _without(monkeypatch, module)
    result = CliRunner().invoke(main, [*args, "--schemas", str(SCHEMAS), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"needs the codegen extra ({module} is missing): pip install 'charter[codegen]'" in result.output
    assert not (tmp_path / "out").exists()


def test_help_of_a_codegen_command_works_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "jinja2")
    result = CliRunner().invoke(main, ["docs", "--help"])
    assert result.exit_code == 0 and "--out" in result.output
