"""Compile a contract's JSON Schema into a msgspec type plus the few checks msgspec lacks.

The compiled type is what the hot path validates against (`msgspec.convert`); the extra
checks (`format: email|uri`, `uniqueItems`, fractional `multipleOf`) run only for
contracts that use them. Any keyword outside `SUPPORTED` is refused here, with the file,
the JSON path and the keyword, because a validator that silently skips a rule is a lie.
"""

from __future__ import annotations

import datetime
import keyword
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from collector.checks import (
    Check,
    all_of,
    fields_check,
    format_check,
    items_check,
    multiple_check,
    unique_check,
)

# Keywords Charter enforces. Anything else (except annotations and `x-` extensions) is refused.
SUPPORTED = (
    "type", "properties", "required", "additionalProperties", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "format", "items", "minItems", "maxItems",
    "uniqueItems", "$ref", "$defs",
)  # fmt: skip
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "default",
     "deprecated", "readOnly", "writeOnly"}
)  # fmt: skip
FORMATS = ("date-time", "date", "uuid", "email", "uri")

_JSON_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
FORMAT_PATTERNS = {"email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "uri": r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$"}


class SchemaError(Exception):
    """A contract the compiler refuses; the message names file, path and keyword."""

    def __init__(self, file: str, path: str, keyword: str, message: str) -> None:
        self.file, self.path, self.keyword = file, path, keyword
        super().__init__(f"{file}: {path}: `{keyword}`: {message}")


@dataclass(frozen=True, slots=True)
class Fields:
    """The root object's fields one by one, to explain every failing field on the slow path."""

    types: dict[str, Any]
    required: tuple[str, ...]
    closed: bool


@dataclass(frozen=True, slots=True)
class Compiled:
    type: Any
    check: Check | None
    fields: Fields | None = None


def compile_schema(schema: dict[str, Any], file: str) -> Compiled:
    """Compile the root schema of a contract (the schema of its `data`)."""
    return _Compiler(schema, file).node(schema, "$")


