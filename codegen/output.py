"""Writing generated files, and telling when a committed copy is stale (the drift check).

A generator owns one directory under its output (`src/`, the Python package): any file there
it did not write is stale. Files a tool makes (`node_modules`, `__pycache__`, …) are ignored.
"""

from __future__ import annotations

from pathlib import Path


def write(files: dict[str, bytes], out: Path, owned: str, ignored: frozenset[str]) -> list[str]:
    """Write `files` under `out`, touching only those whose bytes change; remove strays; return what changed."""
    changed: list[str] = []
    for path, content in files.items():
        target = out / path
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            changed.append(path)
    for path in strays(files, out, owned, ignored):
        (out / path).unlink()
        changed.append(path)
    return changed


def stale(files: dict[str, bytes], out: Path, owned: str, ignored: frozenset[str]) -> list[str]:
    """Paths under `out` that differ from a fresh generation, each with why; empty when up to date."""
    found = []
    for path, content in files.items():
        target = out / path
        if not target.is_file():
            found.append(f"{path} (missing)")
        elif target.read_bytes() != content:
            found.append(f"{path} (differs)")
    return found + [f"{path} (not generated)" for path in strays(files, out, owned, ignored)]


def strays(files: dict[str, bytes], out: Path, owned: str, ignored: frozenset[str]) -> list[str]:
    root = out / owned
    paths = (p.relative_to(out).as_posix() for p in root.rglob("*") if p.is_file()) if root.is_dir() else ()
    return sorted(p for p in paths if p not in files and not ignored.intersection(p.split("/")))
