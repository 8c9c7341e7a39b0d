"""Events for verdict tests, drawn from a contract's JSON Schema: mostly valid ones, then mutations
that break one thing (or nothing) with the values validators get wrong.

A guide, not a validator: whether a drawn event is valid is for the engines under test to say.
(hypothesis-jsonschema 0.23.1 cannot draw objects with hypothesis 6.170: its private
`cu.many(...).more()` is gone, hence this small generator.)
"""

from __future__ import annotations

import datetime
import string
from typing import Any

from hypothesis import strategies as st

Strategy = st.SearchStrategy[Any]
MAX_DEPTH = 4
# values that engines disagree on: integral floats, huge and tiny numbers, ECMA vs Python regex
# corners, lax date-times, e-mails, UUIDs without hyphens
TRICKY: list[Any] = [
    0, -1, 1, 1.0, -0.0, 0.5, 9.999, 0.01, 2**53, 2**53 + 1, 2**64, 10**30, 1e308, 1e-12, True, False, None,
    "", " ", "x", "\n", "US\n", "\uff11\uff12\uff13", "AB12CD34", "H00042", "a@b", "a@b.co", "ab.co", "https://x.y/", "x.y",
    "2026-11-21T10:00:00Z", "2026-11-21 10:00:00Z", "2026-11-21T10:00:00+0100", "2026-11-21T10:00:00",
    "2026-11-21", "21/11/2026", "10:00:00Z", "P1D", "0192f8a0-0000-7000-8000-000000000000",
    "0192f8a0000070008000000000000000", "127.0.0.1", "::1", "example.com", "-bad-.com", [], [1, 1.0], [0, -0.0],
    {}, {"k": "v"},
]  # fmt: skip
json_scalars: Strategy = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(TRICKY),
)  # fmt: skip
json_values: Strategy = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_FORMATS: dict[str, Strategy] = {
    "date-time": st.datetimes(min_value=datetime.datetime(1970, 1, 1), timezones=st.just(datetime.UTC)).map(
        lambda d: d.isoformat().replace("+00:00", "Z")
    ),
    "date": st.dates().map(str),
    "time": st.times().map(lambda t: t.isoformat() + "Z"),
    "uuid": st.uuids().map(str),
    "email": st.emails(),
    "uri": st.sampled_from(["https://riverhotels.example/h/42", "mailto:a@b.co", "urn:isbn:0451450523"]),
    "ipv4": st.ip_addresses(v=4).map(str),
    "ipv6": st.ip_addresses(v=6).map(str),
    "hostname": st.sampled_from(["example.com", "a.b.c", "localhost"]),
}


def from_schema(schema: Any, depth: int = 0) -> Strategy:
    """Values the schema is likely to accept (the schema dereferenced: `$ref`s left are drawn as anything)."""
    if not isinstance(schema, dict) or not schema or depth > MAX_DEPTH:  # `true`, `{}`, `false`: anything
        return json_values
    if "const" in schema:
        return st.just(schema["const"])
    if schema.get("enum"):
        return st.sampled_from(schema["enum"])
    for kw in ("anyOf", "oneOf"):
        if isinstance(schema.get(kw), list) and schema[kw]:
            rest = {k: v for k, v in schema.items() if k != kw}
            return st.one_of([from_schema({**rest, **_dict(m)}, depth + 1) for m in schema[kw]])
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for m in schema["allOf"]:
            for k, v in _dict(m).items():
                merged[k] = {**merged.get(k, {}), **v} if k == "properties" else merged.get(k, v)
        return from_schema(merged, depth + 1)
    types = schema.get("type") or _implied(schema)
    types = [types] if isinstance(types, str) else types
    if not types:
        return json_values
    return st.one_of([_of_type(t, schema, depth) for t in types])


def drawn(schema: Any) -> Strategy:
    """Events for a contract: half as drawn from its schema, half mutated."""
    return from_schema(schema).flatmap(lambda v: st.one_of(st.just(v), mutated(v, schema)))


