"""Every subschema of a contract, by the keywords that hold schemas in drafts 4 to 2020-12.

Keys under `properties` or `$defs` are names, and values of `enum`, `const` or `default` are
data: only the positions below hold schemas, so only they are walked or rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from codegen.check.findings import Keys

NAMED = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}
)  # fmt: skip
SINGLE = frozenset(
    {"additionalProperties", "propertyNames", "items", "additionalItems", "contains", "not", "if", "then",
     "else", "unevaluatedItems", "unevaluatedProperties", "contentSchema"}
)  # fmt: skip
LISTED = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})


def subschemas(schema: Any, keys: Keys = ()) -> Iterator[tuple[dict[str, Any], Keys]]:
    """`schema` and every schema object inside it, each with its keys into the document."""
    if not isinstance(schema, dict):
        return
    yield schema, keys
    for kw, value in schema.items():
        for child, child_keys in _children(kw, value, (*keys, kw)):
            yield from subschemas(child, child_keys)


def rewrite(schema: Any, keep: Callable[[str], bool]) -> Any:
    """A copy of `schema` with, in every schema object, only the keywords `keep` accepts."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for kw, value in schema.items():
        if not keep(kw):
            continue
        if kw in NAMED and isinstance(value, dict):
            out[kw] = {name: rewrite(sub, keep) for name, sub in value.items()}
        elif kw in LISTED and isinstance(value, list):
            out[kw] = [rewrite(sub, keep) for sub in value]
        elif kw in SINGLE:
            out[kw] = rewrite(value, keep)
        else:
            out[kw] = value
    return out


def _children(kw: str, value: Any, keys: Keys) -> Iterator[tuple[Any, Keys]]:
    if kw in NAMED and isinstance(value, dict):
        yield from ((sub, (*keys, name)) for name, sub in value.items())
    elif kw in LISTED and isinstance(value, list):
        yield from ((sub, (*keys, i)) for i, sub in enumerate(value))
    elif kw in SINGLE:
        yield value, keys
