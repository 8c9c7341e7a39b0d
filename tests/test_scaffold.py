"""`charter new NAMESPACE/NAME`: a first contract that `charter check` passes and the collector serves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from collector.cli import main
from collector.contracts import load_registry

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--owner", "Commerce Team", "--email", "commerce@acme.example", "--description", "A refund of a payment."]


def new(schemas: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["new", *args, "--schemas", str(schemas)])
    return result.exit_code, result.output


def test_a_new_contract_passes_check_and_loads(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas" / "com.acme.shop", schemas / "com.acme.shop")
    code, out = new(schemas, "com.acme.shop/refund", *FLAGS, "--field", "order_id:integer")
    assert code == 0, out
    path = schemas / "com.acme.shop" / "refund" / "1.0.0.json"
    assert f"wrote {path}" in out and "charter check" in out
    body = json.loads(path.read_text())
    assert body["x-contract"]["owner"] == {"name": "Commerce Team", "email": "commerce@acme.example"}
    assert body["x-contract"]["topic"] == "events.com.acme.shop.refund.v1"
    assert body["properties"]["order_id"]["type"] == "integer" and body["required"] == ["order_id"]
    checked = CliRunner().invoke(main, ["check", "--schemas", str(schemas)])
    assert checked.exit_code == 0, checked.output
    assert "0 error(s), 0 warning(s)" in checked.output
    assert ("com.acme.shop", "refund") in {(c.namespace, c.name) for c in load_registry(schemas)}


def test_new_asks_for_what_check_requires_when_no_flag_gives_it(tmp_path: Path) -> None:
    answers = "Commerce Team\ncommerce@acme.example\nA refund of a payment.\n"
    result = CliRunner().invoke(main, ["new", "com.acme.shop/refund", "--schemas", str(tmp_path)], input=answers)
    assert result.exit_code == 0, result.output
    body = json.loads((tmp_path / "com.acme.shop" / "refund" / "1.0.0.json").read_text())
    assert body["description"] == "A refund of a payment." and body["properties"]["id"]["type"] == "string"


def test_new_never_overwrites_a_contract(tmp_path: Path) -> None:
    assert new(tmp_path, "com.acme.shop/refund", *FLAGS)[0] == 0
    code, out = new(tmp_path, "com.acme.shop/refund", *FLAGS)
    assert code == 2 and "exists" in out


def test_new_refuses_a_name_check_would_refuse(tmp_path: Path) -> None:
    code, out = new(tmp_path, "Acme/Refund", *FLAGS)
    assert code == 2 and "e.g. com.acme.shop/refund" in out
    assert not any(tmp_path.iterdir())


def test_after_a_new_contract_the_sdk_drift_check_fails_with_the_command_to_run(tmp_path: Path) -> None:
    schemas, sdk = tmp_path / "schemas", tmp_path / "typescript"
    shutil.copytree(ROOT / "schemas", schemas)
    shutil.copytree(ROOT / "sdks" / "typescript", sdk, ignore=shutil.ignore_patterns("node_modules"))
    check = ["codegen", "typescript", "--out", str(sdk), "--schemas", str(schemas), "--check"]
    assert CliRunner().invoke(main, check).exit_code == 0, "the committed SDK matches the committed contracts"
    assert new(schemas, "com.acme.shop/refund", *FLAGS)[0] == 0
    stale = CliRunner().invoke(main, check)
    assert stale.exit_code == 1
    assert f"run `charter codegen typescript --out {sdk} --schemas {schemas}` and commit the result" in stale.output
