"""Contracts drawn from every keyword family, for the tests that no generator fails on any of them:
applicators, tuples, maps, literals of any JSON value, `$ref`s to definitions and to the root,
`if`/`not`, keywords no type can say, odd field names."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from collector.contracts import Contract, ContractLoadError, Version, build_contract
from tests.conftest import OWNER

names = st.sampled_from(["a", "b", "kind", "class", "from", "x-y", "with space", "ünï"])
leaves: st.SearchStrategy[Any] = st.sampled_from([
    {}, True, False, {"type": "string"}, {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
    {"type": "number", "multipleOf": 0.5}, {"type": ["string", "null"]}, {"type": ["integer", "object", "null"]},
    {"const": 1.5}, {"const": {"a": [1]}}, {"const": "x"}, {"enum": ["a", 1, None, True, [1], {"k": 2.5}]},
    {"enum": [1, 2]}, {"type": "string", "format": "date-time"}, {"type": ["string", "null"], "format": "date-time"},
    {"type": "string", "format": "uuid"}, {"format": "date"}, {"format": "email"}, {"pattern": "^\\p{L}+$"},
    {"$ref": "#/$defs/d"}, {"$ref": "#"}, {"type": "null"}, {"type": "array"}, {"type": "object"},
    {"not": {"type": "string"}}, {"type": "object", "minProperties": 1, "propertyNames": {"maxLength": 3}},
    {"type": "array", "contains": {"const": 1}, "uniqueItems": True}, {"dependentRequired": {"a": ["b"]}},
    {"unevaluatedProperties": False}, {"type": "string", "contentEncoding": "base64"}, {"x-pii": "redact"},
])  # fmt: skip


def _combine(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    some = st.lists(inner, min_size=1, max_size=3)
    props = st.dictionaries(names, inner, max_size=3)
    return st.one_of(
        some.map(lambda xs: {"anyOf": xs}), some.map(lambda xs: {"oneOf": xs}), some.map(lambda xs: {"allOf": xs}),
        st.tuples(props, st.booleans()).map(lambda t: {"type": "object", "properties": t[0], "required": sorted(t[0])[:1],
                                                      "additionalProperties": not t[1]}),
        inner.map(lambda x: {"type": "array", "items": x, "minItems": 1}),
        st.tuples(some, st.sampled_from([False, True, {"type": "string"}])).map(
            lambda t: {"type": "array", "prefixItems": t[0], "items": t[1]}),
        inner.map(lambda x: {"type": "object", "additionalProperties": x}),
        st.tuples(inner, inner).map(lambda t: {"patternProperties": {"^s_": t[0]}, "additionalProperties": t[1]}),
        st.tuples(inner, inner, inner).map(lambda t: {"if": t[0], "then": t[1], "else": t[2]}),
        st.tuples(props, some).map(lambda t: {"properties": t[0], "oneOf": t[1]}),
        inner.map(lambda x: {"allOf": [{"$ref": "#/$defs/d"}, x]}),
        inner.map(lambda x: {"type": ["object", "array", "string", "null"], "properties": {"p": x}, "items": x}),
    )  # fmt: skip


schemas = st.recursive(leaves, _combine, max_leaves=8)
# a contract: its root (used as the whole contract when the flag says so), its fields, its one definition
contracts = st.tuples(schemas, st.dictionaries(names, schemas, max_size=4), schemas, st.booleans()).map(
    lambda t: contract(*t)
)


def contract(root: Any, fields: dict[str, Any], definition: Any, as_root: bool) -> Contract | None:
    body: dict[str, Any] = {"x-contract": dict(OWNER), "$defs": {"d": definition}}
    body.update(root if as_root and isinstance(root, dict) else {"type": "object", "properties": fields})
    try:
        return build_contract("com.example.fuzz", "thing", Version(1, 0, 0), body, "com.example.fuzz/thing/1.0.0.json")
    except ContractLoadError:
        return None
