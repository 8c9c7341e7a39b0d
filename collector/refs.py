"""Reading schema documents and following `$ref`s through the schemas tree, for everything
that reads a contract's fields rather than validating data: the PII paths, and the inlined
schema that exports and docs walk. (Validation resolves references itself, in jsonschema-rs.)

A reference is `#/json/pointer` within the document, or a relative file path in the schemas
tree with an optional pointer (`../../_shared/money.json#/$defs/cents`). Anything else (an
`$id`-based or remote reference) is not followed here; the compiler has already refused what
cannot be resolved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import msgspec
import yaml

from collector.privacy import ACTIONS as PII_ACTIONS
from collector.privacy import MASK_DEFAULT, PiiField, pii_field

_SAME_PATH = ("allOf", "anyOf", "oneOf")
_SAME_PATH_ONE = ("if", "then", "else")
_EVERY_ITEM = ("items", "additionalItems", "unevaluatedItems", "contains")
_EVERY_VALUE = ("additionalProperties", "unevaluatedProperties")


class ContractLoadError(Exception):
    """A contract that cannot be loaded; the message names the file and the fix."""


def read_document(path: Path) -> dict[str, Any]:
    """A contract or shared definition file as plain JSON values (YAML dates become strings)."""
    text = path.read_bytes()
    try:
        doc = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else msgspec.json.decode(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ContractLoadError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except msgspec.DecodeError:
        raise ContractLoadError(_json_error(path, text)) from None
    if not isinstance(doc, dict):
        raise ContractLoadError(f"{path}: a contract must be a JSON Schema object")
    return msgspec.to_builtins(doc) if path.suffix in (".yaml", ".yml") else doc


def _json_error(path: Path, text: bytes) -> str:
    """`file:line:column: reason` for a JSON file msgspec refused (the json module's error has them)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
    except (UnicodeDecodeError, ValueError) as exc:
        return f"{path}: not valid JSON: {exc}"
    return f"{path}: not valid JSON"


class SchemaTree:
    """Follows references within a document and to other files of the schemas tree."""

    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None

    def follow(self, ref: str, doc: Any, where: Path) -> tuple[Any, Any, Path] | None:
        """The node a reference names, with the document and file it is in; None if not followable."""
        file_part, _, pointer = ref.partition("#")
        if file_part:
            target = (where.parent / unquote(file_part)).resolve()
            if self.root is None or not target.is_relative_to(self.root) or not target.is_file():
                return None
            doc, where = read_document(target), target
        elif pointer and not pointer.startswith("/"):
            return None  # an `$anchor` name
        return _pointer(doc, pointer), doc, where

    def inline(self, schema: Any, file: str) -> Any:
        """A copy of the schema with each `$ref` replaced by its target merged with the keywords
        beside it; a recursive reference stays a `$ref`."""
        return self._inline(schema, schema, Path(file), ())

    def _inline(self, node: Any, doc: Any, where: Path, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self._inline(v, doc, where, stack) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: self._inline(v, doc, where, stack) for k, v in node.items() if k != "$ref"}
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return out
        found = self.follow(ref, doc, where)
        key = f"{found[2] if found else where}#{ref.partition('#')[2]}"
        if found is None or key in stack or not isinstance(found[0], dict):
            return {**out, "$ref": ref}
        target = self._inline(found[0], found[1], found[2], (*stack, key))
        return {**target, **out}


def pii_fields(schema: dict[str, Any], file: str, root: Path | None = None) -> Iterator[PiiField]:
    """Every field tagged `x-pii` other than `none`, compiled for `protect`.

    Follows every applicator that can hold a field (`properties`, `items`, `prefixItems`,
    `allOf`/`anyOf`/`oneOf`, `if`/`then`/`else`, `dependentSchemas`, `$ref` into the document,
    a shared file or another contract); a tag under `additionalProperties` or
    `patternProperties` protects every value of that object (`{*}`).
    """
    seen: set[PiiField] = set()
    for f in _PiiWalk(file, SchemaTree(root)).walk(schema, "$", schema, Path(file), ()):
        if f not in seen:
            seen.add(f)
            yield f


class _PiiWalk:
    def __init__(self, file: str, tree: SchemaTree) -> None:
        self.file, self.tree = file, tree

    def walk(self, node: Any, path: str, doc: Any, where: Path, stack: tuple[str, ...]) -> Iterator[PiiField]:
        if not isinstance(node, dict):
            return
        tag = self._tag(node, path)
        if tag is not None:
            yield tag
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield from self._follow(ref, path, doc, where, stack)
        for name, sub in _dict(node.get("properties")).items():
            yield from self.walk(sub, f"{path}.{name}", doc, where, stack)
        same = [*(s for kw in _SAME_PATH for s in node.get(kw) or []), *(node.get(kw) for kw in _SAME_PATH_ONE)]
        for sub in same + list(_dict(node.get("dependentSchemas")).values()):
            yield from self.walk(sub, path, doc, where, stack)
        items = [node.get(kw) for kw in _EVERY_ITEM] + list(node.get("prefixItems") or [])
        if isinstance(node.get("items"), list):  # draft 4-7 tuple form
            items += node["items"]
        for sub in items:
            yield from self.walk(sub, f"{path}[*]", doc, where, stack)
        values = [node.get(kw) for kw in _EVERY_VALUE] + list(_dict(node.get("patternProperties")).values())
        for sub in values:
            yield from self.walk(sub, f"{path}{{*}}", doc, where, stack)

    def _tag(self, node: dict[str, Any], path: str) -> PiiField | None:
        action = node.get("x-pii")
        if action is None:
            return None
        if action not in PII_ACTIONS:
            raise ContractLoadError(
                f"{self.file}: {path}: `x-pii` {action!r} is unknown; use one of {', '.join(PII_ACTIONS)}"
            )
        mode = node.get("x-pii-encryption", "deterministic")
        if mode not in ("deterministic", "randomized"):
            raise ContractLoadError(f"{self.file}: {path}: `x-pii-encryption` must be deterministic or randomized")
        if action == "encrypt" and mode == "randomized":
            action = "encrypt-randomized"
        if action == "mask":
            return pii_field(path, action, self._keep(node.get("x-pii-mask", {}), path))
        return None if action == "none" else pii_field(path, action)

    def _keep(self, spec: Any, path: str) -> tuple[int, int]:
        ok = isinstance(spec, dict) and set(spec) <= {"keep_first", "keep_last"}
        first, last = (spec.get("keep_first", 0), spec.get("keep_last", MASK_DEFAULT[1])) if ok else (-1, -1)
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 64 for n in (first, last)):
            raise ContractLoadError(
                f'{self.file}: {path}: `x-pii-mask` must be {{"keep_first": N, "keep_last": M}} '
                f'with 0 <= N, M <= 64, e.g. {{"keep_last": 4}}'
            )
        return first, last

    def _follow(self, ref: str, path: str, doc: Any, where: Path, stack: tuple[str, ...]) -> Iterator[PiiField]:
        found = self.tree.follow(ref, doc, where)
        if found is None:
            return
        node, doc, where = found
        key = f"{where}#{ref.partition('#')[2]}"
        if key in stack:  # a recursive schema: its fields are already being walked
            return
        yield from self.walk(node, path, doc, where, (*stack, key))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for part in [p for p in pointer.split("/") if p]:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
