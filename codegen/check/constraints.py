"""Changes to one schema node's own keywords: annotations, type, enum and constraints.

Each keyword change either tightens the set of valid values (old data may now fail: breaks
BACKWARD), loosens it (new data may fail the old version: breaks FORWARD), changes it both
ways, or, for annotations, changes no value at all.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from codegen.check.findings import Change, Keys
from collector.schema import ANNOTATIONS, KEYWORDS
from collector.validate import json_type

Schema = dict[str, Any]
TIGHTENED, LOOSENED, CHANGED, SAME = (False, True), (True, False), (False, False), (True, True)
LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems")
UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
# Annotations that only document: the rest identify (`$schema` picks the draft, `$id` and anchors
# are `$ref` targets) or hold definitions, and can change which events pass.
STRUCTURAL = frozenset(
    {"$schema", "$id", "id", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$vocabulary", "$defs", "definitions"}
)
DOCS = ANNOTATIONS - STRUCTURAL


def annotation(keyword: str) -> bool:
    """Whether a keyword only documents: a docs annotation, an `x-` keyword, or one JSON Schema
    does not know (the spec makes unknown keywords annotations, e.g. Iglu's `self`)."""
    return keyword in DOCS or keyword.startswith("x-") or keyword not in KEYWORDS


# The keywords `node_changes` compares itself; `compat` walks `properties`, `items` and `$ref`.
MODELLED = frozenset({"type", "enum", "const", *LOWER, *UPPER, "multipleOf", "pattern", "format", "uniqueItems"})
_MISSING = object()
_APPLICATORS = ("$ref", "$dynamicRef", "$recursiveRef", "allOf", "anyOf", "oneOf", "not", "if")


def node_changes(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    """Every change of `old` → `new` at this node, not looking into fields or items."""
    return [
        *annotation_changes(old, new, path, keys), *types(old, new, path, keys), *enums(old, new, path, keys),
        *bounds(old, new, path, keys), *multiple_of(old, new, path, keys), *matchers(old, new, path, keys),
        *unique_items(old, new, path, keys),
    ]  # fmt: skip


def annotation_changes(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    out = []
    for kw in sorted(set(old) | set(new)):
        if kw == "x-contract" or not annotation(kw):
            continue
        a, b = old.get(kw, _MISSING), new.get(kw, _MISSING)
        if a == b:
            continue
        text = f"`{kw}` {'added' if a is _MISSING else 'removed' if b is _MISSING else 'changed'}"
        if kw.startswith("x-pii"):  # what consumers receive changes (a hash, a ciphertext): not docs
            out.append(Change("pii-changed", path, f"{text}: {_show(a)} → {_show(b)}", True, True, False, (*keys, kw)))
        else:
            kind = "description-changed" if kw == "description" else "annotation-changed"
            out.append(Change(kind, path, text, True, True, True, (*keys, kw)))
    return out


def types_of(schema: Schema) -> frozenset[str]:
    """The JSON types a node accepts (empty: any), inferred as the compiler does."""
    raw = schema.get("type")
    if isinstance(raw, str):
        return frozenset([raw])
    if isinstance(raw, list):
        return frozenset(t for t in raw if isinstance(t, str))
    if "properties" in schema:
        return frozenset(["object"])
    if "items" in schema:
        return frozenset(["array"])
    values = _values(schema)
    return frozenset(json_type(json.loads(v)) for v in values) if values is not None else frozenset()


def covers(wide: frozenset[str], narrow: frozenset[str]) -> bool:
    """Whether every value of types `narrow` is also of types `wide` (integer ⊂ number)."""
    if not wide:
        return True
    return bool(narrow) and all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def types(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    if _recomposed(old, new):
        return []  # the types come from subschemas or another file: the proof judges them
    if "type" not in old and "type" not in new and _values(old) is not None and _values(new) is not None:
        return []  # both are plain enums: `enums` says it better
    ot, nt = types_of(old), types_of(new)
    wider, narrower = covers(nt, ot), covers(ot, nt)
    if wider and narrower:
        return []
    text, k = f"type {_types(ot)} → {_types(nt)}", (*keys, "type")
    if wider:
        kind = "nullable-added" if nt - ot == {"null"} else "type-widened"
        return [Change(kind, path, text, *LOOSENED, keys=k)]
    if narrower:
        kind = "nullable-removed" if ot - nt == {"null"} else "type-narrowed"
        return [Change(kind, path, text, *TIGHTENED, keys=k)]
    return [Change("type-changed", path, text, *CHANGED, keys=k)]


def enums(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    ov, nv = _values(old), _values(new)
    if ov == nv or ((ov is None or nv is None) and _recomposed(old, new)):
        return []  # values allowed by subschemas (`oneOf` of `const`s): the proof judges them
    k = (*keys, "enum" if "enum" in new else "const")
    if ov is None or nv is None:
        added = ov is None
        values = _list(nv if added else ov)
        kind, effect = ("enum-narrowed", TIGHTENED) if added else ("enum-widened", LOOSENED)
        return [Change(kind, path, f"enum {'added' if added else 'removed'}: {values}", *effect, keys=k)]
    plus, minus = _list(nv - ov), _list(ov - nv)
    if not minus:
        return [Change("enum-widened", path, f"enum values added: {plus}", *LOOSENED, keys=k)]
    if not plus:
        return [Change("enum-narrowed", path, f"enum values removed: {minus}", *TIGHTENED, keys=k)]
    return [Change("enum-changed", path, f"enum values added: {plus}, removed: {minus}", *CHANGED, keys=k)]


def bounds(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    out = []
    for kw in LOWER + UPPER:
        a, b = old.get(kw), new.get(kw)
        if a == b:
            continue
        if a is None or b is None:
            effect = TIGHTENED if a is None else LOOSENED
            text = f"`{kw}` {b} added" if a is None else f"`{kw}` {a} removed"
        elif _is_number(a) and _is_number(b):
            effect = TIGHTENED if (b > a) == (kw in LOWER) else LOOSENED
            text = f"`{kw}` {a} → {b}"
        else:
            effect, text = CHANGED, f"`{kw}` {a!r} → {b!r}"
        out.append(_constraint(effect, path, text, (*keys, kw)))
    return out


def multiple_of(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    a, b = old.get("multipleOf"), new.get("multipleOf")
    if a == b:
        return []
    k = (*keys, "multipleOf")
    if a is None or b is None:
        text = f"`multipleOf` {b} added" if a is None else f"`multipleOf` {a} removed"
        return [_constraint(TIGHTENED if a is None else LOOSENED, path, text, k)]
    effect = CHANGED
    if _is_number(a) and _is_number(b) and a > 0 and b > 0:
        ratio = Fraction(str(b)) / Fraction(str(a))  # str: 0.1 is 1/10 here, not a binary fraction
        effect = TIGHTENED if ratio.denominator == 1 else LOOSENED if ratio.numerator == 1 else CHANGED
    return [_constraint(effect, path, f"`multipleOf` {a} → {b}", k)]


def matchers(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    """`pattern` and `format`: whether one regex or format accepts more than another is not
    decided here, so a change is taken as breaking both ways."""
    out = []
    for kw in ("pattern", "format"):
        a, b = old.get(kw), new.get(kw)
        if a == b:
            continue
        if a is None or b is None:
            effect, text = (TIGHTENED, f"`{kw}` {b!r} added") if a is None else (LOOSENED, f"`{kw}` {a!r} removed")
        else:
            effect, text = CHANGED, f"`{kw}` {a!r} → {b!r}"
        out.append(_constraint(effect, path, text, (*keys, kw)))
    return out


def unique_items(old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
    a, b = old.get("uniqueItems") is True, new.get("uniqueItems") is True
    if a == b:
        return []
    effect, text = (TIGHTENED, "`uniqueItems` added") if b else (LOOSENED, "`uniqueItems` removed")
    return [_constraint(effect, path, text, (*keys, "uniqueItems"))]


def _recomposed(old: Schema, new: Schema) -> bool:
    """A node whose values other schemas decide (`anyOf`, `$ref`, …, and no `type` of its own) in
    one version, with those keywords changed: the change is listed as theirs (`keyword-changed`)."""
    composed = any("type" not in s and any(k in s for k in _APPLICATORS) for s in (old, new))
    return composed and any(old.get(k) != new.get(k) for k in _APPLICATORS)


def _constraint(effect: tuple[bool, bool], path: str, text: str, keys: Keys) -> Change:
    kind = {TIGHTENED: "constraint-tightened", LOOSENED: "constraint-loosened"}.get(effect, "constraint-changed")
    return Change(kind, path, text, *effect, keys=keys)


def _values(schema: Schema) -> frozenset[str] | None:
    """`enum`/`const` values, JSON-encoded so `true` and `1` stay different."""
    if "const" in schema:
        return frozenset([json.dumps(schema["const"], sort_keys=True)])
    values = schema.get("enum")
    return frozenset(json.dumps(v, sort_keys=True) for v in values) if isinstance(values, list) else None


def _list(values: frozenset[str] | None) -> str:
    return ", ".join(sorted(values or ()))


def _types(types: frozenset[str]) -> str:
    order = ("string", "integer", "number", "boolean", "object", "array", "null")
    return " | ".join(sorted(types, key=lambda t: order.index(t) if t in order else len(order))) or "any"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return "(none)" if value is _MISSING else json.dumps(value)
