"""What every generator shares: contract lines, one per (namespace, name, major).

An SDK has one type per contract major, generated from the newest version of that major,
named `PascalCase(name) + "V" + major` (`PaymentV1`, `ObjectImagesV2`), so adding a major
never renames an existing type. Events are sent with the major-only reference
`<namespace>/<name>/<major>`, which the collector resolves to the newest version it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import jsonschema_rs

from collector.contracts import Contract, Registry, read_document
from collector.validate import json_type


@dataclass(frozen=True, slots=True)
class Line:
    """The newest contract of one major, and the versions it supersedes."""

    contract: Contract
    versions: tuple[Contract, ...]

    @property
    def namespace(self) -> str:
        return self.contract.namespace

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def major(self) -> int:
        return self.contract.version.major

    @property
    def reference(self) -> str:
        """The major-only reference SDKs send: `com.acme.shop/payment/1`."""
        return f"{self.namespace}/{self.name}/{self.major}"

    @property
    def type_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + f"V{self.major}"


SDK_API = 1  # the generation of the trackers' API (Tracker, track, options): bumped by hand when it breaks


def sdk_version(registry: Registry) -> str:
    """Every SDK's package version, `<SDK_API>.<contract versions>.0`: `1.14.0` for 14 version files.

    The same contracts give the same version; publishing a contract version (major, minor or patch)
    adds one to the minor, as it only adds to an SDK (a new major is a new type, a minor widens one).
    Deleting a published version would lower it: deprecate contracts instead.
    """
    return f"{SDK_API}.{len(registry)}.0"


def lines(registry: Registry) -> list[Line]:
    """Contract lines sorted by namespace, name, major (the registry is already sorted)."""
    grouped: dict[tuple[str, str, int], list[Contract]] = {}
    for c in registry:
        grouped.setdefault((c.namespace, c.name, c.version.major), []).append(c)
    return [Line(versions[-1], tuple(versions)) for versions in grouped.values()]


# --- the documents behind a contract: what SDKs embed, and what `$ref`s point to ----------------

SDK_BASE = PurePosixPath("/charter-schemas")  # where embedded documents live, as file URIs, in an SDK


def contract_path(contract: Contract) -> str:
    """The contract's file relative to the schemas tree: `com.acme.shop/payment/1.0.0.json`."""
    return f"{contract.namespace}/{contract.name}/{Path(contract.file).name}"


def schemas_root(contract: Contract) -> Path | None:
    """The schemas tree a contract was loaded from; None for one built in memory (it cannot `$ref` files)."""
    path = Path(contract.file)
    return path.resolve().parents[2] if path.is_file() else None


def documents(contract: Contract) -> dict[str, Any]:
    """The contract and every file it references, transitively (shared definitions, other contracts),
    by path relative to the schemas tree.

    The collector's engine finds the references: the contract is compiled as the collector compiles
    it, and every file the engine asks for is recorded, so an SDK that embeds these documents
    resolves exactly what the collector resolves.
    """
    docs: dict[str, Any] = {contract_path(contract): contract.schema}
    root = schemas_root(contract)
    if root is None:
        return docs

    def retrieve(uri: str) -> Any:
        parsed = urlparse(uri)
        path = Path(unquote(parsed.path)).resolve()
        if parsed.scheme != "file" or not path.is_relative_to(root) or not path.is_file():
            raise ValueError(f"{uri} is not a file in the schemas tree")  # the collector refused it too
        doc = docs[path.relative_to(root).as_posix()] = read_document(path)
        return doc

    base = Path(contract.file).resolve().as_uri()
    jsonschema_rs.validator_for(contract.schema, retriever=retrieve, base_uri=base, validate_formats=True)
    return dict(sorted(docs.items()))


def sdk_uri(path: str) -> str:
    """The URI an SDK gives the embedded document at `path`: `file:///charter-schemas/<path>`."""
    return (SDK_BASE / path).as_uri()


@dataclass(frozen=True, slots=True)
class Target:
    """What a `$ref` points to: the document (by path) and the JSON pointer inside it."""

    path: str
    pointer: str
    schema: Any


