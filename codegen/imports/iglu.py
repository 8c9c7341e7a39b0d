"""Walk an Iglu repository, `schemas/<vendor>/<name>/<format>/<M-R-A>`, and import each JSON Schema.

Names are kept exactly as Iglu spells them (`com.acme/linkClick/1.0.0`), so an event's
`iglu:com.acme/linkClick/jsonschema/1-0-0` resolves to that contract without a mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from codegen.imports.convert import IgluKey, from_iglu, self_mismatch
from codegen.imports.place import Outcome, Target, place
from collector.contracts import ContractLoadError, read_document


def schema_root(directory: Path) -> Path:
    """An Iglu repository's `schemas/` folder, whether given the repository or the folder itself."""
    inner = directory / "schemas"
    return inner if inner.is_dir() else directory


def sources(root: Path) -> list[Path]:
    """Every file under `root`, in a stable order, skipping hidden files and folders (`.git`)."""
    files = (p for p in root.rglob("*") if p.is_file())
    return sorted(p for p in files if not any(part.startswith(".") for part in p.relative_to(root).parts))


def import_iglu(directory: Path, out: Path) -> Iterator[Outcome]:
    """One outcome per file of the Iglu repository at `directory`, as each is imported."""
    root = schema_root(directory)
    for path in sources(root):
        yield import_one(path, root, out)


def import_one(path: Path, root: Path, out: Path) -> Outcome:
    rel = path.relative_to(root)
    source = str(path)
    if len(rel.parts) != 4:
        return Outcome("skipped", source, None, f"not at <vendor>/<name>/<format>/<M-R-A> (got {rel})", "layout")
    key = IgluKey(*rel.parts)
    if key.format != "jsonschema":
        return Outcome("skipped", source, None, f"format {key.format!r} is not JSON Schema", "not-jsonschema")
    version = key.contract_version()
    if version is None:
        return Outcome("refused", source, None, f"version {key.version!r} is not SchemaVer M-R-A", "version")
    target = Target(key.vendor, key.name, version)
    try:
        body = read_document(path)  # the loader's reader: no suffix reads as JSON
    except ContractLoadError as exc:
        return Outcome("refused", source, target.ref, str(exc), "invalid-json")
    mismatch = self_mismatch(body, key)
    if mismatch is not None:
        return Outcome("refused", source, target.ref, mismatch, "self-mismatch")
    return place(out, target, from_iglu(body, key), source)
