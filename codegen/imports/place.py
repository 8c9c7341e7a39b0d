"""Write one imported contract, never over a published one, and prove the collector loads it.

The collector's loader is the judge: a contract file it refuses (a remote `$ref`, a keyword
misused for the declared draft, a bad `x-contract`) is removed again, so the schemas
directory the collector serves from keeps loading; the outcome carries the loader's message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from codegen.imports.convert import remote_refs
from collector.contracts import ContractLoadError, load_contract, read_document

Kind = Literal["imported", "unchanged", "skipped", "conflict", "refused"]
_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a contract goes: `<namespace>/<name>/<MAJOR.MINOR.PATCH>`."""

    namespace: str
    name: str
    version: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one source file. `cause` is a short class the summary counts by."""

    kind: Kind
    source: str
    ref: str | None = None
    reason: str = ""
    cause: str = ""


def render(body: dict[str, Any]) -> str:
    """The contract file's text: key order kept, 2-space indent, UTF-8, one trailing newline."""
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def place(out: Path, target: Target, body: dict[str, Any], source: str) -> Outcome:
    """Write `body` as `target` under `out` unless refused or already published; load it back."""
    folder = out / target.namespace / target.name
    existing = next((p for p in (folder / f"{target.version}{s}" for s in _SUFFIXES) if p.is_file()), None)
    if existing is not None:
        return _compare(existing, body, target, source)
    path = folder / f"{target.version}.json"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(body).encode("utf-8"))
    try:
        load_contract(path, out)
    except ContractLoadError as exc:
        _remove(path, out)
        # The loader decides (it resolves the draft meta-schemas it ships); the walk only labels the cause.
        cause = "remote-ref" if any(remote_refs(body)) else "loader"
        return Outcome("refused", source, target.ref, f"not kept, Charter refuses it: {exc}", cause)
    return Outcome("imported", source, target.ref, str(path))


def _compare(existing: Path, body: dict[str, Any], target: Target, source: str) -> Outcome:
    """Same schema (the `x-contract` block is the owner's to edit) → unchanged; else a conflict."""
    try:
        published = read_document(existing)
    except ContractLoadError as exc:
        return Outcome("conflict", source, target.ref, f"{existing} exists and cannot be read: {exc}", "conflict")
    if _canonical(published) == _canonical(body):
        return Outcome("unchanged", source, target.ref, f"{existing} already holds this schema", "unchanged")
    reason = f"{existing} exists with a different schema; a published version is immutable: publish a new version"
    return Outcome("conflict", source, target.ref, reason, "conflict")


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in body.items() if k != "x-contract"}, sort_keys=True, ensure_ascii=False)


def _remove(path: Path, out: Path) -> None:
    """Remove a refused file and the folders this import made for it, if they are now empty."""
    path.unlink()
    for folder in (path.parent, path.parent.parent):
        if folder != out and not any(folder.iterdir()):
            folder.rmdir()
