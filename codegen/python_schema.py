"""A contract's JSON Schema → what datamodel-code-generator should see, keyword by keyword, so
that the generated Structs are types every valid event can be built with.

The Structs are the SDK's typed API; they do not decide what is valid: the tracker checks each
event's JSON against the embedded contract with the collector's engine (templates/python/_check.py).

- Charter's `x-` keywords are dropped (they are metadata, not types), and so is every keyword a
  type cannot say (`not`, `if`/`then`/`else`, `dependentRequired`, `pattern`, `uniqueItems`,
  `contains`, `unevaluated*`, `propertyNames`, ...): it stays a check, run by the schema;
- every object with properties becomes a class of a name we choose, `<TypeName><Def>` for a
  `$defs`/`definitions` entry or a `$ref` target (a shared file, another contract), and
  `<Parent><Field>` for a nested object, so names never collide inside a namespace module and
  never change when another contract is added; closed objects (`additionalProperties: false`)
  get `forbid_unknown_fields=True`;
- `anyOf`/`oneOf` become unions (`<Parent>Option<n>` classes), `allOf` is merged, `const` and
  `enum` of strings, integers, booleans and null become `Literal`s (other values: their JSON
  types), `additionalProperties`/`patternProperties` schemas become `dict[str, T]`, a closed
  `prefixItems` (or draft-07 `items` list) a `tuple[...]`; a contract whose root is a union of
  objects gets an event class per member and `<TypeName>` names their union;
- `format: date-time` becomes an offset-aware datetime (`Meta(tz=True)`), `date` a `date`,
  `uuid` a `UUID`; other formats stay `str`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codegen.model import Line, Resolver, is_literal, json_types, merged, ref_name

SITE = ("description", "default", "deprecated")  # what stays with a field when its type moves
# what a type can say; every other keyword stays a check of the embedded contract
TYPED = frozenset({
    "type", "properties", "required", "items", "prefixItems", "additionalItems", "additionalProperties",
    "patternProperties", "enum", "const", "anyOf", "oneOf", "$ref", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems", "maxItems", *SITE,
})  # fmt: skip
OWN_TYPE = ("properties", "items", "prefixItems", "enum", "const", "additionalProperties", "patternProperties")
FORMATS = frozenset({"date-time", "date", "uuid"})  # formats with a Python type msgspec encodes as the format says


class GenerationError(Exception):
    """datamodel-code-generator produced something the SDK cannot use; the message says what."""


@dataclass
class Prepared:
    """One namespace's document for datamodel-code-generator: a `$defs` entry per class to generate."""

    defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)  # classes of objects with `additionalProperties: false`
    events: dict[str, str] = field(default_factory=dict)  # event class → its contract's major-only reference
    unions: dict[str, list[str]] = field(default_factory=dict)  # a contract whose root is a union of event classes


def prepare(line: Line, package: str, into: Prepared) -> None:
    """Add the classes of one contract line: the contract, its `$defs`, and its nested objects."""
    rewrite = _Rewriter(line, Resolver(line.contract), f"{package}.event.AwareDatetime", into)
    rewrite.contract()


