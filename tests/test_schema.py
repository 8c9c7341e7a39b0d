"""JSON Schema keywords with a valid and an invalid case, the regressions of the old compiler, and
the refusals at load (remote references, unknown drafts)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from collector.contracts import ContractLoadError, load_registry
from collector.schema import SchemaError, compile_schema
from collector.validate import MAX_FAILURES, lossy, validate
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
    assert validate(contract.compiled, {"f": good}) == []
    failures = validate(contract.compiled, {"f": bad})
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
    [failure] = validate(contract.compiled, {"items": [{"q": 2}, {"q": 5}, {"q": 0}]})
    assert (failure.path, failure.keyword) == ("$.items[2].q", "minimum")


def test_missing_required_field_names_the_field_in_the_path() -> None:
    contract = make_contract({"order_id": {"type": "integer"}}, required=["order_id"])
    [failure] = validate(contract.compiled, {})
    assert (failure.path, failure.keyword) == ("$.order_id", "required")


def test_unknown_field_is_allowed_unless_additional_properties_is_false() -> None:
    open_contract = make_contract({"a": {"type": "string"}})
    closed = make_contract({"a": {"type": "string"}}, additionalProperties=False)
    assert validate(open_contract.compiled, {"a": "x", "extra": 1}) == []
    [failure] = validate(closed.compiled, {"a": "x", "extra": 1})
    assert (failure.path, failure.keyword) == ("$.extra", "additionalProperties")


def test_optional_field_may_be_absent_but_not_null_unless_nullable() -> None:
    contract = make_contract({"a": {"type": "string"}, "b": {"type": ["string", "null"]}})
    assert validate(contract.compiled, {}) == []
    assert validate(contract.compiled, {"b": None}) == []
    assert validate(contract.compiled, {"a": None})[0].keyword == "type"


def test_local_ref_to_defs_is_followed() -> None:
    contract = make_contract(
        {"line": {"$ref": "#/$defs/line"}},
        **{"$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string", "minLength": 3}}}}},
    )
    assert validate(contract.compiled, {"line": {"sku": "abc"}}) == []
    [failure] = validate(contract.compiled, {"line": {"sku": "a"}})
    assert (failure.path, failure.keyword) == ("$.line.sku", "minLength")


def test_const_with_ref_reports_const_keyword() -> None:
    contract = make_contract({"v": {"$ref": "#/$defs/v"}}, **{"$defs": {"v": {"const": 2}}})
    assert validate(contract.compiled, {"v": 3})[0].keyword == "const"


def test_format_failures_name_the_format_in_json_terms_without_echoing_the_value() -> None:
    contract = make_contract(
        {"home": {"type": "string", "format": "uri"}, "mail": {"type": "string", "format": "email"}}
    )
    failures = validate(contract.compiled, {"home": "nope", "mail": "also nope"})
    assert [(f.path, f.keyword, f.message) for f in failures] == [
        ("$.home", "format", "must be a valid uri"),
        ("$.mail", "format", "must be a valid email"),
    ]


def test_format_and_own_pattern_are_both_enforced() -> None:
    contract = make_contract({"mail": {"type": "string", "format": "email", "pattern": "@acme\\.example$"}})
    assert validate(contract.compiled, {"mail": "ana@acme.example"}) == []
    assert validate(contract.compiled, {"mail": "ana@other.example"})[0].keyword == "pattern"
    assert validate(contract.compiled, {"mail": "@acme.example"})[0].keyword == "format"


def test_data_that_is_not_an_object_is_a_type_failure_at_the_root() -> None:
    [failure] = validate(make_contract({"a": {"type": "string"}}).compiled, "hello")
    assert (failure.path, failure.keyword) == ("$", "type")


# Verdicts the hand-written compiler got wrong (issue 9): each is what JSON Schema 2020-12 says.
SPEC_VERDICTS = [
    pytest.param({"maxLength": 2}, "abc", False, id="maxLength-without-type-is-checked"),
    pytest.param({"minimum": 0}, -1, False, id="minimum-without-type-is-checked"),
    pytest.param({"pattern": "^a"}, "b", False, id="pattern-without-type-is-checked"),
    pytest.param({"format": "date"}, "2020-13-45", False, id="format-without-type-is-checked"),
    pytest.param({"type": "string", "enum": ["a", 1]}, 1, False, id="type-applies-beside-enum"),
    pytest.param({"type": "string", "const": 1}, 1, False, id="type-applies-beside-const"),
    pytest.param({"type": "number", "multipleOf": 0.0001}, 0.00000000001, False, id="tiny-fraction-is-not-a-multiple"),
    pytest.param({"uniqueItems": True}, [1, 1.0], False, id="1-and-1.0-are-equal"),
    pytest.param({"uniqueItems": True}, [0, -0.0], False, id="0-and-minus-0-are-equal"),
    pytest.param({"type": "number", "maximum": 2**53}, 2**53 + 1, False, id="maximum-is-exact-beyond-2^53"),
    pytest.param({"type": "integer"}, 1.0, True, id="1.0-is-an-integer"),
    pytest.param({"properties": {"a": {"type": "string"}}}, 5, True, id="properties-ignore-non-objects"),
    pytest.param({"required": ["a"]}, "text", True, id="required-ignores-non-objects"),
    pytest.param({"items": {"type": "string"}}, {"a": 1}, True, id="items-ignore-non-arrays"),
    pytest.param({"format": "email"}, "a@b", True, id="email-without-dot-is-valid"),
    pytest.param({"format": "date-time"}, "2020-01-01 00:00:00Z", False, id="date-time-needs-T"),
    pytest.param({"format": "date-time"}, "2020-01-01T00:00:00+0100", False, id="date-time-offset-needs-colon"),
    pytest.param({"format": "uuid"}, "0b7f2a8e4d434c2e9d8e2f5f1b3c9a10", False, id="uuid-needs-hyphens"),
    pytest.param({"format": "uri"}, "http://exa mple.com", False, id="uri-with-space"),
    pytest.param({"format": "ipv4"}, "256.1.1.1", False, id="ipv4"),
    pytest.param({"format": "ipv6"}, "::ffff:1.2.3.4", True, id="ipv6"),
    pytest.param({"format": "hostname"}, "-bad.example", False, id="hostname"),
    pytest.param({"format": "hostname"}, "XN--nxasmq6b", True, id="hostname-ace-prefix-any-case"),
    pytest.param({"format": "hostname"}, "\u212a.example", False, id="hostname-kelvin-sign-is-no-k"),
    pytest.param({"format": "email"}, "joe@example.XN--30RR7Y", True, id="email-domain-ace-prefix-any-case"),
    pytest.param({"pattern": "^[A-Z]{2}$"}, "US\n", False, id="ecma-dollar-is-end-of-input"),
    pytest.param({"pattern": "^\\d$"}, "\u0661", False, id="ecma-digit-is-ascii"),
    pytest.param({"anyOf": [{"type": "string"}, {"minimum": 5}]}, 3, False, id="anyOf"),
    pytest.param({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 3, False, id="oneOf-two-match"),
    pytest.param({"not": {"const": "x"}}, "x", False, id="not"),
    pytest.param({"if": {"const": "card"}, "then": {"minLength": 9}}, "card", False, id="if-then"),
    pytest.param({"patternProperties": {"^n_": {"type": "number"}}}, {"n_a": "x"}, False, id="patternProperties"),
    pytest.param({"additionalProperties": {"type": "string"}}, {"a": 1}, False, id="additionalProperties-schema"),
    pytest.param({"propertyNames": {"maxLength": 3}}, {"abcd": 1}, False, id="propertyNames"),
    pytest.param({"minProperties": 1}, {}, False, id="minProperties"),
    pytest.param({"dependentRequired": {"card": ["cvv"]}}, {"card": 1}, False, id="dependentRequired"),
    pytest.param({"contains": {"type": "string"}, "minContains": 2}, ["a", 1], False, id="minContains"),
    pytest.param({"prefixItems": [{"type": "string"}], "items": False}, ["a", 1], False, id="prefixItems-items-false"),
    pytest.param({"properties": {"a": {}}, "unevaluatedProperties": False}, {"a": 1, "b": 2}, False, id="unevaluatedProperties"),
    pytest.param({"type": ["object", "string"]}, "x", True, id="type-list-mixing-object-and-scalar"),
    pytest.param({"enum": [1.5, [1], {"a": 1}]}, {"a": 1.0}, True, id="enum-of-floats-arrays-objects"),
    pytest.param({"x-owner-note": "kept", "maxlength": 1}, "long text", True, id="unknown-keywords-are-annotations"),
]  # fmt: skip


@pytest.mark.parametrize(("schema", "instance", "valid"), SPEC_VERDICTS)
def test_verdict_is_what_json_schema_specifies(schema: dict[str, Any], instance: Any, valid: bool) -> None:
    compiled = compile_schema(schema, "inline.json")
    assert (validate(compiled, instance) == []) is valid


def test_draft_is_chosen_by_schema_keyword() -> None:
    # draft 4: exclusiveMaximum is a boolean modifier of maximum; 2020-12: a number of its own
    draft4 = compile_schema(
        {"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": True}, "a.json"
    )
    assert validate(draft4, 5) != [] and validate(draft4, 4) == []
    draft7 = compile_schema(
        {"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": {"a": ["b"]}}, "b.json"
    )
    assert validate(draft7, {"a": 1})[0].keyword == "dependencies"


def test_unknown_draft_is_refused_at_load() -> None:
    with pytest.raises(SchemaError, match=r"\$schema.*not a JSON Schema draft Charter knows"):
        compile_schema({"$schema": "http://example.com/my-meta#"}, "a.json")


def test_remote_ref_is_refused_at_load_with_file_path_and_reason() -> None:
    with pytest.raises(ContractLoadError) as err:
        make_contract({"f": {"$ref": "https://example.com/x.json"}})
    message = str(err.value)
    assert "com.example.test/thing/1.0.0.json" in message
    assert "$.properties.f.$ref" in message
    assert "remote references are refused" in message


def test_ref_to_a_shared_file_and_to_another_contract_in_the_schemas_tree(tmp_path: Path) -> None:
    shared = tmp_path / "_shared" / "money.json"
    shared.parent.mkdir()
    shared.write_text(json.dumps({"$defs": {"cents": {"type": "integer", "minimum": 0}}}))
    other = tmp_path / "com.acme.shop" / "address" / "1.0.0.json"
    other.parent.mkdir(parents=True)
    other.write_text(
        json.dumps(
            {
                "x-contract": {"owner": {"name": "a"}},
                "type": "object",
                "properties": {"city": {"type": "string", "x-pii": "redact"}},
                "required": ["city"],
            }
        )
    )
    main = tmp_path / "com.acme.shop" / "order" / "1.0.0.json"
    main.parent.mkdir(parents=True)
    main.write_text(
        json.dumps(
            {
                "x-contract": {"owner": {"name": "a"}},
                "type": "object",
                "properties": {
                    "amount": {"$ref": "../../_shared/money.json#/$defs/cents"},
                    "ship_to": {"$ref": "../address/1.0.0.json"},
                },
            }
        )
    )
    registry = load_registry(tmp_path)
    order = registry.get("com.acme.shop/order/1.0.0")
    assert order is not None and len(registry) == 2  # _shared/ holds definitions, not contracts
    assert validate(order.compiled, {"amount": 5, "ship_to": {"city": "Porto"}}) == []
    assert [f.path for f in validate(order.compiled, {"amount": -5, "ship_to": {}})] == ["$.amount", "$.ship_to.city"]
    assert [f.path for f in order.pii] == ["$.ship_to.city"]  # PII tags are followed into the other contract


def test_ref_outside_the_schemas_tree_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text("{}")
    main = tmp_path / "schemas" / "com.acme.shop" / "order" / "1.0.0.json"
    main.parent.mkdir(parents=True)
    main.write_text(
        json.dumps({"x-contract": {"owner": {"name": "a"}}, "properties": {"a": {"$ref": "../../../secret.json"}}})
    )
    with pytest.raises(ContractLoadError, match="names no file inside the schemas directory"):
        load_registry(tmp_path / "schemas")


def test_messages_speak_json_types_and_never_echo_the_value() -> None:
    compiled = compile_schema({"properties": {"card": {"type": "integer"}, "code": {"maxLength": 2}}}, "a.json")
    failures = validate(compiled, {"card": "4111111111111111", "code": "4111111111111111"})
    assert [f.message for f in failures] == ["expected integer, got string", "must be at most 2 characters long"]
    assert [f.schema_path for f in failures] == ["#/properties/card/type", "#/properties/code/maxLength"]


def test_failures_are_capped_with_a_count_of_the_rest() -> None:
    compiled = compile_schema({"properties": {"a": {}}, "additionalProperties": False}, "a.json")
    failures = validate(compiled, {f"k{i}": i for i in range(500)})
    assert len(failures) == MAX_FAILURES + 1
    assert failures[-1].keyword == "limit" and "480 more" in failures[-1].message


def test_huge_and_unrepresentable_numbers_get_a_verdict_not_a_crash() -> None:
    compiled = compile_schema({"type": "number", "multipleOf": 0.01, "maximum": 1e300}, "a.json")
    assert validate(compiled, 10**400)[0].keyword == "maximum"
    assert validate(compiled, 1e308)[0].keyword == "maximum"
    assert validate(compile_schema({"type": "integer", "maximum": 2**64}, "a.json"), 10**400)[0].keyword == "maximum"


def test_field_names_that_are_python_keywords_still_validate() -> None:
    contract = make_contract({"class": {"enum": ["Luxury"]}, "_private": {"type": "integer"}}, required=["class"])
    assert validate(contract.compiled, {"class": "Luxury", "_private": 1}) == []
    assert validate(contract.compiled, {"class": "Hostel"})[0].path == "$.class"


def test_rejected_event_reports_every_failing_field_at_once() -> None:
    contract = make_contract(
        {"amount": {"type": "number", "exclusiveMinimum": 0}, "code": {"type": "string", "pattern": "^[A-Z0-9]{8}$"},
         "ts": {"type": "string", "format": "date-time"}, "lines": {"type": "array", "items": {"type": "integer", "minimum": 1}}},
        required=["amount", "code", "ts"], additionalProperties=False,
    )  # fmt: skip
    failures = validate(contract.compiled, {"amount": 0, "code": "0", "lines": [1, 0], "extra": True})
    assert {(f.path, f.keyword) for f in failures} == {
        ("$.amount", "exclusiveMinimum"), ("$.code", "pattern"), ("$.ts", "required"),
        ("$.lines[1]", "minimum"), ("$.extra", "additionalProperties"),
    }  # fmt: skip


def test_odd_property_names_are_quoted_in_paths() -> None:
    compiled = compile_schema({"properties": {'say "hi"': {"type": "string"}, "a.b": {"type": "string"}}}, "a.json")
    assert [f.path for f in validate(compiled, {'say "hi"': 1, "a.b": 2})] == ['$["say \\"hi\\""]', '$["a.b"]']


def test_a_pointer_that_is_no_valid_uri_still_resolves() -> None:
    # `TopLevel<Spec>` is a fine JSON pointer token but not a URI character (vega-lite's schema has these)
    compiled = compile_schema(
        {"$ref": "#/definitions/Top<Spec>", "definitions": {"Top<Spec>": {"type": "integer"}}}, "a.json"
    )
    assert validate(compiled, 1) == [] and validate(compiled, "x")[0].keyword == "type"


def test_an_unresolvable_ref_reached_through_another_ref_is_the_one_named(tmp_path: Path) -> None:
    main = tmp_path / "x.json"
    main.write_text("{}")
    schema = {"$ref": "#/$defs/a", "$defs": {"a": {"properties": {"s": {"$ref": "other.json"}}}}}
    with pytest.raises(
        SchemaError, match=r"\$\.\$defs\.a\.properties\.s\.\$ref: `\$ref`: cannot resolve 'other\.json'"
    ):
        compile_schema(schema, str(main), root=tmp_path, load=lambda p: json.loads(p.read_text()))


def test_one_of_says_whether_none_or_several_alternatives_matched() -> None:
    compiled = compile_schema({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, "a.json")
    assert validate(compiled, 3)[0].message.endswith("matches more than one")
    none = validate(compiled, -1.5)[0].message
    assert none.startswith("must match exactly one schema in `oneOf`, matches none")
    assert "#1: expected integer, got number" in none and "#2: must be >= 0" in none


# --- the fast twin: it may only ever refuse more than the exact validator, never accept more

_FLOATS, _EXACT = msgspec.json.Decoder(), msgspec.json.Decoder(float_hook=Decimal)
MULTIPLE_OF_DIVISORS = [0.01, 0.1, 0.5, 2.5, 0.0001, 1e-8, 3, 7, 0.3, 1.1, 100, 0.125, 123.456, 1e-15]


def _number_texts(rng: random.Random, n: int) -> list[str]:
    """JSON numbers as clients send them: cents, integers, rounded doubles, long fractions."""
    makers = [
        lambda: f"{rng.randint(-(10**6), 10**6)}.{rng.randint(0, 99):02d}",
        lambda: str(rng.randint(-(10**12), 10**12)),
        lambda: repr(round(rng.uniform(-1e6, 1e6), rng.randint(0, 8))),
        lambda: f"{rng.randint(0, 10**8)}.{rng.randint(0, 10**6)}",
    ]
    return [rng.choice(makers)() for _ in range(n)]


@pytest.mark.parametrize("divisor", MULTIPLE_OF_DIVISORS)
def test_multiple_of_gives_the_decimal_verdict_on_every_number_sent(divisor: float) -> None:
    """The fast `multipleOf` agrees with decimal arithmetic on what was sent (JSON Schema's meaning)."""
    compiled = compile_schema({"type": "object", "properties": {"x": {"multipleOf": divisor}}}, "t.json")
    assert compiled.fast is not compiled.validator  # the twin is what is under test
    rng = random.Random(divisor)
    for text in _number_texts(rng, 3000):
        decoder = _EXACT if lossy(text) else _FLOATS  # what the pipeline hands the validator
        event = decoder.decode(b'{"x": %s}' % text.encode())
        expected = Decimal(text) % Decimal(repr(divisor)) == 0
        assert (not validate(compiled, event)) == expected, text
        if compiled.fast.is_valid(event):  # its "valid" must stand: never more permissive
            assert compiled.validator.is_valid(event), text


@pytest.mark.parametrize(
    "schema, value",
    [
        pytest.param({"not": {"multipleOf": 1e-15}}, 123456.000000001, id="not-multipleOf-uncertain"),
        pytest.param({"not": {"format": "hostname"}}, "XN--nxasmq6b", id="not-hostname-upper-idna"),
        pytest.param({"oneOf": [{"format": "email"}, {"type": "string"}]}, "a@XN--nxasmq6b", id="oneOf-email"),
        pytest.param({"if": {"format": "hostname"}, "then": {"maxLength": 3}}, "XN--nxasmq6b", id="if-hostname"),
        pytest.param(
            {"type": "array", "contains": {"format": "hostname"}, "maxContains": 1},
            ["XN--nxasmq6b", "XN--nxasmq6b"],
            id="maxContains-hostname",
        ),
    ],
)
def test_a_refusal_under_not_if_oneOf_or_maxContains_is_never_turned_into_an_acceptance(
    schema: Any, value: Any
) -> None:
    """Where refusing more could accept more, the fast twin is not used: these values are invalid."""
    assert validate(compile_schema(schema, "t.json"), value)


def test_upper_case_idna_names_are_valid_through_the_fast_path() -> None:
    compiled = compile_schema({"properties": {"h": {"format": "hostname"}, "e": {"format": "email"}}}, "t.json")
    assert compiled.fast is not compiled.validator
    assert not validate(compiled, {"h": "XN--nxasmq6b.example", "e": "joe@XN--nxasmq6b.example"})
    assert validate(compiled, {"h": "-bad-.example"})
