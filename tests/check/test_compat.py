"""Every kind of change, classified, and judged under every compatibility mode.

BACKWARD: consumers on the new version read data written with the old one.
FORWARD: consumers on the old version read data written with the new one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codegen.check.compat import diff
from codegen.check.findings import Change
from codegen.check.modes import Mode, breaks
from tests.check.helpers import contract, report, write

ALL = frozenset(Mode)
BACK = frozenset({Mode.BACKWARD, Mode.BACKWARD_TRANSITIVE, Mode.NONE})  # breaks FORWARD only
FWD = frozenset({Mode.FORWARD, Mode.FORWARD_TRANSITIVE, Mode.NONE})  # breaks BACKWARD only
NONE = frozenset({Mode.NONE})  # breaks both ways

STR, NUM, INT = {"type": "string"}, {"type": "number"}, {"type": "integer"}
ITEM: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"price": {**INT, "description": "Cents."}},
}


def pair(old: dict[str, Any], new: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return contract(old, **kw), contract(new, **kw)


def field(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One field `f` whose schema changes from `old` to `new`."""
    return pair({"id": INT, "f": old}, {"id": INT, "f": new})


def with_items(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def item_price(schema: dict[str, Any]) -> dict[str, Any]:
    return {**ITEM, "properties": {"price": {**schema, "description": "Cents."}}}


def via_defs(price: dict[str, Any]) -> dict[str, Any]:
    body = contract({"items": {"type": "array", "items": {"$ref": "#/$defs/item"}}})
    body["$defs"] = {"item": item_price(price)}
    return body


def closed_open(old_closed: bool, new_closed: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    return contract({"id": INT}, closed=old_closed), contract({"id": INT}, closed=new_closed)


def meta(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return contract({"id": INT}, meta=old), contract({"id": INT}, meta=new)


DLQ_RULE = {"name": "positive", "expr": "data.id > 0"}
FLAG_RULE = {**DLQ_RULE, "on_failure": "flag"}

# fmt: off
CASES = [
    # fields added and removed: closed (additionalProperties: false) vs open objects
    pytest.param(*pair({"id": INT}, {"id": INT, "note": STR}), "field-added-optional", "$.note", BACK, id="optional-field-added-closed"),
    pytest.param(*pair({"id": INT}, {"id": INT, "note": STR}, closed=False), "field-added-optional", "$.note", ALL, id="optional-field-added-open"),
    pytest.param(contract({"id": INT}), contract({"id": INT, "note": STR}, required=("note",)), "field-added-required", "$.note", NONE, id="required-field-added-closed"),
    pytest.param(contract({"id": INT}, closed=False), contract({"id": INT, "note": STR}, required=("note",), closed=False), "field-added-required", "$.note", FWD, id="required-field-added-open"),
    pytest.param(*pair({"id": INT, "note": STR}, {"id": INT}), "field-removed", "$.note", FWD, id="optional-field-removed-closed"),
    pytest.param(*pair({"id": INT, "note": STR}, {"id": INT}, closed=False), "field-removed", "$.note", ALL, id="optional-field-removed-open"),
    pytest.param(contract({"id": INT, "note": STR}, required=("note",)), contract({"id": INT}), "field-removed", "$.note", NONE, id="required-field-removed-closed"),
    pytest.param(contract({"id": INT, "note": STR}, required=("note",), closed=False), contract({"id": INT}, closed=False), "field-removed", "$.note", BACK, id="required-field-removed-open"),
    pytest.param(*pair({"id": INT, "primary_image": STR}, {"id": INT, "image": STR}), "field-renamed", "$.primary_image", NONE, id="renamed-closed"),
    pytest.param(*pair({"id": INT, "primary_image": STR}, {"id": INT, "image": STR}, closed=False), "field-renamed", "$.primary_image", ALL, id="renamed-open"),
    # required-ness
    pytest.param(contract({"id": INT, "note": STR}), contract({"id": INT, "note": STR}, required=("note",)), "field-now-required", "$.note", FWD, id="optional-to-required"),
    pytest.param(contract({"id": INT, "note": STR}, required=("note",)), contract({"id": INT, "note": STR}), "field-now-optional", "$.note", BACK, id="required-to-optional"),
    # types, including nullability
    pytest.param(*field(STR, INT), "type-changed", "$.f", NONE, id="type-string-to-integer"),
    pytest.param(*field(STR, {"type": ["string", "null"]}), "nullable-added", "$.f", BACK, id="nullable-added"),
    pytest.param(*field({"type": ["string", "null"]}, STR), "nullable-removed", "$.f", FWD, id="nullable-removed"),
    pytest.param(*field(INT, NUM), "type-widened", "$.f", BACK, id="integer-to-number"),
    pytest.param(*field(NUM, INT), "type-narrowed", "$.f", FWD, id="number-to-integer"),
    # enums
    pytest.param(*field({"enum": ["a", "b"]}, {"enum": ["a", "b", "c"]}), "enum-widened", "$.f", BACK, id="enum-value-added"),
    pytest.param(*field({"enum": ["a", "b"]}, {"enum": ["a"]}), "enum-narrowed", "$.f", FWD, id="enum-value-removed"),
    pytest.param(*field({"enum": ["a", "b"]}, {"enum": ["a", "c"]}), "enum-changed", "$.f", NONE, id="enum-value-replaced"),
    pytest.param(*field(STR, {**STR, "enum": ["a"]}), "enum-narrowed", "$.f", FWD, id="enum-added"),
    pytest.param(*field({**STR, "enum": ["a"]}, STR), "enum-widened", "$.f", BACK, id="enum-dropped"),
    pytest.param(*field({"enum": [1]}, {"enum": [True]}), "enum-changed", "$.f", NONE, id="enum-true-is-not-1"),
    # constraints: length, range, multipleOf, pattern, format, items
    pytest.param(*field({**STR, "minLength": 1}, {**STR, "minLength": 3}), "constraint-tightened", "$.f", FWD, id="minLength-raised"),
    pytest.param(*field({**STR, "minLength": 3}, {**STR, "minLength": 1}), "constraint-loosened", "$.f", BACK, id="minLength-lowered"),
    pytest.param(*field({**STR, "maxLength": 9}, {**STR, "maxLength": 5}), "constraint-tightened", "$.f", FWD, id="maxLength-lowered"),
    pytest.param(*field(STR, {**STR, "maxLength": 5}), "constraint-tightened", "$.f", FWD, id="maxLength-added"),
    pytest.param(*field({**INT, "maximum": 5}, {**INT, "maximum": 9}), "constraint-loosened", "$.f", BACK, id="maximum-raised"),
    pytest.param(*field(INT, {**INT, "minimum": 0}), "constraint-tightened", "$.f", FWD, id="minimum-added"),
    pytest.param(*field({**INT, "minimum": 0}, INT), "constraint-loosened", "$.f", BACK, id="minimum-removed"),
    pytest.param(*field({**NUM, "exclusiveMinimum": 0}, {**NUM, "exclusiveMinimum": 1}), "constraint-tightened", "$.f", FWD, id="exclusiveMinimum-raised"),
    pytest.param(*field({**NUM, "exclusiveMaximum": 1}, {**NUM, "exclusiveMaximum": 2}), "constraint-loosened", "$.f", BACK, id="exclusiveMaximum-raised"),
    pytest.param(*field({**NUM, "multipleOf": 0.01}, {**NUM, "multipleOf": 0.02}), "constraint-tightened", "$.f", FWD, id="multipleOf-to-a-multiple"),
    pytest.param(*field({**NUM, "multipleOf": 0.02}, {**NUM, "multipleOf": 0.01}), "constraint-loosened", "$.f", BACK, id="multipleOf-to-a-divisor"),
    pytest.param(*field({**NUM, "multipleOf": 0.02}, {**NUM, "multipleOf": 0.03}), "constraint-changed", "$.f", NONE, id="multipleOf-unrelated"),
    pytest.param(*field(STR, {**STR, "pattern": "^[A-Z]+$"}), "constraint-tightened", "$.f", FWD, id="pattern-added"),
    pytest.param(*field({**STR, "pattern": "^[A-Z]+$"}, STR), "constraint-loosened", "$.f", BACK, id="pattern-removed"),
    pytest.param(*field({**STR, "pattern": "^[A-Z]+$"}, {**STR, "pattern": "^[A-Z0-9]+$"}), "constraint-changed", "$.f", NONE, id="pattern-changed"),
    pytest.param(*field(STR, {**STR, "format": "uri"}), "constraint-tightened", "$.f", FWD, id="format-added"),
    pytest.param(*field({**STR, "format": "uri"}, STR), "constraint-loosened", "$.f", BACK, id="format-removed"),
    pytest.param(*field({**STR, "format": "date"}, {**STR, "format": "date-time"}), "constraint-changed", "$.f", NONE, id="format-changed"),
    pytest.param(*field(with_items(STR), {**with_items(STR), "minItems": 1}), "constraint-tightened", "$.f", FWD, id="minItems-added"),
    pytest.param(*field({**with_items(STR), "maxItems": 5}, {**with_items(STR), "maxItems": 50}), "constraint-loosened", "$.f", BACK, id="maxItems-raised"),
    pytest.param(*field(with_items(STR), {**with_items(STR), "uniqueItems": True}), "constraint-tightened", "$.f", FWD, id="uniqueItems-added"),
    pytest.param(*field({**with_items(STR), "uniqueItems": True}, with_items(STR)), "constraint-loosened", "$.f", BACK, id="uniqueItems-removed"),
    # additionalProperties
    pytest.param(*closed_open(False, True), "additional-properties-changed", "$", FWD, id="object-closed"),
    pytest.param(*closed_open(True, False), "additional-properties-changed", "$", BACK, id="object-opened"),
    # nested objects, array items and $defs, with their JSON paths
    pytest.param(*field(ITEM, {**ITEM, "properties": {**ITEM["properties"], "tax": INT}}), "field-added-optional", "$.f.tax", BACK, id="nested-field-added"),
    pytest.param(*field(with_items(item_price(INT)), with_items(item_price(STR))), "type-changed", "$.f[*].price", NONE, id="array-item-field-type-changed"),
    pytest.param(via_defs(INT), via_defs({**INT, "minimum": 1}), "constraint-tightened", "$.items[*].price", FWD, id="defs-field-tightened"),
    # docs, PII and x-contract
    pytest.param(*field({**STR, "description": "Old."}, {**STR, "description": "New."}), "description-changed", "$.f", ALL, id="description-changed"),
    pytest.param(*field(STR, {**STR, "examples": ["x"]}), "annotation-changed", "$.f", ALL, id="examples-added"),
    pytest.param(*field(STR, {**STR, "x-pii": "hash"}), "pii-changed", "$.f", ALL, id="pii-added"),
    pytest.param(*meta({}, {"topic": "orders.v2"}), "topic-changed", "x-contract.topic", NONE, id="topic-changed"),
    pytest.param(*meta({}, {"partitions": 6}), "setting-changed", "x-contract.partitions", ALL, id="partitions-changed"),
    pytest.param(*meta({}, {"tags": ["retail"]}), "metadata-changed", "x-contract.tags", ALL, id="tags-changed"),
    pytest.param(*meta({}, {"rules": [DLQ_RULE]}), "rule-added", "x-contract.rules.positive", FWD, id="dlq-rule-added"),
    pytest.param(*meta({"rules": [DLQ_RULE]}, {}), "rule-removed", "x-contract.rules.positive", BACK, id="dlq-rule-removed"),
    pytest.param(*meta({"rules": [DLQ_RULE]}, {"rules": [{**DLQ_RULE, "expr": "data.id > 1"}]}), "rule-changed", "x-contract.rules.positive", NONE, id="dlq-rule-changed"),
    pytest.param(*meta({}, {"rules": [FLAG_RULE]}), "rule-added", "x-contract.rules.positive", ALL, id="flag-rule-added"),
]
# fmt: on


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, [(c.kind, c.path, c.message) for c in changes]
    return changes[0]


@pytest.mark.parametrize("mode", list(Mode), ids=str)
@pytest.mark.parametrize(("old", "new", "kind", "path", "compatible_under"), CASES)
def test_change_is_classified_and_judged_under_each_mode(
    old: dict[str, Any], new: dict[str, Any], kind: str, path: str, compatible_under: frozenset[Mode], mode: Mode
) -> None:
    change = only(diff(old, new))
    assert (change.kind, change.path) == (kind, path)
    assert breaks(change, mode) is (mode not in compatible_under)


@pytest.mark.parametrize(
    ("old", "new", "docs"),
    [
        pytest.param(*field({**STR, "description": "Old."}, {**STR, "description": "New."}), True, id="description"),
        pytest.param(*meta({}, {"tags": ["retail"]}), True, id="x-contract-tags"),
        pytest.param(*meta({}, {"partitions": 6}), False, id="x-contract-partitions"),
        pytest.param(*field(STR, {**STR, "x-pii": "redact"}), False, id="x-pii"),
        pytest.param(*field(STR, {**STR, "x-classification": "pci"}), True, id="x-classification"),
    ],
)
def test_only_docs_and_metadata_changes_are_patch_level(old: dict[str, Any], new: dict[str, Any], docs: bool) -> None:
    assert only(diff(old, new)).docs is docs


def test_rename_names_both_fields() -> None:
    change = only(diff(*pair({"primary_image": STR}, {"image": STR})))
    assert "renamed? `primary_image` → `image`" in change.message


def test_fields_of_different_types_are_a_removal_and_an_addition_not_a_rename() -> None:
    kinds = sorted(c.kind for c in diff(*pair({"count": INT}, {"label": STR})))
    assert kinds == ["field-added-optional", "field-removed"]


def test_identical_contracts_have_no_changes() -> None:
    assert diff(contract({"id": INT}), contract({"id": INT})) == []


def test_draft_4_open_object_gaining_an_optional_field_is_compatible(tmp_path: Path) -> None:
    # the containment proof must not use boolean schemas, which draft 4 does not have
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#"}
    write(tmp_path, "1.0.0", contract({"a": {"type": "string"}}, closed=False, **draft4))
    write(tmp_path, "1.1.0", contract({"a": {"type": "string"}, "b": {"type": "integer"}}, closed=False, **draft4))
    code, doc = report(tmp_path)
    assert code == 0, doc["findings"]
