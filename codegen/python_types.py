"""Contract lines → one Python module of msgspec Structs per namespace, via datamodel-code-generator.

The Structs are the SDK's typed API; they do not decide what is valid: the tracker checks each
event's JSON against the embedded contract with the collector's engine (templates/python/_check.py).
Each contract's JSON Schema is rewritten into what datamodel-code-generator should see, keyword by
keyword, into types that every valid event can be built with:

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

All contracts of a namespace are generated in one call, as `$defs` of one document; each
contract class then gets a `__charter_schema__` class variable with its major-only reference.
"""

from __future__ import annotations

import ast
import contextlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codegen.model import Line, Resolver, is_literal, json_types, merged, ref_name

DROPPED = frozenset({"$schema", "$id", "$comment", "title", "examples"})
SITE = ("description", "default", "deprecated")  # what stays with a field when its type moves
# what a type can say; every other keyword stays a check of the embedded contract
TYPED = frozenset({
    "type", "properties", "required", "items", "prefixItems", "additionalItems", "additionalProperties",
    "patternProperties", "enum", "const", "anyOf", "oneOf", "$ref", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems", "maxItems", *SITE,
})  # fmt: skip
OWN_TYPE = ("properties", "items", "prefixItems", "enum", "const", "additionalProperties", "patternProperties")
FORMATS = frozenset({"date-time", "date", "uuid"})  # formats with a Python type msgspec encodes as the format says
LINE_LENGTH = 120
_CONTRACT_TYPE = re.compile(r"V[0-9]+$")  # `<Name>V<major>`


class GenerationError(Exception):
    """datamodel-code-generator produced something the SDK cannot use; the message says what."""


def module_name(namespace: str) -> str:
    """`com.acme.shop` → `com_acme_shop`."""
    return re.sub(r"[.-]", "_", namespace)


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


def generate_module(namespace: str, lines: list[Line], package: str) -> str:
    """The source of one namespace module: every contract line of `namespace`."""
    prepared = Prepared()
    for line in lines:
        prepare(line, package, prepared)
    source = _datamodel_codegen({"$defs": prepared.defs}, namespace, list(prepared.events), package, prepared.unions)
    source = _add_references(_close(source, prepared.closed), prepared.events)
    source += "".join(_union(name, members) for name, members in prepared.unions.items())
    return re.sub(r"\n{4,}", "\n\n\n", _aliases_last(source))


def _aliases_last(source: str) -> str:
    """Type aliases after the classes, each after the aliases it names: unlike annotations, an
    alias's value is evaluated when the module is imported. Aliases that name each other (a
    recursive definition) are written as strings, which are evaluated only when read."""
    body = ast.parse(source).body
    text = source.splitlines(keepends=True)
    aliases: dict[str, tuple[int, int, ast.AnnAssign]] = {}  # name → its lines (and a docstring after it)
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and _alias_name(node) and node.value is not None:
            after = body[i + 1] if i + 1 < len(body) else None
            doc = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            end = (after.end_lineno if doc and after else node.end_lineno) or node.lineno
            aliases[_alias_name(node)] = (node.lineno - 1, end, node)
    if not aliases:
        return source
    ordered: list[str] = []
    cyclic: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            cyclic.update(stack[stack.index(name) :])
            return
        if name in ordered:
            return
        value = aliases[name][2].value
        for used in sorted({n.id for n in ast.walk(value) if isinstance(n, ast.Name)} if value else ()):
            if used in aliases and used != name:
                visit(used, [*stack, name])
        ordered.append(name)

    for name in aliases:
        visit(name, [])
    moved = {i for start, end, _ in aliases.values() for i in range(start, end)}
    rest = "".join(line for i, line in enumerate(text) if i not in moved).rstrip("\n") + "\n"
    return rest + "".join("\n\n" + _alias_text(aliases[name], text, name in cyclic) for name in ordered)


def _alias_text(alias: tuple[int, int, ast.AnnAssign], text: list[str], lazy: bool) -> str:
    start, end, node = alias
    if not lazy or node.value is None:
        return "".join(text[start:end])
    value = ast.unparse(_ForwardRefs().visit(node.value))  # inside the string, names need no quotes
    return f"{_alias_name(node)}: TypeAlias = {value!r}\n" + "".join(text[(node.end_lineno or start + 1) : end])


class _ForwardRefs(ast.NodeTransformer):
    """`"Name"` → `Name` in a type expression, leaving `Literal[...]` values and `Meta(...)` alone."""

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        return node if isinstance(node.value, ast.Name) and node.value.id == "Literal" else self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Name(node.value) if isinstance(node.value, str) and node.value.isidentifier() else node


