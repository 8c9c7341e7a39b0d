"""Keywords the change-by-change diff does not model (anyOf, oneOf, if/then, patternProperties,
…) are judged by the containment proof: a direction it proves is compatible, anything else is
breaking, and the change names the keyword and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from codegen.check.compat import diff
from codegen.check.modes import Mode, breaks
from codegen.check.proof import prove
from tests.check.helpers import contract, report, write

ALL = frozenset(Mode)
BACK = frozenset({Mode.BACKWARD, Mode.BACKWARD_TRANSITIVE, Mode.NONE})  # new reads old; old may not read new
FWD = frozenset({Mode.FORWARD, Mode.FORWARD_TRANSITIVE, Mode.NONE})  # old reads new; new may not read old
NONE = frozenset({Mode.NONE})

STR, INT = {"type": "string"}, {"type": "integer"}
OBJ: dict[str, Any] = {"type": "object", "properties": {"a": STR}}
D7 = "http://json-schema.org/draft-07/schema#"


def field(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One field `f` whose schema changes from `old` to `new`."""
    return contract({"id": INT, "f": old}), contract({"id": INT, "f": new})


# fmt: off
KEYWORD_CASES = [
    pytest.param(*field({"anyOf": [STR]}, {"anyOf": [STR, INT]}), "anyOf", BACK, id="anyOf-branch-added"),
    pytest.param(*field({"anyOf": [STR, INT]}, {"anyOf": [STR]}), "anyOf", FWD, id="anyOf-branch-removed"),
    pytest.param(*field({"anyOf": [STR, INT]}, {"anyOf": [INT, STR]}), "anyOf", ALL, id="anyOf-reordered"),
    pytest.param(*field({"oneOf": [STR, INT]}, {"oneOf": [STR]}), "oneOf", FWD, id="oneOf-narrowed"),
    pytest.param(*field({"oneOf": [STR]}, {"oneOf": [STR, INT]}), "oneOf", BACK, id="oneOf-widened"),
    pytest.param(*field({"allOf": [STR]}, {"allOf": [STR, {"maxLength": 5}]}), "allOf", FWD, id="allOf-constraint-added"),
    pytest.param(*field({"not": {"enum": ["a", "b"]}}, {"not": {"const": "a"}}), "not", BACK, id="not-narrowed"),
    pytest.param(*field({**OBJ, "if": {"required": ["a"]}, "then": {"required": ["b"]}},
                        {**OBJ, "if": {"required": ["a"]}, "then": {"required": ["b", "c"]}}), "then", FWD, id="then-requires-more"),
    pytest.param(*field({"type": "object", "patternProperties": {"^x_": {**STR, "maxLength": 3}}},
                        {"type": "object", "patternProperties": {"^x_": STR}}), "patternProperties", BACK, id="patternProperties-loosened"),
    pytest.param(*field({"type": "array", "prefixItems": [STR, INT]},
                        {"type": "array", "prefixItems": [STR, {**INT, "minimum": 0}]}), "prefixItems", FWD, id="prefixItems-tightened"),
    pytest.param(*field(OBJ, {**OBJ, "dependentRequired": {"a": ["b"]}}), "dependentRequired", FWD, id="dependentRequired-added"),
    pytest.param(*field({**OBJ, "dependentRequired": {"a": ["b"]}}, OBJ), "dependentRequired", BACK, id="dependentRequired-removed"),
    pytest.param(*field(OBJ, {**OBJ, "unevaluatedProperties": False}), "unevaluatedProperties", FWD, id="unevaluatedProperties-closed"),
    pytest.param(*field({"type": "object", "minProperties": 1}, {"type": "object", "minProperties": 2}), "minProperties", FWD, id="minProperties-raised"),
    pytest.param(*field({"type": "array"}, {"type": "array", "contains": INT}), "contains", FWD, id="contains-added"),
    pytest.param(*field({"type": "object", "propertyNames": {"maxLength": 3}},
                        {"type": "object", "propertyNames": {"maxLength": 5}}), "propertyNames", BACK, id="propertyNames-loosened"),
    pytest.param(*field({"type": "object", "additionalProperties": STR},
                        {"type": "object", "additionalProperties": {"type": ["string", "integer"]}}), "additionalProperties", BACK, id="additionalProperties-schema-widened"),
    pytest.param(*field({**STR, "pattern": "^[A-Z]+$"}, {**STR, "pattern": "^[A-Z0-9]+$"}), "pattern", NONE, id="pattern-widened-cannot-be-proven"),
    pytest.param(*field({**STR, "enum": ["paid", "refunded", "failed"]}, {"oneOf": [{"const": "paid"}, {"const": "refunded"}]}),
                 "oneOf", FWD, id="enum-replaced-by-a-narrower-oneOf"),
]
# fmt: on


@pytest.mark.parametrize("mode", list(Mode), ids=str)
@pytest.mark.parametrize(("old", "new", "keyword", "compatible_under"), KEYWORD_CASES)
def test_keyword_change_is_proven_or_breaking_under_each_mode(
    old: dict[str, Any], new: dict[str, Any], keyword: str, compatible_under: frozenset[Mode], mode: Mode
) -> None:
    changes = diff(old, new)
    assert [c.path for c in changes] == ["$.f"] * len(changes)
    assert any(f"`{keyword}`" in c.message for c in changes), [c.message for c in changes]
    assert any(breaks(c, mode) for c in changes) is (mode not in compatible_under)