class Resolver:
    """Resolves the `$ref`s of one contract's documents for the type generators, without the network.

    A reference the generators cannot follow (an `$id`-relative one, a `$dynamicRef`) resolves to
    None, and the field is typed loosely: the schema still checks it at run time.
    """

    def __init__(self, contract: Contract) -> None:
        self.main = contract_path(contract)
        self.docs = documents(contract)

    def resolve(self, ref: str, at: str) -> Target | None:
        uri, fragment = urldefrag(urljoin(sdk_uri(at), ref))
        prefix = SDK_BASE.as_uri() + "/"
        if not uri.startswith(prefix):
            return None
        path = unquote(uri.removeprefix(prefix))
        doc = self.docs.get(path)
        if doc is None:
            return None
        fragment = unquote(fragment)
        node = _pointer(doc, fragment) if fragment.startswith("/") or not fragment else _anchor(doc, fragment)
        return None if node is None else Target(path, fragment, node)


def ref_name(pointer: str, path: str) -> str:
    """What a `$ref` target is called: its definition's name (`money` of `#/$defs/money`), else
    the contract's name for a whole contract file, or the file's stem for a shared file."""
    if pointer.strip("/"):
        return pointer.rstrip("/").rsplit("/", 1)[-1]
    parts = path.split("/")
    return parts[1] if len(parts) == 3 and not parts[0].startswith("_") else PurePosixPath(path).stem


def _pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _anchor(node: Any, name: str) -> Any:
    """The subschema with `$anchor: name` (or a draft 6/7 `$id: "#name"`, a draft 4 `id: "#name"`)."""
    if isinstance(node, dict):
        if node.get("$anchor") == name or f"#{name}" in (node.get("$id"), node.get("id")):
            return node
        children: list[Any] = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _anchor(child, name)
        if found is not None:
            return found
    return None


# --- what the type generators share: a schema as types see it -----------------------------------


# `enum`/`const` values both languages can spell as literal types (floats are not literals in Python)
def is_literal(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or (isinstance(value, int) and not isinstance(value, bool))


def json_types(values: list[Any]) -> list[str]:
    """The JSON types of some values, in a stable order: what an `enum` of mixed values is typed as."""
    names = {json_type(v) for v in values}
    return [t for t in ("string", "integer", "number", "boolean", "array", "object", "null") if t in names]


def absolute_refs(node: Any, at: str) -> Any:
    """A copy of `node` (found in the document at `at`) whose `$ref`s no longer depend on where it sits."""
    if isinstance(node, list):
        return [absolute_refs(v, at) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: v if k.startswith("x-") else absolute_refs(v, at) for k, v in node.items()}
    if isinstance(node.get("$ref"), str):
        out["$ref"] = urljoin(sdk_uri(at), node["$ref"])
    return out


def merged(
    schema: dict[str, Any],
    resolver: Resolver,
    at: str,
    seen: frozenset[str] = frozenset(),
    followed: set[str] | None = None,
) -> dict[str, Any]:
    """`allOf` folded into the schema, for types only: properties and `required` are united, other
    keywords kept from the first schema that has them. Members that are `$ref`s are followed, except
    those in `seen` (the caller's: a definition that includes itself stops there); each followed
    reference is added to `followed`."""
    members = schema.get("allOf")
    if not isinstance(members, list):
        return schema
    out = {k: v for k, v in schema.items() if k != "allOf"}
    for member in members:
        inner = seen
        if isinstance(member, dict) and isinstance(member.get("$ref"), str) and len(member) == 1:
            target = resolver.resolve(member["$ref"], at)
            uri = urljoin(sdk_uri(at), member["$ref"])
            if target is None or not isinstance(target.schema, dict) or uri in seen:
                continue
            member, inner = absolute_refs(target.schema, target.path), seen | {uri}
            if followed is not None:
                followed.add(uri)
        if not isinstance(member, dict):
            continue
        member = merged(member, resolver, at, inner, followed)
        for key, value in member.items():
            if key == "properties" and isinstance(value, dict):
                known = out.get("properties", {})
                out["properties"] = {**known, **{k: v for k, v in value.items() if k not in known}}  # the first wins
            elif key == "required" and isinstance(value, list):
                out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
            else:
                out.setdefault(key, value)
    return out
