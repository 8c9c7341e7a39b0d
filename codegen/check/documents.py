"""Contract files as `charter check` sees them: bytes, the parsed body, and where they sit.

Unlike the loader, reading never fails: a file that does not parse or sits at the wrong path
is still a document, so lint can report every problem of every file in one run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec
import yaml

from codegen.check import locate
from codegen.check.findings import Keys
from collector.contracts import SHARED_PREFIX, Version

SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(slots=True)
class Document:
    rel: str  # `namespace/name/1.0.0.json`, relative to the schemas directory
    file: str  # the path shown in reports
    data: bytes
    body: dict[str, Any] | None = None
    error: str = ""  # why `body` is None
    root: Path | None = None  # the schemas directory its `$ref`s to shared files resolve in
    _lines: dict[Keys, int] | None = field(default=None, repr=False)

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.rel).parts

    @property
    def contract(self) -> str:
        """`namespace/name`, or the file's relative path if it is not laid out as one."""
        parts = self.parts
        return f"{parts[0]}/{parts[1]}" if len(parts) == 3 else self.rel

    @property
    def version(self) -> Version | None:
        try:
            return Version.parse(PurePosixPath(self.rel).stem) if len(self.parts) == 3 else None
        except ValueError:
            return None

    @property
    def owner(self) -> str:
        return owner_of(self.body)

    def line(self, keys: Keys) -> int | None:
        if self._lines is None:
            self._lines = locate.index(self.data.decode("utf-8", "replace"), self.rel.endswith((".yaml", ".yml")))
        return locate.line_of(self._lines, keys)


def read_dir(root: Path) -> list[Document]:
    """Every contract file under `root` (the loader's rule: any .json/.yaml/.yml file outside
    the shared-definitions directories, `_shared/`)."""
    files = sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    rels = [(p, p.relative_to(root).as_posix()) for p in files]
    return [document(rel, display(p), p.read_bytes(), root) for p, rel in rels if is_contract(rel)]


def is_contract(rel: str) -> bool:
    """Whether a file (relative to the schemas directory) is a contract, not a shared definition."""
    return not PurePosixPath(rel).parts[0].startswith(SHARED_PREFIX)


def document(rel: str, file: str, data: bytes, root: Path | None = None) -> Document:
    body, error = parse(rel, data)
    return Document(rel, file, data, body, error, root)


def parse(rel: str, data: bytes) -> tuple[dict[str, Any] | None, str]:
    yaml_file = rel.endswith((".yaml", ".yml"))
    try:
        doc = yaml.safe_load(data) if yaml_file else msgspec.json.decode(data)
    except (msgspec.DecodeError, yaml.YAMLError) as exc:
        return None, f"not valid {'YAML' if yaml_file else 'JSON'}: {exc}"
    if not isinstance(doc, dict):
        return None, "a contract must be a JSON Schema object"
    return doc, ""


def owner_of(body: dict[str, Any] | None) -> str:
    """`Name <email>` from `x-contract.owner`, as far as it is there."""
    meta = body.get("x-contract") if body else None
    owner = meta.get("owner") if isinstance(meta, dict) else None
    if not isinstance(owner, dict) or not owner.get("name"):
        return ""
    email = owner.get("email")
    return f"{owner['name']} <{email}>" if email else str(owner["name"])


def display(path: Path) -> str:
    """The path relative to the working directory when it is below it (what CI annotations need)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return os.fspath(path)
