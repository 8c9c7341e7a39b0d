"""A contract's fields, flattened: what every exporter reads instead of walking JSON Schema itself.

The walk reads the contract with every `$ref` inlined (`Contract.inlined`: within the document,
to shared files and to other contracts; the keywords at the reference site win over the
target's): objects, arrays, scalars, `enum`/`const`. What has no single column type — a
`oneOf`/`anyOf` of shapes, a type list of several kinds — is `any` (a JSON column).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from collector.contracts import Contract
from collector.validate import json_type

# Constraint keywords in the order people read them.
CONSTRAINTS = (
    "minLength", "maxLength", "pattern", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems", "uniqueItems", "additionalProperties",
)  # fmt: skip
_SCALARS = ("string", "integer", "number", "boolean")


@dataclass(frozen=True, slots=True)
class Field:
    path: str  # `$.items[*].price`
    name: str
    depth: int  # 0 for a top-level field of `data`
    kind: str  # string | integer | number | boolean | object | array | any
    format: str | None
    nullable: bool
    required: bool  # required by the object that holds it
    description: str
    enum: tuple[Any, ...] | None  # `const` is a one-value enum; never holds None
    constraints: tuple[tuple[str, Any], ...]
    pii: str | None
    classification: str | None
    items: Field | None  # what an array holds (its `name` is `[*]`)
    node: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)  # resolved schema

    @property
    def label(self) -> str:
        """`string (date-time)`, `array of string (uri)`, `integer | null`: the type as people say it."""
        base = self.kind if self.format is None else f"{self.kind} ({self.format})"
        if self.kind == "array" and self.items is not None:
            base = f"array of {self.items.label}"
        return f"{base} | null" if self.nullable else base


def top_level(contract: Contract) -> list[Field]:
    """The fields of `data` itself, in contract order."""
    schema = contract.inlined()
    return list(_properties(schema, schema, "$", 0))


def walk(contract: Contract) -> list[Field]:
    """Every field, depth first: an object's fields (and an array's item fields) follow it."""
    schema = contract.inlined()
    return list(_flatten(list(_properties(schema, schema, "$", 0)), schema))


def _flatten(fields: list[Field], root: dict[str, Any]) -> Iterator[Field]:
    for f in fields:
        yield f
        yield from _flatten(_children(f, root), root)


def _children(f: Field, root: dict[str, Any]) -> list[Field]:
    if f.kind == "object":
        return list(_properties(f.node, root, f.path, f.depth + 1))
    if f.kind == "array" and f.items is not None and f.items.kind == "object":
        return list(_properties(f.items.node, root, f.items.path, f.depth + 1))
    return []


def _properties(node: dict[str, Any], root: dict[str, Any], path: str, depth: int) -> Iterator[Field]:
    required = set(node.get("required", []))
    for name, sub in node.get("properties", {}).items():
        yield describe(root, sub, f"{path}.{name}", name, depth, name in required)


def describe(root: dict[str, Any], raw: Any, path: str, name: str, depth: int, required: bool) -> Field:
    """Describe one (sub-)schema as a field."""
    site = raw if isinstance(raw, dict) else {}
    node = _resolve(root, site)
    types = _types(node)
    nullable = "null" in types or (node.get("enum") is not None and None in node["enum"])
    kinds = [t for t in types if t != "null"]
    items = None
    kind = kinds[0] if len(kinds) == 1 else "any"
    if kind == "array":
        item = node.get("items", True)
        items = describe(root, item if isinstance(item, dict) else True, f"{path}[*]", "[*]", depth + 1, True)
    values = _enum(node)
    return Field(
        path=path, name=name, depth=depth, kind=kind, format=node.get("format") if kind == "string" else None,
        nullable=nullable, required=required,
        description=str(site.get("description") or node.get("description") or ""),
        enum=values, constraints=tuple((k, node[k]) for k in CONSTRAINTS if k in node),
        pii=site.get("x-pii", node.get("x-pii")),
        classification=site.get("x-classification", node.get("x-classification")),
        items=items, node=node,
    )  # fmt: skip


def _resolve(root: dict[str, Any], node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root, root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}))
    return node


def _types(node: dict[str, Any]) -> list[str]:
    """The JSON types a schema admits, `integer` folded into `number` when both are allowed."""
    raw = node.get("type")
    if raw is not None:
        types = [raw] if isinstance(raw, str) else list(raw)
    elif "enum" in node or "const" in node:
        values = node["enum"] if "enum" in node else [node["const"]]
        types = list(dict.fromkeys(json_type(v) for v in values))
    elif "properties" in node:
        types = ["object"]
    elif "items" in node:
        types = ["array"]
    else:
        types = []
    if "integer" in types and "number" in types:
        types.remove("integer")
    return types


def _enum(node: dict[str, Any]) -> tuple[Any, ...] | None:
    if "const" in node:
        return () if node["const"] is None else (node["const"],)
    if "enum" in node:
        return tuple(v for v in node["enum"] if v is not None)
    return None


def is_scalar(f: Field) -> bool:
    return f.kind in _SCALARS