class _Compiler:
    def __init__(self, root: dict[str, Any], file: str) -> None:
        self.root, self.file = root, file
        self.refs: dict[str, Compiled] = {}
        self.resolving: set[str] = set()

    def fail(self, path: str, kw: str, message: str) -> SchemaError:
        return SchemaError(self.file, path, kw, message)

    def node(self, schema: Any, path: str) -> Compiled:
        if schema is True or schema == {}:
            return Compiled(Any, None)
        if not isinstance(schema, dict):
            raise self.fail(path, "schema", "must be an object (or `true`)")
        self._refuse_unknown(schema, path)
        if "$ref" in schema:
            return self._ref(schema, path)
        if "const" in schema:
            return Compiled(self._literal([schema["const"]], path, "const"), None)
        if "enum" in schema:
            return Compiled(self._literal(schema["enum"], path, "enum"), None)
        types = self._types(schema, path)
        if not types:
            return Compiled(Any, None)
        nullable = "null" in types
        kinds = [t for t in types if t != "null"]
        if "integer" in kinds and "number" in kinds:
            kinds.remove("integer")
        if sum(k in ("object", "array") for k in kinds) and len(kinds) > 1:
            raise self.fail(path, "type", "a union of object/array with other types is not supported")
        parts = [self._typed(kind, schema, path) for kind in kinds]
        t = _union([p.type for p in parts] + ([None] if nullable else []))
        checks = [p.check for p in parts if p.check is not None]
        check = checks[0] if len(checks) == 1 else all_of(checks) if checks else None
        return Compiled(t, check, parts[0].fields if len(parts) == 1 else None)

    def _refuse_unknown(self, schema: dict[str, Any], path: str) -> None:
        for kw in schema:
            if kw in SUPPORTED or kw in ANNOTATIONS or kw.startswith("x-"):
                continue
            raise self.fail(
                f"{path}.{kw}", kw,
                f"keyword is not supported by Charter; supported: {', '.join(SUPPORTED)}",
            )  # fmt: skip

    def _types(self, schema: dict[str, Any], path: str) -> list[str]:
        raw = schema.get("type")
        if raw is None:
            if "properties" in schema:
                return ["object"]
            if "items" in schema:
                return ["array"]
            return []
        types = [raw] if isinstance(raw, str) else raw
        if not isinstance(types, list) or not all(t in _JSON_TYPES for t in types):
            raise self.fail(f"{path}.type", "type", f"unknown type {raw!r}; use {sorted(_JSON_TYPES)}")
        return list(dict.fromkeys(types))

    def _ref(self, schema: dict[str, Any], path: str) -> Compiled:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            raise self.fail(
                f"{path}.$ref", "$ref", f"only local `#/$defs/<name>` references are supported, got {ref!r}"
            )
        if {k for k in schema if not k.startswith("x-")} - ANNOTATIONS - {"$ref"}:
            raise self.fail(f"{path}.$ref", "$ref", "`$ref` must not be combined with other keywords")
        name = ref.removeprefix("#/$defs/")
        if name in self.refs:
            return self.refs[name]
        if name in self.resolving:
            raise self.fail(f"{path}.$ref", "$ref", f"recursive reference {ref!r} is not supported")
        target = self.root.get("$defs", {}).get(name)
        if target is None:
            raise self.fail(f"{path}.$ref", "$ref", f"{ref!r} does not exist in `$defs`")
        self.resolving.add(name)
        self.refs[name] = compiled = self.node(target, f"$.$defs.{name}")
        self.resolving.discard(name)
        return compiled

    def _literal(self, values: Any, path: str, kw: str) -> Any:
        if not isinstance(values, list) or not values:
            raise self.fail(f"{path}.{kw}", kw, "must be a non-empty list")
        for v in values:
            if not (v is None or isinstance(v, str | int)) or isinstance(v, float):
                raise self.fail(
                    f"{path}.{kw}", kw, f"only string, integer, boolean and null values are supported, got {v!r}"
                )
        return Literal[tuple(values)]

    def _typed(self, kind: str, schema: dict[str, Any], path: str) -> Compiled:
        if kind == "object":
            return self._object(schema, path)
        if kind == "array":
            return self._array(schema, path)
        if kind == "string":
            return self._string(schema, path)
        if kind in ("integer", "number"):
            return self._number(kind, schema, path)
        return Compiled(bool, None)

    def _string(self, schema: dict[str, Any], path: str) -> Compiled:
        meta = _meta(schema, {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern"})
        fmt = schema.get("format")
        if fmt is None:
            return Compiled(_annotate(str, meta), None)
        if fmt not in FORMATS:
            raise self.fail(
                f"{path}.format", "format", f"format {fmt!r} is not supported; supported: {', '.join(FORMATS)}"
            )
        if fmt == "date-time":
            return Compiled(Annotated[datetime.datetime, Meta(tz=True)], None)
        if fmt == "date":
            return Compiled(datetime.date, None)
        if fmt == "uuid":
            return Compiled(uuid.UUID, None)
        regex = FORMAT_PATTERNS[fmt]
        if "pattern" not in meta:  # msgspec checks it in C; validate.py names the failure `format`
            return Compiled(_annotate(str, {**meta, "pattern": regex}), None)
        return Compiled(_annotate(str, meta), format_check(fmt, re.compile(regex)))

    def _number(self, kind: str, schema: dict[str, Any], path: str) -> Compiled:
        names = {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"}
        for kw in names:
            if kw in schema and not _is_number(schema[kw]):
                raise self.fail(f"{path}.{kw}", kw, "must be a number")
        step = schema.get("multipleOf")
        if step is not None and (not _is_number(step) or step <= 0):
            raise self.fail(f"{path}.multipleOf", "multipleOf", "must be a number > 0")
        base: type = int if kind == "integer" else float
        exact = isinstance(step, int) and (kind == "integer" or step == int(step))
        if step is not None and exact:
            names = {**names, "multipleOf": "multiple_of"}
        t = _annotate(base, _meta(schema, names))
        return Compiled(t, None if step is None or exact else multiple_check(float(step)))

    def _array(self, schema: dict[str, Any], path: str) -> Compiled:
        item = self.node(schema.get("items", True), f"{path}.items")
        meta = _meta(schema, {"minItems": "min_length", "maxItems": "max_length"})
        checks: list[Check] = []
        if item.check is not None:
            checks.append(items_check(item.check))
        if schema.get("uniqueItems") is True:
            checks.append(unique_check)
        return Compiled(_annotate(list[item.type], meta), all_of(checks) if checks else None)  # type: ignore[name-defined]

    def _object(self, schema: dict[str, Any], path: str) -> Compiled:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        extra = schema.get("additionalProperties", True)
        if extra not in (True, False):
            raise self.fail(
                f"{path}.additionalProperties", "additionalProperties", "only `true` or `false` is supported"
            )
        if not isinstance(props, dict) or not isinstance(required, list):
            raise self.fail(path, "properties", "`properties` must be an object and `required` a list")
        for name in required:
            if name not in props:
                raise self.fail(f"{path}.required", "required", f"required field {name!r} is not in `properties`")
        if not props and extra:
            return Compiled(dict[str, Any], None)
        fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
        checks: dict[str, Check] = {}
        rename: dict[str, str] = {}
        types: dict[str, Any] = {}
        for i, (name, sub) in enumerate(props.items()):
            child = self.node(sub, f"{path}.properties.{name}")
            types[name] = child.type
            attr = name if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") else f"f{i}"
            rename[attr] = name
            if child.check is not None:
                checks[name] = child.check
            if name in required:
                fields.append((attr, child.type))
            else:
                fields.append((attr, child.type | UnsetType, UNSET))
        try:
            struct = msgspec.defstruct(
                _struct_name(path), sorted(fields, key=len), rename=rename, forbid_unknown_fields=not extra,
            )  # fmt: skip
        except (TypeError, ValueError) as exc:  # e.g. a property name msgspec cannot represent
            raise self.fail(f"{path}.properties", "properties", f"unusable property name: {exc}") from None
        explain = Fields(types, tuple(required), not extra)
        return Compiled(struct, fields_check(checks) if checks else None, explain)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _meta(schema: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {arg: schema[kw] for kw, arg in names.items() if kw in schema}


def _annotate(base: Any, meta: dict[str, Any]) -> Any:
    return Annotated[base, Meta(**meta)] if meta else base


def _union(types: list[Any]) -> Any:
    t = types[0]
    for other in types[1:]:
        t = t | other
    return t


def _struct_name(path: str) -> str:
    return "Data" + re.sub(r"[^0-9A-Za-z]+", "_", path.replace("properties.", ""))
