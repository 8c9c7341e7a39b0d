"""`charter validate` gives the server's verdicts offline; `charter serve` fails fast and clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from collector.cli import main
from tests.conftest import SCHEMAS, payment


def events_file(tmp_path: Path, events: list[Any], ndjson: bool = False) -> Path:
    path = tmp_path / ("events.ndjson" if ndjson else "events.json")
    path.write_text("\n".join(json.dumps(e) for e in events) if ndjson else json.dumps(events))
    return path


GOOD = {"schema": "com.acme.shop/payment/1", "data": payment()}
BAD = {"schema": "com.acme.shop/payment/1", "data": payment(confirmation_code="0")}


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def test_validate_all_valid_exits_0(tmp_path: Path) -> None:
    result = invoke(
        "validate", str(events_file(tmp_path, [GOOD, {**GOOD, "data": payment(order_id=2)}])), "--schemas", str(SCHEMAS)
    )
    assert result.exit_code == 0
    assert "2 valid, 0 invalid" in result.output


def test_validate_any_invalid_exits_1_and_prints_the_reason(tmp_path: Path) -> None:
    result = invoke("validate", str(events_file(tmp_path, [GOOD, BAD])), "--schemas", str(SCHEMAS))
    assert result.exit_code == 1
    # the second event is "event 2": counted the way people count
    assert "event 2: rule_violation: $.confirmation_code: rule: confirmation_code_format" in result.output


def test_validate_json_prints_one_verdict_per_event(tmp_path: Path) -> None:
    path = events_file(tmp_path, [GOOD, BAD, {"data": {}}], ndjson=True)
    result = invoke("validate", str(path), "--schemas", str(SCHEMAS), "--json")
    verdicts = [json.loads(line) for line in result.output.splitlines()]
    assert [v["valid"] for v in verdicts] == [True, False, False]
    assert [v["index"] for v in verdicts] == [0, 1, 2]
    assert verdicts[1]["error"]["type"] == "rule_violation"
    assert verdicts[1]["error"]["failures"][0]["keyword"] == "rule"
    assert verdicts[2]["error"]["type"] == "malformed_event"


def test_validate_reads_schemas_from_env(tmp_path: Path) -> None:
    result = invoke("validate", str(events_file(tmp_path, [GOOD])), env={"CHARTER_SCHEMAS": str(SCHEMAS)})
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--schemas", "/nonexistent"], "schemas directory does not exist", id="no-schemas"),
        pytest.param([], "does not exist", id="no-file"),
    ],
)
def test_validate_usage_and_contract_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    target = str(events_file(tmp_path, [GOOD])) if args else str(tmp_path / "missing.json")
    result = invoke("validate", target, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_validate_unparseable_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text("[{")
    result = invoke("validate", str(path), "--schemas", str(SCHEMAS))
    assert result.exit_code == 2 and "invalid JSON" in result.output


def test_serve_refuses_to_start_on_a_bad_contract_naming_file_and_keyword(tmp_path: Path) -> None:
    bad = tmp_path / "com.example.app" / "signup" / "1.0.0.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"x-contract": {"owner": {"name": "x"}}, "properties": {"a": {"anyOf": []}}}))
    result = invoke("serve", env={"CHARTER_SCHEMAS": str(tmp_path)})
    assert result.exit_code == 2
    assert str(bad) in result.output and "`anyOf`" in result.output