def test_a_value_set_moved_into_oneOf_is_one_change_named_by_the_keyword() -> None:
    old, new = field({**STR, "enum": ["paid", "refunded"]}, {"oneOf": [{"const": "paid"}, {"const": "refunded"}]})
    assert [c.message.split(";")[0] for c in diff(old, new)] == ["`oneOf` added"]


def test_an_unproven_direction_says_why() -> None:
    (change,) = diff(*field({"oneOf": [STR, INT]}, {"oneOf": [STR]}))
    assert change.message == (
        "`oneOf` changed; not provably BACKWARD-compatible: "
        "some data valid under the old version is rejected by the new version"
    )


def test_a_change_of_draft_cannot_be_proven_and_says_so() -> None:
    old, new = contract({"id": INT}), {**contract({"id": INT}), "$schema": D7}
    (change,) = diff(old, new)
    assert (change.kind, change.backward, change.forward) == ("keyword-changed", False, False)
    assert "different JSON Schema drafts" in change.message


def test_definitions_are_followed_through_ref_in_draft_7() -> None:
    def body(item: dict[str, Any]) -> dict[str, Any]:
        doc = {**contract({"price": {"$ref": "#/definitions/money"}}), "$schema": D7}
        return {**doc, "definitions": {"money": {**item, "description": "Cents."}}}

    (change,) = diff(body(INT), body({**INT, "minimum": 0}))
    assert (change.kind, change.path, change.backward, change.forward) == (
        "constraint-tightened",
        "$.price",
        False,
        True,
    )


@pytest.mark.parametrize(("old", "new", "keyword", "compatible_under"), KEYWORD_CASES)
def test_every_proven_direction_holds_on_sample_events(
    old: dict[str, Any], new: dict[str, Any], keyword: str, compatible_under: frozenset[Mode]
) -> None:
    """The proof is trusted only where the validator agrees: no sample event the writer accepts
    is refused by a reader the proof says covers it."""
    proof = prove(old, new)
    samples = [{"id": 1, "f": value} for value in SAMPLES]
    for proven, writer, reader in ((proof.backward, old, new), (proof.forward, new, old)):
        if proven:
            accepts, reads = _validator(writer), _validator(reader)
            assert [s for s in samples if accepts.is_valid(s) and not reads.is_valid(s)] == []


SAMPLES: list[Any] = [
    None, True, 0, 1, -1, 7, 1.5, "", "a", "b", "ABC", "AB1", "abcdef", [], ["a"], ["a", 1], [1, "a"], ["a", -1],
    {}, {"a": "x"}, {"a": "x", "b": "y"}, {"a": "x", "b": "y", "c": "z"}, {"x_1": "abcd"}, {"x_1": "ab"},
    {"toolong": 1}, {"a": 1},
]  # fmt: skip


def _validator(body: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(body, validate_formats=True)


def test_an_unknown_keyword_is_an_annotation_so_changing_it_is_a_patch(tmp_path: Path) -> None:
    write(tmp_path, "1.0.0", {**contract({"id": INT}), "self": {"vendor": "org.example", "version": "1-0-0"}})
    write(tmp_path, "1.0.1", {**contract({"id": INT}), "self": {"vendor": "org.example", "version": "1-0-1"}})
    code, doc = report(tmp_path)
    assert (code, doc["findings"]) == (0, [])
    assert [(c["kind"], c["verdict"]) for c in doc["changes"]] == [("annotation-changed", "docs")]


def test_a_ref_to_a_shared_file_is_followed_by_the_proof(tmp_path: Path) -> None:
    shared = tmp_path / "_shared" / "money.json"
    shared.parent.mkdir()
    shared.write_text(json.dumps({"$defs": {"cents": {"type": "integer", "minimum": 0}}}))
    price = {"$ref": "../../_shared/money.json#/$defs/cents"}
    write(tmp_path, "1.0.0", contract({"price": INT}))
    write(tmp_path, "1.1.0", contract({"price": price}))  # adds the shared `minimum: 0`: old data may be negative
    code, doc = report(tmp_path)
    assert code == 1
    (breaking,) = [f for f in doc["findings"] if f["code"] == "breaking-change"]
    assert breaking["path"] == "$.price"
    assert "`$ref` added; not provably BACKWARD-compatible" in breaking["message"]
    write(tmp_path, "1.0.0", contract({"price": price}))
    write(tmp_path, "1.1.0", contract({"price": price, "note": STR}))  # same shared target, one more field
    code, doc = report(tmp_path)
    assert (code, doc["findings"]) == (0, [])
    assert [(c["kind"], c["verdict"]) for c in doc["changes"]] == [("field-added-optional", "compatible")]


def test_each_keyword_change_is_judged_on_its_own_not_blamed_for_its_neighbours() -> None:
    narrowed = {"oneOf": [{"const": "paid"}, {"const": "refunded"}]}
    old = contract({"id": INT, "status": {**STR, "enum": ["paid", "refunded", "failed"]}})
    new = contract({"id": STR, "status": narrowed})  # `id` changes type too: breaks both ways
    by_path = {c.path: c for c in diff(old, new)}
    assert (by_path["$.status"].backward, by_path["$.status"].forward) == (False, True)
    assert (by_path["$.id"].backward, by_path["$.id"].forward) == (False, False)
