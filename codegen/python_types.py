"""Contract lines → one Python module of msgspec Structs per namespace, via datamodel-code-generator.

Each contract's schema is first rewritten into types (`codegen.python_schema`); all contracts of
a namespace are then generated in one call, as `$defs` of one document; each event class gets a
`__charter_schema__` class variable with its major-only reference, closed objects
`forbid_unknown_fields=True`, and type aliases move after the classes (in the order they need).
The Structs are the SDK's typed API; what is valid is decided by the embedded contract
(templates/python/_check.py).
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from typing import Any

from codegen.model import Line
from codegen.python_schema import GenerationError, Prepared, prepare

__all__ = ["GenerationError", "generate_module", "iter_classes", "module_name"]

LINE_LENGTH = 120
_CONTRACT_TYPE = re.compile(r"V[0-9]+$")  # `<Name>V<major>`


def module_name(namespace: str) -> str:
    """`com.acme.shop` → `com_acme_shop`."""
    return re.sub(r"[.-]", "_", namespace)


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
