"""`charter import iglu|jsonschema` turns schemas people already have into contracts the collector loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from collector.cli import main
from collector.contracts import load_registry

FIXTURES = Path(__file__).resolve().parent / "import_fixtures"
IGLU = FIXTURES / "iglu"
IGLU_META = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"
DRAFT4 = "http://json-schema.org/draft-04/schema#"
STUB = {"owner": {"name": "TODO", "email": "todo@example.com"}, "status": "draft"}
IMPORTED = ["com.acme/checkout_started/1.0.0", "com.acme/checkout_started/1.0.1", "com.acme/linkClick/1.0.0"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def import_iglu(out: Path, *extra: str) -> Result:
    return invoke("import", "iglu", str(IGLU), "--out", str(out), *extra)


def source(rel: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((IGLU / "schemas" / rel).read_text())
    return doc


def verdicts(tmp_path: Path, schemas: Path, events: list[dict[str, Any]]) -> list[bool]:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    result = invoke("validate", str(path), "--schemas", str(schemas), "--json")
    assert result.exit_code in (0, 1), result.output
    return [json.loads(line)["valid"] for line in result.stdout.splitlines()]


def test_iglu_import_writes_each_schema_as_vendor_name_version_keeping_iglu_names(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    import_iglu(out)
    written = sorted(str(p.relative_to(out).with_suffix("")) for p in out.rglob("*.json"))
    assert written == IMPORTED  # linkClick is kept as Iglu spells it, so iglu: URIs resolve unmapped


def test_iglu_import_keeps_the_body_names_draft_4_and_adds_provenance_and_an_owner_stub(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    import_iglu(out)
    contract = json.loads((out / "com.acme/checkout_started/1.0.0.json").read_text())
    original = source("com.acme/checkout_started/jsonschema/1-0-0")
    assert contract["$schema"] == DRAFT4
    assert contract["x-iglu"] == {"uri": "iglu:com.acme/checkout_started/jsonschema/1-0-0", "schema": IGLU_META}
    assert contract["x-contract"] == STUB
    rest = {k: v for k, v in contract.items() if k not in ("$schema", "x-iglu", "x-contract")}
    assert rest == {k: v for k, v in original.items() if k != "$schema"}  # `self` included


def test_iglu_import_refuses_remote_refs_and_self_mismatches_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    result = import_iglu(out)
    assert result.exit_code == 1
    refusal = next(line for line in result.stderr.splitlines() if "com.acme/remote_ref/1.0.0" in line)
    assert refusal.startswith("refused   com.acme/remote_ref/1.0.0: not kept, Charter refuses it: ")
    assert "$.properties.inner" in refusal
    assert (
        "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/instance-iglu-only/jsonschema/1-0-0#" in refusal
    )
    assert (
        "refused   com.acme/mismatch/1.0.0: `self` says iglu:com.acme/mismatch/jsonschema/1-0-1 "
        "but the path says iglu:com.acme/mismatch/jsonschema/1-0-0"
    ) in result.stderr
    assert not (out / "com.acme/remote_ref").exists()
    assert not (out / "com.acme/mismatch").exists()


def test_iglu_import_prints_a_summary_with_reasons(tmp_path: Path) -> None:
    result = import_iglu(tmp_path / "schemas")
    lines = result.stdout.splitlines()
    assert "imported  com.acme/linkClick/1.0.0" in result.stdout
    assert "3 imported, 0 unchanged, 1 skipped, 0 conflicting, 2 refused" in lines
    assert "  skipped: 1 not-jsonschema" in lines  # the avro schema
    assert "  refused: 1 remote-ref, 1 self-mismatch" in lines
    assert f"{tmp_path / 'schemas'}: 3 contracts load" in lines


def test_keep_going_exits_0_despite_refusals(tmp_path: Path) -> None:
    assert import_iglu(tmp_path / "schemas", "--keep-going").exit_code == 0


def test_imported_contracts_load_with_the_collectors_loader(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    import_iglu(out)
    assert sorted(c.ref for c in load_registry(out)) == IMPORTED


def test_imported_iglu_contract_validates_events_as_draft_4(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    import_iglu(out)
    events = [
        {"schema": "com.acme/checkout_started/1.0.0", "data": {"cart_id": "c1", "total": 0.5, "currency": "EUR"}},
        # draft 4: `exclusiveMinimum: true` makes `minimum: 0` exclusive, so 0 is out
        {"schema": "com.acme/checkout_started/1.0.0", "data": {"cart_id": "c1", "total": 0}},
        {"schema": "com.acme/checkout_started/1.0.0", "data": {"cart_id": "c1", "total": 1, "currency": "GBP"}},
        {"schema": "com.acme/checkout_started/1.0.0", "data": {"cart_id": "c1", "total": 1, "coupon": None}},
        {"schema": "com.acme/checkout_started/1.0.1", "data": {"cart_id": "c1", "total": 1, "coupon": None}},
        {"schema": "com.acme/linkClick/1.0.0", "data": {"targetUrl": "https://acme.example/", "elementClasses": None}},
        {"schema": "com.acme/linkClick/1.0.0", "data": {"targetUrl": ""}},
    ]
    assert verdicts(tmp_path, out, events) == [True, False, False, False, True, True, False]


def test_reimport_reports_unchanged_and_keeps_the_owner_the_user_filled_in(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    import_iglu(out)
    path = out / "com.acme/linkClick/1.0.0.json"
    contract = json.loads(path.read_text())
    contract["x-contract"] = {"owner": {"name": "Web team", "email": "web@acme.example"}, "status": "active"}
    path.write_text(json.dumps(contract))
    result = import_iglu(out)
    assert "0 imported, 3 unchanged, 1 skipped, 0 conflicting, 2 refused" in result.stdout
    assert json.loads(path.read_text())["x-contract"]["owner"]["name"] == "Web team"


def test_a_published_version_that_differs_is_a_conflict_and_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    import_iglu(out)
    path = out / "com.acme/checkout_started/1.0.0.json"
    contract = json.loads(path.read_text())
    contract["properties"]["total"]["maximum"] = 1000
    path.write_text(json.dumps(contract))
    result = import_iglu(out, "--keep-going")
    assert result.exit_code == 0
    assert f"conflict  com.acme/checkout_started/1.0.0: {path} exists with a different schema" in result.stderr
    assert "0 imported, 2 unchanged, 1 skipped, 1 conflicting, 2 refused" in result.stdout
    assert json.loads(path.read_text())["properties"]["total"]["maximum"] == 1000


def test_iglu_import_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    shutil.copytree(IGLU, tmp_path / "iglu")
    (tmp_path / "iglu/schemas/com.acme/linkClick/jsonschema/1-0-0").write_text("{not json")
    result = invoke("import", "iglu", str(tmp_path / "iglu"), "--out", str(tmp_path / "schemas"))
    assert result.exit_code == 1
    assert "refused   com.acme/linkClick/1.0.0: " in result.stderr
    assert "  refused: 1 invalid-json, 1 remote-ref, 1 self-mismatch" in result.stdout.splitlines()


def test_iglu_import_accepts_the_schemas_folder_itself(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    invoke("import", "iglu", str(IGLU / "schemas"), "--out", str(out))
    assert (out / "com.acme/linkClick/1.0.0.json").is_file()


def test_iglu_import_of_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke("import", "iglu", str(tmp_path / "empty"), "--out", str(tmp_path / "schemas"))
    assert result.exit_code == 2
    assert "no files" in result.stderr


def test_jsonschema_import_keeps_a_missing_schema_as_2020_12_and_adds_the_stub(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    file = FIXTURES / "jsonschema/refund.yaml"
    result = invoke("import", "jsonschema", str(file), "--as", "com.acme.shop/refund/1.0.0", "--out", str(out))
    assert result.exit_code == 0, result.output
    contract = json.loads((out / "com.acme.shop/refund/1.0.0.json").read_text())
    assert "$schema" not in contract
    assert contract["x-contract"] == STUB
    events = [
        {"schema": "com.acme.shop/refund/1.0.0", "data": {"order_id": 1, "amount": 0.01}},
        {"schema": "com.acme.shop/refund/1.0.0", "data": {"order_id": 1, "amount": 0}},  # 2020-12 exclusiveMinimum
        {"schema": "com.acme.shop/refund/1.0.0", "data": {"order_id": 1, "amount": 5, "reason": "late"}},
    ]
    assert verdicts(tmp_path, out, events) == [True, False, True]


def test_a_relative_ref_under_an_http_id_is_refused_as_remote(tmp_path: Path) -> None:
    file = tmp_path / "tool.json"
    body = {
        "$id": "https://schemas.example.com/tool.json",
        "properties": {"base": {"$ref": "base.json#/definitions/x"}},
    }
    file.write_text(json.dumps(body))
    out = tmp_path / "schemas"
    result = invoke("import", "jsonschema", str(file), "--as", "com.example.tools/tool/1.0.0", "--out", str(out))
    assert result.exit_code == 1
    assert "base.json#/definitions/x" in result.stderr
    assert "  refused: 1 remote-ref" in result.stdout.splitlines()
    assert not out.joinpath("com.example.tools").exists()


def test_jsonschema_import_reads_yaml_dates_as_the_strings_they_were(tmp_path: Path) -> None:
    file = tmp_path / "launch.yaml"
    file.write_text(
        "description: A launch\ntype: object\nproperties:\n  day: {type: string, format: date, examples: [2026-12-01]}\n"
    )
    out = tmp_path / "schemas"
    result = invoke("import", "jsonschema", str(file), "--as", "com.acme.shop/launch/1.0.0", "--out", str(out))
    assert result.exit_code == 0, result.output
    contract = json.loads((out / "com.acme.shop/launch/1.0.0.json").read_text())
    assert contract["properties"]["day"]["examples"] == ["2026-12-01"]


def test_jsonschema_import_keeps_an_iglu_file_importable_as_draft_4(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    file = IGLU / "schemas/com.acme/linkClick/jsonschema/1-0-0"
    result = invoke("import", "jsonschema", str(file), "--as", "com.acme.web/link_click/2.0.0", "--out", str(out))
    assert result.exit_code == 0, result.output
    contract = json.loads((out / "com.acme.web/link_click/2.0.0.json").read_text())
    assert contract["$schema"] == DRAFT4
    assert contract["x-iglu"] == {"schema": IGLU_META}


def test_jsonschema_import_reports_the_loaders_refusal_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    file = FIXTURES / "jsonschema/bad_meta.json"
    result = invoke("import", "jsonschema", str(file), "--as", "com.acme.shop/bad_meta/1.0.0", "--out", str(out))
    assert result.exit_code == 1
    assert "refused   com.acme.shop/bad_meta/1.0.0: not kept, Charter refuses it: " in result.stderr
    assert "x-contract" in result.stderr and "colour" in result.stderr
    assert not (out / "com.acme.shop/bad_meta").exists()


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("com.acme.shop/refund", id="no-version"),
        pytest.param("com.acme.shop/refund/1.0", id="not-semver"),
        pytest.param("com.acme.shop//1.0.0", id="empty-name"),
        pytest.param("../escape/1.0.0", id="outside-the-directory"),
        pytest.param("acme/refund/1.0.0", id="one-segment-namespace"),
    ],
)
def test_jsonschema_import_refuses_a_malformed_as(tmp_path: Path, ref: str) -> None:
    file = FIXTURES / "jsonschema/refund.yaml"
    result = invoke("import", "jsonschema", str(file), "--as", ref, "--out", str(tmp_path / "schemas"))
    assert result.exit_code == 2
    assert "--as" in result.output
    assert not (tmp_path / "schemas").exists()


def test_jsonschema_import_never_overwrites_a_different_published_version(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    shutil.copytree(IGLU, tmp_path / "iglu")
    file = tmp_path / "iglu/schemas/com.acme/linkClick/jsonschema/1-0-0"
    args = ["import", "jsonschema", str(file), "--as", "com.acme.web/link_click/1.0.0", "--out", str(out)]
    assert invoke(*args).exit_code == 0
    body = json.loads(file.read_text())
    body["required"] = []
    file.write_text(json.dumps(body))
    result = invoke(*args)
    assert result.exit_code == 1
    assert "conflict  com.acme.web/link_click/1.0.0" in result.stderr
    assert json.loads((out / "com.acme.web/link_click/1.0.0.json").read_text())["required"] == ["targetUrl"]


def test_charter_check_asks_for_the_owner_the_import_left_as_a_stub(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    import_iglu(out)
    result = invoke("check", "--schemas", str(out))
    assert result.exit_code == 1
    placeholders = [line for line in result.output.splitlines() if "owner-placeholder" in line]
    assert len(placeholders) == len(IMPORTED)
