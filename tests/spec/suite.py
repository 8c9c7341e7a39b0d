"""The official JSON-Schema-Test-Suite, fetched (not vendored) from the `jsonschema` sdist on PyPI.

The sdist ships the suite under `json/` (`tests/<draft>/…`, `remotes/…`). It is downloaded once
with pip, checked against a pinned sha256 so every run tests the same cases, and kept in
`~/.cache/charter/json-schema-test-suite/` (`$XDG_CACHE_HOME` is honoured).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

VERSION = "4.26.0"
SHA256 = "0c26707e2efad8aa1bfc5b7ce170f3fccc2e4918ff85989ba9ffa9facb2be326"  # jsonschema-4.26.0.tar.gz
# The drafts Charter supports, with the `$schema` a contract writes to select each one.
DRAFTS = {
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
    "draft2019-09": "https://json-schema.org/draft/2019-09/schema",
    "draft7": "http://json-schema.org/draft-07/schema#",
    "draft6": "http://json-schema.org/draft-06/schema#",
    "draft4": "http://json-schema.org/draft-04/schema#",
}
_METASCHEMAS = {uri.split("://", 1)[1].rstrip("#") for uri in DRAFTS.values()}
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
_NOT_SCHEMAS = ("enum", "const", "examples", "default")  # values, never walked for identifiers
_ROOT = "https://charter.invalid/root.json"  # the base URI of a schema without `$id`


@dataclass(frozen=True)
class Group:
    """One group of the suite: a schema and the instances it must accept or reject."""

    draft: str
    file: str  # relative to the draft's folder, e.g. `optional/format/email.json`
    index: int
    description: str
    schema: Any
    tests: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.draft}/{self.file.removesuffix('.json')}/{self.index}: {self.description}"

    @property
    def optional(self) -> bool:
        return self.file.startswith("optional/")


def suite_root() -> Path:
    """The suite's `json/` folder, downloading and unpacking the sdist on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "charter" / "json-schema-test-suite"
    target = cache / f"jsonschema-{VERSION}"
    if not (target / "json" / "tests").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            _unpack(_download(Path(tmp)), Path(tmp), target)
    return target / "json"


def _download(into: Path) -> Path:
    # `--no-binary jsonschema`, not `:all:`: pip still builds the sdist's metadata, and with
    # `:all:` it would build every build dependency from source too (minutes instead of seconds).
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--no-binary", "jsonschema", f"jsonschema=={VERSION}", "-d", str(into)]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    sdist = into / f"jsonschema-{VERSION}.tar.gz"
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{sdist.name}: sha256 {digest}, expected {SHA256}; the suite would not be the one pinned")
    return sdist


def _unpack(sdist: Path, tmp: Path, target: Path) -> None:
    prefix = f"jsonschema-{VERSION}/json/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and (m.isfile() or m.isdir())]
        tar.extractall(tmp, members=members, filter="data")
    with contextlib.suppress(OSError):  # another run unpacked it first: theirs is the same
        os.replace(tmp / f"jsonschema-{VERSION}", target)


def groups(draft: str) -> Iterator[Group]:
    """Every group of a draft, required and optional, in file order. A schema that names no
    `$schema` gets the draft's, as a contract of that draft would spell it."""
    folder = suite_root() / "tests" / draft
    for path in sorted(folder.rglob("*.json")):
        file = path.relative_to(folder).as_posix()
        for index, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            schema = group["schema"]
            if isinstance(schema, dict) and "$schema" not in schema:
                schema = {"$schema": DRAFTS[draft], **schema}
            yield Group(draft, file, index, group["description"], schema, group["tests"])


def needs_remote(schema: Any, draft: str) -> bool:
    """Whether the schema can only be used by fetching a document it does not contain: a
    reference to a URI that no `$id` inside it defines (the suite serves those from
    `http://localhost:1234/`), or a `$schema` that is not one of the drafts' metaschemas.
    Decided from the schema text alone, independently of the engine under test."""
    ids, targets = {_ROOT}, []
    id_keywords = ("id",) if draft == "draft4" else ("$id",)

    def walk(node: Any, base: str) -> None:
        if isinstance(node, list):
            for value in node:
                walk(value, base)
        if not isinstance(node, dict):
            return
        for key in id_keywords:
            if isinstance(node.get(key), str) and not node[key].startswith("#"):
                base = _join(base, node[key])
                ids.add(base)
        if isinstance(node.get("$schema"), str):
            targets.append(node["$schema"])
        targets.extend(_join(base, node[k]) for k in _REF_KEYWORDS if isinstance(node.get(k), str))
        for key, value in node.items():
            if key not in _NOT_SCHEMAS:
                walk(value, base)

    walk(schema, _ROOT)
    return any(t not in ids and t.split("://", 1)[-1].rstrip("#") not in _METASCHEMAS for t in targets)


def _join(base: str, ref: str) -> str:
    """The document a reference names (without fragment); `#…` stays in the current document,
    whatever its scheme (`urljoin` cannot resolve against a `urn:` base)."""
    return base if ref.startswith("#") else urldefrag(urljoin(base, ref))[0]
