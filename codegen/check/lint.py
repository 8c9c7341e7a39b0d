"""Lint every contract file on its own, reporting all problems of all files in one run.

| code                        | level   | what                                                    |
|-----------------------------|---------|---------------------------------------------------------|
| `layout`                    | error   | not at `<namespace>/<name>/<MAJOR.MINOR.PATCH>.json`    |
| `naming`                    | warning | namespace not lower-case reverse-DNS, name not snake_case |
| `invalid-document`          | error   | not valid JSON/YAML, or not an object                   |
| `duplicate-version`         | error   | one version in two files (`1.0.0.json`, `1.0.0.yaml`)   |
| `version-mismatch`          | error   | `$id` names another version than the file's path        |
| `missing-owner`             | error   | no `x-contract.owner` with a `name`                     |
| `owner-placeholder`         | error   | the owner is still the `TODO` stub `charter import` wrote |
| `owner-email`               | warning | the owner has no `email` to reach them by               |
| `missing-description`       | error   | no top-level `description`                              |
| `missing-field-description` | error   | a field (anywhere: nested, array items, `$defs`) lacks one |
| `keyword-typo`              | warning | an unknown keyword (an annotation) like a real one: `maxlength` |
| `unknown-pii`               | error   | an `x-pii` value the collector does not know            |
| `unknown-compatibility`     | error   | `x-contract.compatibility` is not a known mode          |
| `sla-format`                | warning | `x-contract.sla` is not a freshness dbt can check       |
| `load-error`                | error   | anything else the collector's loader refuses            |

The loader (`collector.contracts.load_contract`) stops at a file's first problem; lint walks
the whole document itself for the checks above, then runs the loader on each file and adds
its refusal unless lint already reported the same thing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from codegen.check.documents import Document
from codegen.check.findings import Finding, Keys, Level
from codegen.check.modes import MODES
from codegen.check.typos import typos
from codegen.exports.dbt import SLA_FORMS, parse_sla
from collector.contracts import NAME, NAMESPACE, ContractLoadError, load_contract
from collector.privacy import ACTIONS as PII_ACTIONS

_SEMVER = re.compile(r"(?<![\d.])(\d+\.\d+\.\d+)(?![\d.])")
_LOADER_PATH = re.compile(r"^(\$[^\s:]*): ")
# The convention; the loader also accepts the spelling of imported Iglu vendors and names.
_CONVENTIONAL_NAMESPACE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$")
_CONVENTIONAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Node:
    """One schema object of a contract, with its schema path, data path and keys."""

    schema: dict[str, Any]
    path: str  # `$.properties.items.items` (the loader's paths)
    data_path: str  # `$.items[*]`
    keys: Keys
    is_field: bool


def lint(root: Path, docs: list[Document]) -> tuple[list[Finding], set[str]]:
    """All lint findings, and the relative paths of the files the loader accepts."""
    findings, duplicated = _duplicates(docs)
    loaded: set[str] = set()
    for doc in docs:
        mine = list(_document(doc))
        findings += mine
        if doc.body is None or any(f.code == "layout" for f in mine):
            continue  # the loader would only repeat it
        refusal = _load(root, doc)
        if refusal is None:
            if doc.rel not in duplicated:  # which of the two files is meant is unknown
                loaded.add(doc.rel)
        elif not _already_reported(refusal, mine):
            path = m[1] if (m := _LOADER_PATH.match(refusal)) else ""
            findings.append(_finding(doc, "load-error", refusal, _keys(path, refusal), path))
    return findings, loaded


def nodes(body: dict[str, Any]) -> Iterator[Node]:
    """Every schema object: the root, its fields recursively, array items and `$defs`."""
    yield from _nodes(body, "$", "$", (), False)
    defs = body.get("$defs")
    for name, sub in defs.items() if isinstance(defs, dict) else ():
        yield from _nodes(sub, f"$.$defs.{name}", f"$defs.{name}", ("$defs", name), False)


def _nodes(schema: Any, path: str, data_path: str, keys: Keys, is_field: bool) -> Iterator[Node]:
    if not isinstance(schema, dict):
        return
    yield Node(schema, path, data_path, keys, is_field)
    props = schema.get("properties")
    for name, sub in props.items() if isinstance(props, dict) else ():
        yield from _nodes(sub, f"{path}.properties.{name}", f"{data_path}.{name}", (*keys, "properties", name), True)
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}.items", f"{data_path}[*]", (*keys, "items"), False)


def _finding(
    doc: Document, code: str, message: str, keys: Keys = (), path: str = "", level: Level = "error"
) -> Finding:
    line = doc.line(keys) if keys else None
    return Finding(level, code, doc.file, message, line, path, doc.contract, doc.owner)


def _document(doc: Document) -> Iterator[Finding]:
    yield from _layout(doc)
    if doc.body is None:
        yield _finding(doc, "invalid-document", doc.error)
        return
    yield from _metadata(doc, doc.body)
    for node in nodes(doc.body):
        yield from _node(doc, doc.body, node)
    for t in typos(doc.body):
        text = (
            f"`{t.keyword}` is not a JSON Schema keyword, so it is an annotation and checks nothing; "
            f"did you mean `{t.meant}`? Rename it, or prefix it with `x-` if it is your own annotation"
        )
        yield _finding(doc, "keyword-typo", text, t.keys, t.path, "warning")


def _layout(doc: Document) -> Iterator[Finding]:
    parts = doc.parts
    if len(parts) != 3:
        yield _finding(doc, "layout", f"contracts live at <namespace>/<name>/<version>.json, got {doc.rel}")
        return
    if not NAMESPACE.match(parts[0]):
        yield _finding(doc, "layout", f"namespace {parts[0]!r} must be reverse-DNS, e.g. com.acme.shop")
    elif not _CONVENTIONAL_NAMESPACE.match(parts[0]):
        text = f"namespace {parts[0]!r} is not lower-case reverse-DNS (e.g. com.acme.shop); kept as imported"
        yield _finding(doc, "naming", text, level="warning")
    if not NAME.match(parts[1]):
        yield _finding(doc, "layout", f"name {parts[1]!r} must be snake_case, e.g. page_view")
    elif not _CONVENTIONAL_NAME.match(parts[1]):
        yield _finding(doc, "naming", f"name {parts[1]!r} is not snake_case (e.g. page_view)", level="warning")
    if doc.version is None:
        stem = PurePosixPath(doc.rel).stem
        yield _finding(doc, "layout", f"file name {stem!r} must be a version MAJOR.MINOR.PATCH, e.g. 1.0.0")


def _metadata(doc: Document, body: dict[str, Any]) -> Iterator[Finding]:
    meta = body.get("x-contract")
    meta = meta if isinstance(meta, dict) else None
    owner = meta.get("owner") if meta else None
    if not isinstance(owner, dict) or not owner.get("name"):
        where = "`x-contract.owner`" if meta is not None else "`x-contract` with an `owner`"
        text = f"missing {where} (name, email): who answers for this contract?"
        yield _finding(doc, "missing-owner", text, ("x-contract",), "$.x-contract.owner")
    elif _placeholder(owner.get("name")):
        text = (
            f"`x-contract.owner.name` is the placeholder {owner['name']!r} that `charter import` writes: "
            "set the team that answers for this contract (name, and an email to reach them by)"
        )
        yield _finding(doc, "owner-placeholder", text, ("x-contract", "owner", "name"), "$.x-contract.owner.name")
    elif not owner.get("email"):
        text = "`x-contract.owner` has no `email`"
        yield _finding(doc, "owner-email", text, ("x-contract", "owner"), "$.x-contract.owner", "warning")
    mode = meta.get("compatibility") if meta else None
    if mode is not None and mode not in MODES:
        text = f"`x-contract.compatibility` {mode!r} is not a mode; use one of {', '.join(MODES)}"
        yield _finding(
            doc, "unknown-compatibility", text, ("x-contract", "compatibility"), "$.x-contract.compatibility"
        )
    sla = meta.get("sla") if meta else None
    if isinstance(sla, str) and parse_sla(sla) is None:
        text = f"`x-contract.sla` {sla!r} is not a freshness dbt can check (`charter export dbt` refuses it); "
        text += SLA_FORMS
        yield _finding(doc, "sla-format", text, ("x-contract", "sla"), "$.x-contract.sla", "warning")
    if not _described(body):
        yield _finding(doc, "missing-description", "the contract has no top-level `description`")
    schema_id = body.get("$id")
    m = _SEMVER.search(schema_id) if isinstance(schema_id, str) else None
    if m is not None and doc.version is not None and m[1] != str(doc.version):
        text = f"`$id` names version {m[1]} but the file is version {doc.version}"
        yield _finding(doc, "version-mismatch", text, ("$id",), "$.$id")


def _node(doc: Document, body: dict[str, Any], node: Node) -> Iterator[Finding]:
    schema = node.schema
    if node.is_field and not _described(schema) and not _described(_target(body, schema)):
        text = f"field `{node.data_path}` has no `description`"
        yield _finding(doc, "missing-field-description", text, node.keys, node.data_path)
    pii = schema.get("x-pii")
    if pii is not None and pii not in PII_ACTIONS:
        text = f"`x-pii` {pii!r} at `{node.data_path}` is unknown; use one of {', '.join(PII_ACTIONS)}"
        yield _finding(doc, "unknown-pii", text, (*node.keys, "x-pii"), node.data_path)


def _placeholder(name: Any) -> bool:
    return isinstance(name, str) and name.strip().upper() == "TODO"


def _described(schema: Any) -> bool:
    return (
        isinstance(schema, dict) and isinstance(schema.get("description"), str) and bool(schema["description"].strip())
    )


def _target(body: dict[str, Any], schema: dict[str, Any]) -> Any:
    ref = schema.get("$ref")
    defs = body.get("$defs")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and isinstance(defs, dict):
        return defs.get(ref.removeprefix("#/$defs/"))
    return None


def _duplicates(docs: list[Document]) -> tuple[list[Finding], set[str]]:
    seen: dict[tuple[str, str], list[Document]] = defaultdict(list)
    for doc in docs:
        if doc.version is not None:
            seen[(doc.contract, str(doc.version))].append(doc)
    out, rels = [], set()
    for (contract, version), same in seen.items():
        if len(same) > 1:
            text = f"version {version} of {contract} is defined twice: {', '.join(d.rel for d in same)}"
            out += [_finding(doc, "duplicate-version", text) for doc in same]
            rels |= {doc.rel for doc in same}
    return out, rels


def _load(root: Path, doc: Document) -> str | None:
    """The loader's refusal of one file, without the file name; None when it loads."""
    path = root / doc.rel
    try:
        load_contract(path, root)
    except ContractLoadError as exc:
        return str(exc).removeprefix(f"{path}: ")
    except Exception as exc:  # a crash on a malformed contract is a loader bug: report it, keep going
        return f"the contract loader failed ({type(exc).__name__}: {exc})"
    return None


def _already_reported(refusal: str, mine: list[Finding]) -> bool:
    codes = {f.code for f in mine}
    m = _LOADER_PATH.match(refusal)
    if m is not None and m[1] in {f.path for f in mine}:
        return True
    if "`x-pii`" in refusal and "unknown-pii" in codes:
        return True
    if "compatibility" in refusal and "unknown-compatibility" in codes:
        return True
    return "missing-owner" in codes and ("missing `x-contract`" in refusal or "`owner`" in refusal)


def _keys(path: str, refusal: str) -> Keys:
    if path.startswith("$."):
        return tuple(path[2:].split("."))
    return ("x-contract",) if refusal.startswith("x-contract") else ()