def _union(name: str, members: list[str]) -> str:
    return (
        f'\n\n{name}: TypeAlias = {" | ".join(members)}\n"""The contract\'s root is a union: any of these events."""\n'
    )


def _datamodel_codegen(
    document: dict[str, Any], namespace: str, events: list[str], package: str, aliases: object = ()
) -> str:
    import msgspec
    from datamodel_code_generator import (
        DatetimeClassType,
        InputFileType,
        LiteralType,
        NamingStrategy,
        PythonVersion,
        generate,
    )
    from datamodel_code_generator.enums import DataModelType
    from datamodel_code_generator.format import Formatter

    header = f"# Generated by `charter codegen python` from the {namespace} contracts. Do not edit."
    # Its warnings are about decoding with these types (msgspec cannot decode an untagged union of
    # Structs, or check one member's constraint without the others'): the SDK only encodes them,
    # and checks the JSON against the contract itself, so they are not errors here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = generate(
            msgspec.json.encode(document).decode(),
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.MsgspecStruct,
            target_python_version=PythonVersion.PY_311,
            base_class_map=dict.fromkeys(events, f"{package}.event.Event"),
            additional_imports=["typing.ClassVar", *(["typing.TypeAlias"] if aliases else [])],
            custom_file_header=header,
            disable_timestamp=True,
            enum_field_as_literal=LiteralType.All,
            field_constraints=True,
            formatters=[Formatter.BUILTIN],
            builtin_format_line_length=LINE_LENGTH,
            keep_model_order=True,
            keyword_only=True,
            naming_strategy=NamingStrategy.ParentPrefixed,
            output_datetime_class=DatetimeClassType.Datetime,
            skip_root_model=True,
            use_annotated=True,
            use_double_quotes=True,
            use_field_description=True,
            use_schema_description=True,
            use_single_line_docstring=True,
            use_standard_primitive_types=True,
        )
    if not isinstance(source, str):
        raise GenerationError(f"{namespace}: datamodel-code-generator returned {type(source).__name__}, not source")
    return source


def _add_references(source: str, events: dict[str, str]) -> str:
    """Give each event class its reference, right after its docstring."""
    classes = {node.name: node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)}
    text = source.splitlines(keepends=True)
    inserts: list[tuple[int, str]] = []
    for name, reference in events.items():
        node = classes.get(name)
        if node is None:
            raise GenerationError(f"{reference}: no class {name} in the generated module")
        first = node.body[0]
        has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        at = (first.end_lineno or first.lineno) if has_doc else first.lineno - 1
        code = f'    __charter_schema__: ClassVar[str] = "{reference}"\n'
        if isinstance(first, ast.Pass):  # a class without fields: the reference replaces `pass`
            at, code = first.lineno - 1, code
            text[at] = ""
        inserts.append((at, code if has_doc else code + "\n"))
    for at, code in sorted(inserts, reverse=True):
        text.insert(at, code)
    return "".join(text).rstrip("\n") + "\n"


def _close(source: str, closed: set[str]) -> str:
    """`forbid_unknown_fields=True` on the classes of closed objects, as the collector refuses unknown fields."""
    found: set[str] = set()

    def close(m: re.Match[str]) -> str:
        if m["name"] not in closed:
            return m[0]
        found.add(m["name"])
        return f"class {m['name']}({m['bases']}, forbid_unknown_fields=True):"

    source = re.sub(r"^class (?P<name>\w+)\((?P<bases>[^()]*)\):$", close, source, flags=re.M)
    if found != closed:
        raise GenerationError(f"no one-line class header to close for {', '.join(sorted(closed - found))}")
    return source


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
        if name is None:
            name = self.line.type_name + f"Option{i + 1}"
        if name not in self.into.defs:
            self.declare(name, target.schema if target else member, target.path if target else at)
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


def iter_classes(source: str) -> Iterator[str]:
    """Public names a generated module defines for apps to use, in order: its classes, and the
    union of a contract whose root is a union (`ShapeV1`)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield node.name
        elif _alias_name(node) and _CONTRACT_TYPE.search(_alias_name(node)):
            yield _alias_name(node)


def _alias_name(node: ast.stmt) -> str:
    """The name a top-level `Name: TypeAlias = ...` defines; "" for any other statement."""
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id if ast.unparse(node.annotation) == "TypeAlias" else ""
    return ""