def mutated(value: Any, schema: Any) -> Strategy:
    """`value`, or a copy with one thing changed: a property dropped, set to another value, or added."""
    if not isinstance(value, dict) or not value:
        return st.one_of(st.just(value), json_values)
    names = sorted(set(value) | set(_dict(_dict(schema).get("properties"))))
    return st.one_of(
        st.just(value),
        st.sampled_from(sorted(value)).map(lambda k: {n: v for n, v in value.items() if n != k}),
        st.tuples(st.sampled_from(names), json_values).map(lambda kv: {**value, kv[0]: kv[1]}),
        st.tuples(st.sampled_from(sorted(value)), st.data()).map(lambda kd: _deeper(value, kd[0], kd[1], schema)),
        st.just({**value, "unexpected_field": 1}),
    )


def _deeper(value: dict[str, Any], key: str, data: st.DataObject, schema: Any) -> dict[str, Any]:
    sub = _dict(_dict(_dict(schema).get("properties")).get(key))
    return {**value, key: data.draw(mutated(value[key], sub))}


def _of_type(kind: str, schema: dict[str, Any], depth: int) -> Strategy:
    if kind == "object":
        return _object(schema, depth)
    if kind == "array":
        return _array(schema, depth)
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(kind, schema)
    return {"boolean": st.booleans(), "null": st.none()}.get(kind, json_values)


def _object(schema: dict[str, Any], depth: int) -> Strategy:
    props = _dict(schema.get("properties"))
    required = [n for n in schema.get("required", []) if isinstance(n, str)]
    fixed = {n: from_schema(props.get(n, True), depth + 1) for n in required}
    optional = {n: from_schema(s, depth + 1) for n, s in props.items() if n not in fixed}
    extra = schema.get("additionalProperties", True)
    extras = (
        st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=5), from_schema(extra, depth + 1), max_size=2)
        if extra is not False and not props else st.just({})
    )  # fmt: skip
    return st.tuples(st.fixed_dictionaries(fixed, optional=optional), extras).map(lambda t: {**t[1], **t[0]})


def _array(schema: dict[str, Any], depth: int) -> Strategy:
    prefix = schema.get("prefixItems") or (schema["items"] if isinstance(schema.get("items"), list) else [])
    items = schema.get("items") if isinstance(schema.get("items"), dict) else True
    low, high = schema.get("minItems", 0), min(schema.get("maxItems", 4), 4 + len(prefix))
    head = st.tuples(*(from_schema(p, depth + 1) for p in prefix)).map(list)
    tail = st.lists(
        from_schema(items, depth + 1), min_size=max(0, low - len(prefix)), max_size=max(0, high - len(prefix))
    )
    unique = schema.get("uniqueItems") is True and not prefix
    if unique:
        tail = st.lists(from_schema(items, depth + 1), min_size=low, max_size=max(low, high), unique_by=repr)
    return st.tuples(head, tail).map(lambda t: t[0] + t[1])


def _string(schema: dict[str, Any]) -> Strategy:
    fmt, pattern = schema.get("format"), schema.get("pattern")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    if isinstance(pattern, str):
        try:
            return st.from_regex(pattern.replace("\\d", "[0-9]"), fullmatch=True)
        except Exception:  # a pattern Python's `re` cannot read: anything, the engines decide
            return st.text(max_size=10)
    low = schema.get("minLength", 0)
    high = min(schema.get("maxLength", low + 12), low + 12)
    text = st.text(string.ascii_letters + string.digits + " é", min_size=low, max_size=max(low, high))
    code = st.text(string.ascii_uppercase + string.digits, min_size=max(low, 8), max_size=max(low, 8))  # ids, codes
    return st.one_of(text, code, st.sampled_from([t for t in TRICKY if isinstance(t, str)]))


def _number(kind: str, schema: dict[str, Any]) -> Strategy:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low, high = (v if isinstance(v, int | float) and not isinstance(v, bool) else None for v in (low, high))
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        lo = int(low // step) if low is not None else -1000
        hi = int(high // step) if high is not None else lo + 10**6
        return st.integers(lo, hi).map(lambda n: round(n * step, 10) if isinstance(step, float) else n * step)
    if kind == "integer":
        return st.integers(int(low) if low is not None else None, int(high) if high is not None else None)
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _implied(schema: dict[str, Any]) -> list[str]:
    if "properties" in schema or "required" in schema:
        return ["object"]
    if "items" in schema or "prefixItems" in schema:
        return ["array"]
    return []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
