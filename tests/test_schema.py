"""Every supported JSON Schema keyword, with a valid and an invalid case, and the refusals."""

from __future__ import annotations

from typing import Any

import pytest

from collector.contracts import ContractLoadError
from collector.validate import validate
from tests.conftest import make_contract

# (field schema, a valid value, an invalid value, the keyword the failure must name)
KEYWORDS = [
    pytest.param({"type": "string"}, "x", 1, "type", id="type-string"),
    pytest.param({"type": "integer"}, 3, 3.5, "type", id="type-integer"),
    pytest.param({"type": "number"}, 3.5, "3.5", "type", id="type-number"),
    pytest.param({"type": "boolean"}, True, "true", "type", id="type-boolean"),
    pytest.param({"type": ["string", "null"]}, None, 5, "type", id="type-nullable"),
    pytest.param({"type": ["string", "integer"]}, 5, 1.5, "type", id="type-union"),
    pytest.param({"enum": ["opened", "unread"]}, "unread", "deleted", "enum", id="enum"),
    pytest.param({"type": "string", "enum": ["a", "b"]}, "a", "c", "enum", id="enum-typed"),
    pytest.param({"const": "v1"}, "v1", "v2", "const", id="const"),
    pytest.param({"type": "integer", "minimum": 0}, 0, -1, "minimum", id="minimum"),
    pytest.param({"type": "integer", "maximum": 60}, 60, 61, "maximum", id="maximum"),
    pytest.param({"type": "number", "exclusiveMinimum": 0}, 0.01, 0, "exclusiveMinimum", id="exclusiveMinimum"),
    pytest.param({"type": "number", "exclusiveMaximum": 1}, 0.99, 1, "exclusiveMaximum", id="exclusiveMaximum"),
    pytest.param({"type": "integer", "multipleOf": 5}, 15, 16, "multipleOf", id="multipleOf-int"),
    pytest.param({"type": "number", "multipleOf": 0.01}, 0.3, 0.305, "multipleOf", id="multipleOf-cents"),
    pytest.param({"type": "string", "minLength": 2}, "ab", "a", "minLength", id="minLength"),
    pytest.param({"type": "string", "maxLength": 3}, "abc", "abcd", "maxLength", id="maxLength"),
    pytest.param({"type": "string", "pattern": "^[A-Z0-9]{8}$"}, "AB12CD34", "0", "pattern", id="pattern"),
    pytest.param({"type": "string", "format": "date-time"}, "2026-11-21T10:00:00Z", "2026-11-21 10:00", "format", id="format-date-time"),
    pytest.param({"type": "string", "format": "date-time"}, "2026-11-21T10:00:00+01:00", "2026-11-21T10:00:00", "format", id="format-date-time-needs-offset"),
    pytest.param({"type": "string", "format": "date"}, "2026-11-21", "21/11/2026", "format", id="format-date"),
    pytest.param({"type": "string", "format": "uuid"}, "0b7f2a8e-4d43-4c2e-9d8e-2f5f1b3c9a10", "not-a-uuid", "format", id="format-uuid"),
    pytest.param({"type": "string", "format": "email"}, "ana@example.com", "ana.example.com", "format", id="format-email"),
    pytest.param({"type": "string", "format": "uri"}, "https://cdn.example.com/a.jpg", "cdn/a.jpg", "format", id="format-uri"),
    pytest.param({"type": "array", "items": {"type": "integer"}}, [1, 2], [1, "2"], "type", id="items"),
    pytest.param({"type": "array", "minItems": 1}, [1], [], "minItems", id="minItems"),
    pytest.param({"type": "array", "maxItems": 2}, [1, 2], [1, 2, 3], "maxItems", id="maxItems"),
    pytest.param({"type": "array", "uniqueItems": True}, [1, 2], [1, 1], "uniqueItems", id="uniqueItems"),
    pytest.param({"type": "array", "uniqueItems": True}, [{"a": 1, "b": 2}], [{"a": 1, "b": 2}, {"b": 2, "a": 1}], "uniqueItems", id="uniqueItems-objects"),
    pytest.param(
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        {"city": "Lisbon"}, {"town": "Lisbon"}, "required", id="nested-required",
    ),
    pytest.param(
        {"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": False},
        {"n": 1}, {"n": 1, "m": 2}, "additionalProperties", id="additionalProperties-false",
    ),
    pytest.param(
        {"type": "array", "items": {"type": "object", "properties": {"q": {"type": "integer", "minimum": 1}}}},
        [{"q": 1}], [{"q": 1}, {"q": 0}], "minimum", id="array-of-objects",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("field", "good", "bad", "keyword"), KEYWORDS)
def test_keyword_accepts_valid_and_rejects_invalid_value(
    field: dict[str, Any], good: Any, bad: Any, keyword: str
) -> None:
    contract = make_contract({"f": field}, required=["f"])
    assert validate(contract, {"f": good}) == []
    failures = validate(contract, {"f": bad})
    assert failures, f"{bad!r} should break {field}"
    assert failures[0].keyword == keyword
    assert failures[0].path.startswith("$.f")


def test_failure_path_points_into_nested_arrays() -> None:
    contract = make_contract(
        {
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"q": {"type": "integer", "minimum": 1}}},
            }
        }
    )
    [failure] = validate(contract, {"items": [{"q": 2}, {"q": 5}, {"q": 0}]})
    assert (failure.path, failure.keyword) == ("$.items[2].q", "minimum")


def test_missing_required_field_names_the_field_in_the_path() -> None:
    contract = make_contract({"order_id": {"type": "integer"}}, required=["order_id"])
    [failure] = validate(contract, {})
    assert (failure.path, failure.keyword) == ("$.order_id", "required")


