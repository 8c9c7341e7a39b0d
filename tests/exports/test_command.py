"""`charter export ...` and `charter docs`: what a user sees on success and on each kind of failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner, Result

from codegen.exports.command import docs_command, export_group
from tests.conftest import OWNER, SCHEMAS


def invoke(command: click.Command, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(command, list(args), env=env)


def contract_dir(tmp_path: Path, x_contract: dict[str, Any]) -> Path:
    path = tmp_path / "schemas" / "com.example.test" / "thing" / "1.0.0.json"
    path.parent.mkdir(parents=True)
    body = {"type": "object", "x-contract": {**OWNER, **x_contract},
            "properties": {"n": {"type": "integer", "description": "A number."}}}  # fmt: skip
    path.write_text(json.dumps(body))
    return tmp_path / "schemas"


def test_commands_have_the_names_the_charter_group_attaches() -> None:
    assert isinstance(export_group, click.Group) and export_group.name == "export"
    assert sorted(export_group.commands) == ["asyncapi", "dbt", "ddl", "rows"]
    assert docs_command.name == "docs"


def test_ddl_defaults_to_postgres_and_names_the_file_it_wrote(tmp_path: Path) -> None:
    result = invoke(export_group, "ddl", "--schemas", str(SCHEMAS), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {tmp_path / 'out' / 'postgres.sql'}\n"
    assert "CREATE TABLE" in (tmp_path / "out" / "postgres.sql").read_text()


def test_schemas_dir_comes_from_charter_schemas_env(tmp_path: Path) -> None:
    result = invoke(export_group, "dbt", "--out", str(tmp_path), env={"CHARTER_SCHEMAS": str(SCHEMAS)})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sources.yml").exists()


def test_unknown_dialect_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(export_group, "ddl", "--dialect", "oracle", "--schemas", str(SCHEMAS), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "'oracle' is not one of 'postgres', 'duckdb', 'redshift', 'snowflake', 'bigquery'" in result.output


def test_out_is_required(tmp_path: Path) -> None:
    result = invoke(docs_command, "--schemas", str(SCHEMAS))
    assert result.exit_code == 2
    assert "Missing option '--out'" in result.output


def test_missing_schemas_dir_exits_2_and_says_how_to_fix(tmp_path: Path) -> None:
    result = invoke(export_group, "asyncapi", "--schemas", str(tmp_path / "nope"), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "schemas directory does not exist (set --schemas DIR)" in result.output


def test_warehouse_key_that_is_not_a_field_exits_1_naming_contract_and_key(tmp_path: Path) -> None:
    schemas = contract_dir(tmp_path, {"warehouse": {"sort_key": "created"}})
    result = invoke(export_group, "ddl", "--schemas", str(schemas), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "x-contract.warehouse.sort_key 'created' is not a top-level field" in result.output
    assert "com.example.test/thing/1" in result.output
    assert not (tmp_path / "out").exists()
