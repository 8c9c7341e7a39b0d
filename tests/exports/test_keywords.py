"""Exports and docs read contracts that use the whole of JSON Schema: references to shared files,
combinators, tuples, pattern maps and enums of any JSON values never crash them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from codegen.exports.command import docs_command, export_group
from tests.conftest import OWNER

REFUND = {
    "title": "Refund", "description": "A refund.", "type": "object", "x-contract": OWNER,
    "required": ["refund_id", "amount", "method"],
    "properties": {
        "refund_id": {"type": "string", "format": "uuid", "description": "Refund id."},
        "amount": {"$ref": "../../_shared/money.json#/$defs/cents", "description": "Refunded amount."},
        "method": {"description": "How it was paid back.", "oneOf": [
            {"type": "object", "properties": {"kind": {"const": "card"}, "card": {"type": "string", "x-pii": "redact"}}},
            {"type": "object", "properties": {"kind": {"const": "iban"}, "iban": {"type": "string", "x-pii": "hash"}}}]},
        "tags": {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}, "description": "Tags."},
        "attrs": {"type": "object", "patternProperties": {"^x_": {"type": "string"}}, "description": "Attributes."},
        "reason": {"enum": ["damaged", 1, None, {"a": 1}], "description": "Why."},
    },
}  # fmt: skip


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    (root / "_shared").mkdir(parents=True)
    (root / "_shared" / "money.json").write_text(json.dumps({"$defs": {"cents": {"type": "integer", "minimum": 0}}}))
    path = root / "com.acme.shop" / "refund" / "1.0.0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(REFUND))
    return root


def test_every_export_reads_a_contract_using_the_whole_of_json_schema(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    for args in (["ddl"], ["ddl", "--dialect", "snowflake"], ["dbt"], ["asyncapi"]):
        result = CliRunner().invoke(export_group, [*args, "--schemas", str(root), "--out", str(tmp_path / "out")])
        assert result.exit_code == 0, (args, result.output)
    ddl = (tmp_path / "out" / "postgres.sql").read_text()
    assert '"amount" BIGINT NOT NULL' in ddl  # the type came through the reference to the shared file
    assert '"method" JSONB NOT NULL' in ddl  # a oneOf of shapes is a JSON column
    asyncapi = (tmp_path / "out" / "asyncapi.yaml").read_text()
    assert "_shared" not in asyncapi  # file references are inlined: they mean nothing in the document
    result = CliRunner().invoke(docs_command, ["--schemas", str(root), "--out", str(tmp_path / "docs")])
    assert result.exit_code == 0, result.output