def test_unknown_field_is_allowed_unless_additional_properties_is_false() -> None:
    open_contract = make_contract({"a": {"type": "string"}})
    closed = make_contract({"a": {"type": "string"}}, additionalProperties=False)
    assert validate(open_contract, {"a": "x", "extra": 1}) == []
    [failure] = validate(closed, {"a": "x", "extra": 1})
    assert (failure.path, failure.keyword) == ("$.extra", "additionalProperties")


def test_optional_field_may_be_absent_but_not_null_unless_nullable() -> None:
    contract = make_contract({"a": {"type": "string"}, "b": {"type": ["string", "null"]}})
    assert validate(contract, {}) == []
    assert validate(contract, {"b": None}) == []
    assert validate(contract, {"a": None})[0].keyword == "type"


def test_local_ref_to_defs_is_followed() -> None:
    contract = make_contract(
        {"line": {"$ref": "#/$defs/line"}},
        **{"$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string", "minLength": 3}}}}},
    )
    assert validate(contract, {"line": {"sku": "abc"}}) == []
    [failure] = validate(contract, {"line": {"sku": "a"}})
    assert (failure.path, failure.keyword) == ("$.line.sku", "minLength")


def test_const_with_ref_reports_const_keyword() -> None:
    contract = make_contract({"v": {"$ref": "#/$defs/v"}}, **{"$defs": {"v": {"const": 2}}})
    assert validate(contract, {"v": 3})[0].keyword == "const"


def test_format_failures_name_the_format_not_the_regex_behind_it() -> None:
    contract = make_contract(
        {"home": {"type": "string", "format": "uri"}, "mail": {"type": "string", "format": "email"}}
    )
    failures = validate(contract, {"home": "nope", "mail": "also nope"})
    assert [(f.path, f.keyword, f.message) for f in failures] == [
        ("$.home", "format", "Expected `str` in format 'uri'"),
        ("$.mail", "format", "Expected `str` in format 'email'"),
    ]


def test_format_and_own_pattern_are_both_enforced() -> None:
    contract = make_contract({"mail": {"type": "string", "format": "email", "pattern": "@acme\\.example$"}})
    assert validate(contract, {"mail": "ana@acme.example"}) == []
    assert validate(contract, {"mail": "ana@other.example"})[0].keyword == "pattern"
    assert validate(contract, {"mail": "@acme.example"})[0].keyword == "format"


def test_data_that_is_not_an_object_is_a_type_failure_at_the_root() -> None:
    [failure] = validate(make_contract({"a": {"type": "string"}}), "hello")
    assert (failure.path, failure.keyword) == ("$", "type")


@pytest.mark.parametrize(
    ("field", "keyword"),
    [
        pytest.param({"oneOf": [{"type": "string"}]}, "oneOf", id="oneOf"),
        pytest.param({"type": "string", "format": "hostname"}, "format", id="unknown-format"),
        pytest.param({"type": "object", "additionalProperties": {"type": "string"}}, "additionalProperties", id="additionalProperties-schema"),
        pytest.param({"type": "array", "prefixItems": [{"type": "string"}]}, "prefixItems", id="prefixItems"),
        pytest.param({"$ref": "https://example.com/x.json"}, "$ref", id="remote-ref"),
        pytest.param({"enum": [1.5, 2.5]}, "enum", id="float-enum"),
        pytest.param({"type": "strng"}, "type", id="misspelled-type"),
    ],
)  # fmt: skip
def test_unsupported_keyword_is_refused_at_load_with_file_path_and_keyword(field: dict[str, Any], keyword: str) -> None:
    with pytest.raises(ContractLoadError) as err:
        make_contract({"f": field})
    message = str(err.value)
    assert "com.example.test/thing/1.0.0.json" in message
    assert "$.properties.f" in message
    assert f"`{keyword}`" in message


def test_required_field_missing_from_properties_is_refused() -> None:
    with pytest.raises(ContractLoadError, match="required field 'b' is not in `properties`"):
        make_contract({"a": {"type": "string"}}, required=["b"])


def test_field_names_that_are_python_keywords_still_validate() -> None:
    contract = make_contract({"class": {"enum": ["Luxury"]}, "_private": {"type": "integer"}}, required=["class"])
    assert validate(contract, {"class": "Luxury", "_private": 1}) == []
    assert validate(contract, {"class": "Hostel"})[0].path == "$.class"


def test_rejected_event_reports_every_failing_top_level_field_at_once() -> None:
    contract = make_contract(
        {"amount": {"type": "number", "exclusiveMinimum": 0}, "code": {"type": "string", "pattern": "^[A-Z0-9]{8}$"},
         "ts": {"type": "string", "format": "date-time"}, "lines": {"type": "array", "items": {"type": "integer", "minimum": 1}}},
        required=["amount", "code", "ts"], additionalProperties=False,
    )  # fmt: skip
    failures = validate(contract, {"amount": 0, "code": "0", "lines": [1, 0], "extra": True})
    assert {(f.path, f.keyword) for f in failures} == {
        ("$.amount", "exclusiveMinimum"), ("$.code", "pattern"), ("$.ts", "required"),
        ("$.lines[1]", "minimum"), ("$.extra", "additionalProperties"),
    }  # fmt: skip


def test_property_name_msgspec_cannot_use_is_a_load_error_not_a_crash() -> None:
    with pytest.raises(ContractLoadError, match="unusable property name"):
        make_contract({'say "hi"': {"type": "string"}})