class _Rewriter:
    """Rewrites the schemas of one contract line into `Prepared`, hoisting objects into `$defs`
    under names of our own, so we know each class name and whether it is closed."""

    def __init__(self, line: Line, resolver: Resolver, aware_datetime: str, into: Prepared) -> None:
        self.line, self.resolver, self.aware_datetime, self.into = line, resolver, aware_datetime, into
        self.inlining: list[str] = []  # `allOf` references being inlined, outermost first
        self.names: dict[tuple[str, str], str] = {(resolver.main, ""): line.type_name}  # `$ref` target → class
        schema = line.contract.schema
        self.local = [(kw, name) for kw in ("$defs", "definitions") for name in _dict(schema.get(kw))]
        for kw, name in self.local:
            self.names[(resolver.main, f"/{kw}/{_escape(name)}")] = line.type_name + _pascal(name)

    def contract(self) -> None:
        """The contract's class (or a class per member of a root union), then its definitions."""
        main, schema = self.resolver.main, self.line.contract.schema
        root, at = self._root(schema)
        options = _root_union(root)
        if options is None:
            self.declare(self.line.type_name, root, at, event=True)
        else:
            self.into.defs[self.line.type_name] = {}  # the name is taken by the union, written after the module
            members = [self._event_option(m, i, at) for i, m in enumerate(options)]
            del self.into.defs[self.line.type_name]
            self.into.unions[self.line.type_name] = members
        for kw, name in self.local:
            key = (main, f"/{kw}/{_escape(name)}")
            if self.names[key] not in self.into.defs:
                self.declare(self.names[key], schema[kw][name], main)

    def _root(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The schema the contract's class is made of: a root that is only a `$ref` is its target."""
        root, at = merged(schema, self.resolver, self.resolver.main), self.resolver.main
        followed = {(at, "")}
        while isinstance(root.get("$ref"), str) and not root.get("properties"):
            target = self.resolver.resolve(root["$ref"], at)
            if target is None or not isinstance(target.schema, dict) or (target.path, target.pointer) in followed:
                break
            followed.add((target.path, target.pointer))
            self.names[(target.path, target.pointer)] = self.line.type_name
            root, at = merged(target.schema, self.resolver, target.path), target.path
        return root, at

    def _event_option(self, member: Any, i: int, at: str) -> str:
        ref = member.get("$ref") if isinstance(member, dict) else None
        target = self.resolver.resolve(ref, at) if isinstance(ref, str) else None
        name = self.names.get((target.path, target.pointer)) if target else None
        if target is not None and name is None:
            name = self.names[(target.path, target.pointer)] = self._fresh(target.pointer, target.path)
        if name is None or "properties" not in self.into.defs.get(name, {"properties": {}}):
            name = self._fresh(f"/Option{i + 1}", at)  # not a class yet: this member gets its own
        if name not in self.into.defs:
            self.declare(name, target.schema if target else member, target.path if target else at, event=True)
        self.into.events[name] = self.line.reference
        return name

    def declare(self, name: str, schema: Any, at: str, event: bool = False) -> None:
        if name in self.into.defs:
            raise GenerationError(f"two types of this namespace would be named {name}; rename a field or contract")
        self.into.defs[name] = {}  # taken before the children are named
        typed = self.node(schema, name, at)
        if event:
            self.into.events[name] = self.line.reference
            # an event is always a class (its data an object), even one the types cannot describe
            kept = {k: v for k, v in typed.items() if k in (*SITE, "properties", "required")}
            typed = {**kept, "type": "object", "properties": kept.get("properties", {})}
        self.into.defs[name] = typed
        if isinstance(schema, dict) and schema.get("additionalProperties") is False and schema.get("properties"):
            self.into.closed.add(name)

    def node(self, schema: Any, name: str, at: str) -> dict[str, Any]:
        """The schema as types see it (a `{}` is `Any`)."""
        if not isinstance(schema, dict):
            return {}
        with self._merged(schema, at) as schema:
            return self._node(schema, name, at)

    @contextlib.contextmanager
    def _merged(self, schema: dict[str, Any], at: str) -> Iterator[dict[str, Any]]:
        """The schema with its `allOf` merged; inside, the references it inlined are not inlined again
        (a definition that includes itself through `allOf` would otherwise never end)."""
        followed: set[str] = set()
        schema = merged(schema, self.resolver, at, frozenset(self.inlining), followed)
        self.inlining.extend(followed)
        try:
            yield schema
        finally:
            del self.inlining[len(self.inlining) - len(followed) :]

    def _node(self, schema: dict[str, Any], name: str, at: str) -> dict[str, Any]:
        if isinstance(schema.get("$ref"), str):
            return {**_site(schema), **self._ref(schema["$ref"], name, at)}
        union = self._union(schema, name, at)
        if union is not None:
            return union
        out = {k: v for k, v in schema.items() if k in TYPED and k not in ("anyOf", "oneOf")}
        self._values(out)
        self._numbers(out)
        if out.get("format") not in FORMATS:
            out.pop("format", None)
        if "properties" in out:
            props = _dict(out["properties"])
            out["properties"] = {
                f: self._field(sub, name + _pascal(f), at) for f, sub in props.items() if sub is not False
            }
        if "prefixItems" in out or isinstance(out.get("items"), list):
            return self._tuple(out, name, at)
        if "items" in out:
            out["items"] = self._field(out["items"], name + "Item", at)
        out.pop("additionalItems", None)
        self._map(out, name, at)
        if out.get("format") == "date-time":
            typed = {**_without_null(out), "x-python-type": self.aware_datetime}
            if not _nullable(out):  # x-python-type is ignored on a `type` list: spell the null as anyOf
                return typed
            return {**_site(out), "anyOf": [{k: v for k, v in typed.items() if k not in SITE}, {"type": "null"}]}
        return out

    def _union(self, schema: dict[str, Any], name: str, at: str) -> dict[str, Any] | None:
        """`anyOf`/`oneOf` as a union, when the schema's own keywords say no more than its type."""
        for kw in ("anyOf", "oneOf"):
            members = schema.get(kw)
            if not isinstance(members, list) or not members or any(k in schema for k in OWN_TYPE):
                continue
            typed = [self._field(m, f"{name}Option{i + 1}", at) for i, m in enumerate(members)]
            if all(typed):  # a member that says nothing a type can say would make the union `Any`
                return {**_site(schema), "anyOf": typed}
        return None

    def _values(self, out: dict[str, Any]) -> None:
        """`const`/`enum` as literals when Python can spell them, else as the JSON types of their values."""
        values = [out.pop("const")] if "const" in out else out.pop("enum", None)
        if not isinstance(values, list):
            return
        if values and all(is_literal(v) for v in values):
            out["enum"] = values
            return
        types = json_types(values)
        if types:
            out["type"] = types[0] if len(types) == 1 else types

    def _numbers(self, out: dict[str, Any]) -> None:
        for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            flag = out.get(bound)
            if isinstance(flag, bool):  # draft 4: a flag on `minimum`/`maximum`
                del out[bound]
                if flag and limit in out:
                    out[bound] = out.pop(limit)
        for kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
            value = out.get(kw)
            if kw in out and (not isinstance(value, int | float) or isinstance(value, bool)):
                del out[kw]
        step = out.get("multipleOf")
        if step is not None and (type(step) is not int or step <= 0):  # msgspec cannot check it exactly
            del out["multipleOf"]

    def _tuple(self, out: dict[str, Any], name: str, at: str) -> dict[str, Any]:
        """A closed `prefixItems` (or draft-07 `items` list) is a tuple; an open one a list."""
        prefix = out.pop("prefixItems", None)
        if prefix is None:
            prefix, rest = out.pop("items"), out.pop("additionalItems", True)
        else:
            rest = out.pop("items", True)
            out.pop("additionalItems", None)
        if rest is not False or not isinstance(prefix, list):
            return {k: v for k, v in out.items() if k in (*SITE, "type")}
        members = []
        for i, member in enumerate(prefix):
            item = f"{name}Item{i + 1}"
            typed = self._field(member, item, at)
            if typed.get("$ref") != f"#/$defs/{item}":
                self.into.defs[item] = typed  # an alias, so the tuple can name it
            members.append(item)
        python = f"tuple[{', '.join(members)}]" if members else "tuple[()]"
        return {**_site(out), "type": "string", "x-python-type": python}  # the type is replaced whole

    def _map(self, out: dict[str, Any], name: str, at: str) -> None:
        """`additionalProperties`/`patternProperties` schemas type the values of an object without properties."""
        patterns = list(_dict(out.pop("patternProperties", None)).values())
        extra = out.get("additionalProperties")
        if out.get("properties"):
            if extra is not False:
                out.pop("additionalProperties", None)
            return
        values = patterns + ([extra] if isinstance(extra, dict) else [])
        if not values:
            if extra is not False:
                out.pop("additionalProperties", None)
            return
        typed = [self._field(v, name + "Value", at) if len(values) == 1 else self.node(v, name + "Value", at)
                 for v in values]  # fmt: skip
        out["additionalProperties"] = typed[0] if len(typed) == 1 or any(not t for t in typed) else {"anyOf": typed}

    def _ref(self, ref: str, hint: str, at: str) -> dict[str, Any]:
        target = self.resolver.resolve(ref, at)
        if target is None:
            return {}  # a reference the types cannot follow: `Any`, checked by the schema
        key = (target.path, target.pointer)
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = self._fresh(target.pointer, target.path)
            self.declare(name, target.schema, target.path)
        return {"$ref": f"#/$defs/{name}"}

    def _fresh(self, pointer: str, path: str) -> str:
        """A class name for a `$ref` target: `<TypeName>` + its definition's name (or its file's)."""
        base = self.line.type_name + _pascal(ref_name(pointer, path))
        name, n = base, 2
        while name in self.into.defs or name in self.names.values():
            name, n = f"{base}{n}", n + 1
        return name

    def _field(self, schema: Any, name: str, at: str) -> dict[str, Any]:
        """A field's schema; an object with properties becomes its own class, referenced."""
        if not isinstance(schema, dict) or "$ref" in schema:
            return self.node(schema, name, at)
        with self._merged(schema, at) as schema:
            if not schema.get("properties"):
                return self._node(schema, name, at)
            self.declare(name, _without_null({k: v for k, v in schema.items() if k != "default"}), at)
        ref = {"$ref": f"#/$defs/{name}"}
        return {**_site(schema), "anyOf": [ref, {"type": "null"}]} if _nullable(schema) else {**_site(schema), **ref}


def _root_union(root: dict[str, Any]) -> list[Any] | None:
    """The members of a contract whose root is only a union (`oneOf`/`anyOf`) of objects."""
    if root.get("properties"):
        return None
    for kw in ("oneOf", "anyOf"):
        members = root.get(kw)
        if isinstance(members, list) and members and all(_objectish(m) for m in members):
            return members
    return None


def _objectish(schema: Any) -> bool:
    return isinstance(schema, dict) and ("$ref" in schema or bool(schema.get("properties")))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _nullable(schema: dict[str, Any]) -> bool:
    types = schema.get("type")
    return isinstance(types, list) and "null" in types


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    if not _nullable(schema):
        return schema
    rest = [t for t in schema["type"] if t != "null"]
    return {**schema, "type": rest[0] if len(rest) == 1 else rest}


def _site(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k in SITE}


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)
