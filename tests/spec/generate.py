"""Hypothesis strategies for a contract's events: instances built to satisfy its schema, and
mutations of them aimed at every keyword's edge (a bound crossed by one, `1.0` for an integer,
a trailing newline after a pattern, Arabic-Indic digits, a duplicate in a unique array, …).

hypothesis-jsonschema would build the first kind, but 0.23.1 fails on current hypothesis
(`'many' object has no attribute 'more'`), so the generator here covers the keywords the
contracts use and names any other it meets rather than generating blind.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

Schema = dict[str, Any]
# Keywords the generator reads; any other assertion keyword in a contract stops the test.
HANDLED = frozenset(
    {"type", "enum", "const", "$ref", "properties", "required", "additionalProperties", "items", "minItems",
     "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
     "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_ARABIC_INDIC = str.maketrans("0123456789", "".join(map(chr, range(0x0660, 0x066A))))  # Arabic-Indic 0..9
_FULLWIDTH = str.maketrans("0123456789", "".join(map(chr, range(0xFF10, 0xFF1A))))  # fullwidth 0..9
_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z]{2,6}){1,2}", fullmatch=True)
_FORMATS: dict[str, st.SearchStrategy[str]] = {
    "date-time": st.datetimes(timezones=st.timezones() | st.just(None)).map(lambda d: d.isoformat() + ("" if d.tzinfo else "Z")),
    "date": st.dates().map(lambda d: d.isoformat()),
    "uuid": st.uuids().map(str),
    "email": st.builds(lambda local, host: f"{local}@{host}", st.from_regex(r"[A-Za-z0-9._%+-]{1,12}", fullmatch=True), _HOST) | st.emails(),
    "uri": st.builds(lambda scheme, host, path: f"{scheme}://{host}/{path}", st.sampled_from(["https", "http", "ftp"]), _HOST,
                     st.from_regex(r"[A-Za-z0-9._~/-]{0,20}", fullmatch=True)),
}  # fmt: skip
# Values close to each format's edge: some valid, some not, each one a known trap.
_FORMAT_EDGES: dict[str, list[str]] = {
    "date-time": ["2020-01-01 00:00:00Z", "2020-01-01t00:00:00z", "2020-01-01T00:00:00", "2020-01-01T00:00:00+0100",
                  "1998-12-31T23:59:60Z", "1998-12-31T23:59:60+01:00", "2020-01-01T24:00:00Z", "2020-02-30T00:00:00Z",
                  "2020-01-01T00:00:00.123456789Z", "2020-01-01T00:00:00+24:00", "٢٠٢٠-01-01T00:00:00Z",
                  "2020-01-01T00:00:00,5Z", "2020-01-01T12:00:60Z", "2020-01-01T00:00:00.Z", "2020-01-01T00:00Z"],
    "date": ["2021-02-29", "2020-02-29", "2020-1-01", "2020-01-01T00:00:00Z", "20200101", "2020-13-01"],
    "uuid": ["2eb8aa08aa984ea8b2ef9c6f2bf3b8bd", "2EB8AA08-AA98-4EA8-B2EF-9C6F2BF3B8BD", "{2eb8aa08-aa98-4ea8-b2ef-9c6f2bf3b8bd}",
             "urn:uuid:2eb8aa08-aa98-4ea8-b2ef-9c6f2bf3b8bd", "2eb8aa08-aa98-4ea8-b2ef-9c6f2bf3b8b", "2eb8aa0-8aa98-4ea8-b2ef-9c6f2bf3b8bd",
             "00000000-0000-0000-0000-000000000000", "2eb8aa08-aa98-4ea8-b2ef-9c6f2bf3b8bdd", "2eb8aa08_aa98_4ea8_b2ef_9c6f2bf3b8bd"],
    "email": ["a@b", "a@b@c", "a..b@c.com", ".a@b.com", '"a b"@c.com', "a@[127.0.0.1]", "a@[IPv6:::1]", "a@-b.com",
              "ä@b.com", "a@b_c.com", "@b.com", "a@", "a b@c.com", "a@127.0.0.1", "a@localhost", "a" * 65 + "@b.com",
              "a@" + "b" * 64 + ".com", "a@b.c", "a@b.com.", "a@[IPv6:::1%eth0]"],
    "uri": ["relative/path", "//host/path", "http://exa mple.com", "http://[::1]/", "urn:isbn:0451450523", "https://ex.com/ä",
            "mailto:a@b.com", "http://ex.com/%zz", "http:", "HTTPS://EX.COM", "1http://ex.com", "http://ex.com:99999/",
            "http://user@ex.com/", "http://ex.com/?q=ä", "http://ex.com/#a#b", "http://[fe80::1%25en0]/", "\\\\server\\share",
            "http://ex.com/a b", "http://-ex.com/", "urn:uuid:00000000-0000-0000-0000-000000000000"],
}  # fmt: skip


def instances(schema: Any, root: Schema) -> st.SearchStrategy[Any]:
    """Values built to satisfy `schema` (pattern and format generation is best effort)."""
    if schema is True or schema == {}:
        return _JSON
    if schema is False:
        return st.nothing()
    if "$ref" in schema:
        return instances(resolve(schema["$ref"], root), root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type", ["null", "boolean", "integer", "number", "string", "array", "object"])
    types = [types] if isinstance(types, str) else types
    return st.one_of([_BUILDERS[t](schema, root) for t in types])


def resolve(ref: str, root: Schema) -> Any:
    if not ref.startswith("#"):
        raise NotImplementedError(f"the generator follows only in-document references, not {ref!r}")
    node: Any = root
    for part in filter(None, ref[1:].split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def unhandled(schema: Any, known: frozenset[str]) -> set[str]:
    """Assertion keywords in `schema` that the generator does not read (annotations are fine)."""
    if isinstance(schema, list):
        return set().union(*(unhandled(s, known) for s in schema))
    if not isinstance(schema, dict):
        return set()
    out = {k for k in schema if k in known and k not in HANDLED}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out |= unhandled(list(value.values()), known)
        elif key in ("items", "additionalProperties"):
            out |= unhandled(value, known)
    return out


def _object(schema: Schema, root: Schema) -> st.SearchStrategy[Any]:
    props: dict[str, Any] = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in props]
    optional = [k for k in props if k not in required]
    extra = schema.get("additionalProperties", True)
    extras = (
        st.just({})
        if extra is False
        else st.dictionaries(st.text(max_size=8).filter(lambda k: k not in props), instances(extra, root), max_size=2)
    )
    return st.builds(
        lambda req, opt, more: {**more, **req, **opt},
        st.fixed_dictionaries({k: instances(props[k], root) for k in required}),
        st.fixed_dictionaries({}, optional={k: instances(props[k], root) for k in optional}),
        extras,
    )


def _array(schema: Schema, root: Schema) -> st.SearchStrategy[Any]:
    lo = schema.get("minItems", 0)
    hi = min(schema.get("maxItems", lo + 3), lo + 3)  # short arrays: every item is mutated, `_edges` pads to the bound
    items = instances(schema.get("items", True), root)
    return st.lists(items, min_size=lo, max_size=hi, unique_by=(_canonical if schema.get("uniqueItems") else None))


def _string(schema: Schema, root: Schema) -> st.SearchStrategy[Any]:
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    if "format" in schema and schema["format"] in _FORMATS:
        base = _FORMATS[schema["format"]]
    elif "pattern" in schema:
        base = st.from_regex(schema["pattern"].removeprefix("^").removesuffix("$"), fullmatch=True)
    else:
        return st.text(min_size=lo, max_size=hi)
    return base.filter(lambda s: lo <= len(s) and (hi is None or len(s) <= hi))


def _number(schema: Schema, root: Schema, integer: bool = False) -> st.SearchStrategy[Any]:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    step = schema.get("multipleOf")
    if step is not None:
        first = math.ceil(Decimal(repr(lo)) / Decimal(repr(step))) if lo is not None else None
        last = math.floor(Decimal(repr(hi)) / Decimal(repr(step))) if hi is not None else None
        return st.integers(first, last).map(lambda k: _times(k, step))
    if integer:
        return st.integers(None if lo is None else math.ceil(lo), None if hi is None else math.floor(hi))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, exclude_min="exclusiveMinimum" in schema,
                     exclude_max="exclusiveMaximum" in schema) | st.integers(None if lo is None else math.ceil(lo), None if hi is None else math.floor(hi))  # fmt: skip


def _times(k: int, step: float | int) -> float | int:
    exact = Decimal(k) * Decimal(repr(step))  # the decimal multiple, then the nearest double (what a JSON writer sends)
    return int(exact) if isinstance(step, int) else float(exact)


def _canonical(value: Any) -> Any:
    """A hashable key under which JSON-equal values collide (1 == 1.0; key order ignored)."""
    if isinstance(value, dict):
        return ("o", frozenset((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("a", tuple(_canonical(v) for v in value))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    return ("n", Decimal(repr(value)) if isinstance(value, float) else Decimal(value))


_BUILDERS = {
    "null": lambda s, r: st.none(),
    "boolean": lambda s, r: st.booleans(),
    "integer": lambda s, r: _number(s, r, integer=True),
    "number": _number,
    "string": _string,
    "array": _array,
    "object": _object,
}


def mutations(schema: Schema, value: Any, root: Schema) -> Iterator[Any]:
    """Every variant of `value` with one place inside it pushed to one of its keywords' edges."""
    for path, site in _sites(schema, value, (), root):
        for new in _edges(site, _get(value, path)):
            yield _set(value, path, new)


