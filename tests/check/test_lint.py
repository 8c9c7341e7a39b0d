"""Lint: owners, descriptions, layout, versions in paths, PII tags, keyword typos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.check.helpers import contract, report, write

INT, STR = {"type": "integer"}, {"type": "string"}


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def undescribed(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """`body` with the `description` at `path` (keys into the document) removed."""
    body = json.loads(json.dumps(body))
    node = body
    for key in path:
        node = node[key]
    del node["description"]
    return body


# fmt: off
NESTED = contract({"address": {"type": "object", "properties": {"zip": {**STR, "description": "Postcode."}}}})
ITEMS = contract({"lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {**STR, "description": "SKU."}}}}})
DEFS = {**contract({"lines": {"type": "array", "items": {"$ref": "#/$defs/line"}}}),
        "$defs": {"line": {"type": "object", "description": "A line.", "properties": {"qty": {**INT, "description": "Units."}}}}}

PROBLEMS = [
    pytest.param("1.0.0", without(contract({"id": INT}), "description"), "missing-description", "", id="no-description"),
    pytest.param("1.0.0", undescribed(contract({"id": INT}), "properties", "id"), "missing-field-description", "$.id", id="field"),
    pytest.param("1.0.0", undescribed(NESTED, "properties", "address", "properties", "zip"), "missing-field-description", "$.address.zip", id="nested-field"),
    pytest.param("1.0.0", undescribed(ITEMS, "properties", "lines", "items", "properties", "sku"), "missing-field-description", "$.lines[*].sku", id="array-item-field"),
    pytest.param("1.0.0", undescribed(DEFS, "$defs", "line", "properties", "qty"), "missing-field-description", "$defs.line.qty", id="defs-field"),
    pytest.param("1.0.0", {**contract({"id": INT}), "x-contract": {}}, "missing-owner", "$.x-contract.owner", id="no-owner"),
    pytest.param("1.0.0", without(contract({"id": INT}), "x-contract"), "missing-owner", "$.x-contract.owner", id="no-x-contract"),
    pytest.param("1.0.0", contract({"id": {**INT, "x-pii": "scramble"}}), "unknown-pii", "$.id", id="unknown-pii"),
    pytest.param("1.0.0", contract({"id": INT}, meta={"compatibility": "SIDEWAYS"}), "unknown-compatibility", "$.x-contract.compatibility", id="unknown-mode"),
    pytest.param("1.0.0", {**contract({"id": INT}), "$id": "https://example.org/order/1.2.0"}, "version-mismatch", "$.$id", id="id-names-another-version"),
    pytest.param("1.0.0", contract({"id": INT}, meta={"owner": {"name": "TODO", "email": "todo@example.com"}}), "owner-placeholder", "$.x-contract.owner.name", id="owner-placeholder"),
    pytest.param("1.0", contract({"id": INT}), "layout", "", id="version-not-semver"),
    pytest.param("01.0.0", contract({"id": INT}), "layout", "", id="version-leading-zero"),
    pytest.param("1.0.0", "{not json", "invalid-document", "", id="invalid-json"),
    pytest.param("1.0.0", contract({"id": INT}, meta={"partition_key": "nope"}), "load-error", "", id="loader-refusal"),
]
# fmt: on


@pytest.mark.parametrize(("rel", "body", "code", "path"), PROBLEMS)
def test_lint_reports_the_problem_with_its_path(tmp_path: Path, rel: str, body: Any, code: str, path: str) -> None:
    write(tmp_path, rel, body)
    exit_code, doc = report(tmp_path)
    assert exit_code == 1
    assert [(f["code"], f["path"]) for f in doc["findings"] if f["level"] == "error"] == [(code, path)]


def test_a_namespace_that_is_not_reverse_dns_is_a_layout_error(tmp_path: Path) -> None:
    write(tmp_path, "1.0.0", contract({"id": INT}), ref="example/order")
    exit_code, doc = report(tmp_path)
    assert exit_code == 1
    assert [f["message"] for f in doc["findings"]] == ["namespace 'example' must be reverse-DNS, e.g. com.acme.shop"]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        pytest.param(
            "Org.Example/order",
            "namespace 'Org.Example' is not lower-case reverse-DNS (e.g. com.acme.shop); kept as imported",
            id="namespace",
        ),
        pytest.param(
            "org.example.shop/OrderPlaced", "name 'OrderPlaced' is not snake_case (e.g. page_view)", id="name"
        ),
    ],
)
def test_imported_names_off_the_convention_load_with_a_warning(tmp_path: Path, ref: str, message: str) -> None:
    write(tmp_path, "1.0.0", contract({"id": INT}), ref=ref)
    exit_code, doc = report(tmp_path)
    assert exit_code == 0
    assert [(f["level"], f["code"], f["message"]) for f in doc["findings"]] == [("warning", "naming", message)]


# fmt: off
TYPOS = [
    pytest.param({"note": {**STR, "maxlength": 3}}, "$.properties.note.maxlength", "maxLength", id="case"),
    pytest.param({"note": STR}, "$.requried", "required", id="misspelt-at-the-root"),
    pytest.param({"n": {**INT, "minimun": 0}}, "$.properties.n.minimun", "minimum", id="close-match"),
    pytest.param({"n": {"anyOf": [STR, {**INT, "Maximum": 9}]}}, "$.properties.n.anyOf[1].Maximum", "maximum", id="inside-anyOf"),
    pytest.param({"m": {"type": "object", "additionalproperties": False}}, "$.properties.m.additionalproperties", "additionalProperties", id="camel-case"),
]
# fmt: on


@pytest.mark.parametrize(("properties", "path", "meant"), TYPOS)
def test_a_keyword_typo_warns_naming_file_path_and_the_keyword_meant(
    tmp_path: Path, properties: dict[str, Any], path: str, meant: str
) -> None:
    body = contract(properties)
    if path == "$.requried":
        body["requried"] = ["note"]
    file = write(tmp_path, "1.0.0", body)
    exit_code, doc = report(tmp_path)
    assert exit_code == 0  # an unknown keyword is an annotation: the contract is valid
    (finding,) = doc["findings"]
    assert (finding["level"], finding["code"], finding["file"], finding["path"]) == (
        "warning", "keyword-typo", str(file), path,
    )  # fmt: skip
    assert f"did you mean `{meant}`?" in finding["message"]


def test_x_keywords_and_annotations_that_resemble_nothing_are_not_warned_about(tmp_path: Path) -> None:
    body = contract({"id": {**INT, "x-maxlength": 3, "x-pii": "none", "unit": "cents"}})
    write(tmp_path, "1.0.0", body)
    assert report(tmp_path) == (0, {"ok": True, "findings": [], "changes": [], "suggestions": []})


def test_every_keyword_of_json_schema_passes_lint(tmp_path: Path) -> None:
    body = contract(
        {
            "kind": {"oneOf": [{"const": "a"}, {"const": "b"}]},
            "amount": {"anyOf": [INT, {"type": "null"}], "not": {"const": 0}},
            "tags": {"type": "array", "prefixItems": [STR], "items": INT, "contains": INT, "minContains": 1},
            "attrs": {"type": "object", "patternProperties": {"^x_": STR}, "propertyNames": {"maxLength": 9}},
        },
        closed=False,
    )
    body |= {"if": {"required": ["kind"]}, "then": {"required": ["amount"]}, "dependentRequired": {"tags": ["kind"]}}
    body |= {"unevaluatedProperties": False, "allOf": [{"minProperties": 1}]}
    write(tmp_path, "1.0.0", body)
    assert report(tmp_path) == (0, {"ok": True, "findings": [], "changes": [], "suggestions": []})


def test_lines_are_found_in_yaml_contracts(tmp_path: Path) -> None:
    path = tmp_path / "org.example.shop/order/1.0.0.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "description: An order.\ntype: object\nx-contract:\n  owner: {name: Shop, email: shop@example.org}\n"
        "properties:\n  id:\n    type: integer\n"
    )
    _, doc = report(tmp_path)
    assert [(f["code"], f["line"]) for f in doc["findings"]] == [("missing-field-description", 6)]


def test_one_version_in_two_files_is_a_duplicate(tmp_path: Path) -> None:
    write(tmp_path, "1.0.0.json", contract({"id": INT}))
    write(tmp_path, "1.0.0.yaml", json.dumps(contract({"id": INT})))
    exit_code, doc = report(tmp_path)
    assert exit_code == 1
    assert [f["code"] for f in doc["findings"]] == ["duplicate-version", "duplicate-version"]


def test_an_owner_without_email_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "1.0.0", contract({"id": INT}, meta={"owner": {"name": "Shop"}}))
    exit_code, doc = report(tmp_path)
    assert exit_code == 0
    assert [(f["level"], f["code"]) for f in doc["findings"]] == [("warning", "owner-email")]


def test_a_field_may_take_its_description_from_its_defs_target(tmp_path: Path) -> None:
    body = {**contract({}), "$defs": {"money": {**INT, "description": "Cents."}}}
    body["properties"] = {"price": {"$ref": "#/$defs/money"}}
    write(tmp_path, "1.0.0", body)
    assert report(tmp_path) == (0, {"ok": True, "findings": [], "changes": [], "suggestions": []})


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)