@st.composite
def mutated(draw: st.DrawFn, schema: Schema, root: Schema) -> Any:
    """One variant from `mutations`, for tests that want a few edge cases rather than all."""
    value = draw(instances(schema, root))
    return draw(st.sampled_from(list(mutations(schema, value, root))))


def _sites(schema: Any, value: Any, path: tuple[Any, ...], root: Schema) -> Any:
    if isinstance(schema, dict) and "$ref" in schema:
        schema = resolve(schema["$ref"], root)
    yield path, schema
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                yield from _sites(sub, value[key], (*path, key), root)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            yield from _sites(schema["items"], item, (*path, i), root)


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _set(value[head], rest, new)}
    return [_set(v, rest, new) if i == head else v for i, v in enumerate(value)]


def _edges(schema: Any, value: Any) -> list[Any]:
    """Values at the edge of `schema`'s keywords, derived from the valid `value` where it helps."""
    options: list[Any] = [None, True, 0, 1, -1, 1.5, "", "x", [], {}, -0.0, 0.0]
    if not isinstance(schema, dict):
        return options
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(schema.get(key), int | float):
            b = schema[key]
            options += [b, b - 1, b + 1, float(b), math.nextafter(b, -math.inf), math.nextafter(b, math.inf)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        options += [
            float(value),
            value + 0.5,
            value + 0.001,
            -value,
            2**53 + 1,
            -(2**53) - 1,
            10**20,
            10**400,
            -(10**400),
            1e308,
            1e-300,
            5e-324,
        ]
    if isinstance(value, str):
        options += [value + "\n", "\n" + value, value + " ", value.translate(_ARABIC_INDIC), value.translate(_FULLWIDTH),
                    value.upper(), value.lower(), value[:-1], value + value[-1:], value.replace("-", "")]  # fmt: skip
        for key in ("minLength", "maxLength"):
            if isinstance(schema.get(key), int):
                n = schema[key]
                options += [
                    "a" * n,
                    "a" * (n + 1),
                    "a" * max(n - 1, 0),
                    "😀" * n,
                    "😀" * (n + 1),
                    "é" * n,
                    "e\u0301" * n,
                ]
        options += _FORMAT_EDGES.get(schema.get("format", ""), [])
    if "enum" in schema:
        options += [str(v).lower() if isinstance(v, str) else v for v in schema["enum"]] + [
            str(v).swapcase() for v in schema["enum"]
        ]
    if isinstance(value, dict):
        options += [{k: v for k, v in value.items() if k != drop} for drop in schema.get("required", [])]
        options += [{**value, "zz_extra": 1}, {**value, "": None}, dict(reversed(list(value.items())))]
    if isinstance(value, list):
        options += [
            value + value[:1],
            [*value, 1, 1.0],
            [*value, 0, -0.0],
            [*value, True, 1],
            list(reversed(value)),
            value[:-1],
            [*value, *value],
        ]
        options += [[*value, dict(reversed(list(value[0].items())))]] if value and isinstance(value[0], dict) else []
        for key in ("minItems", "maxItems"):
            if isinstance(schema.get(key), int) and value:
                n = schema[key]
                options += [(value * (n + 2))[: n + d] for d in (-1, 0, 1) if n + d >= 0]
    options += [string.printable, "\u0663", "\u0000"]
    return options
