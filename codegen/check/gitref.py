"""Read the contract files as they are at a git ref, with `git` run in the schemas' repository.

`git ls-tree` lists the files under the schemas directory at the ref; `git cat-file --batch`
reads them all in one process (what `git show REF:path` does one file at a time).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from codegen.check.documents import SUFFIXES


class GitError(Exception):
    """Git is missing, the directory is not in a repository, or the ref does not exist."""


def files_at(schemas: Path, ref: str) -> dict[str, bytes]:
    """`{"namespace/name/1.0.0.json": content}` for every contract file under `schemas` at `ref`."""
    _git(schemas, "rev-parse", "--show-toplevel")  # fails outside a repository
    if _run(schemas, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise GitError(f"unknown git ref {ref!r} (fetch it first, e.g. `git fetch origin main`)")
    prefix = _git(schemas, "rev-parse", "--show-prefix").decode().strip()
    listing = _git(schemas, "ls-tree", "-r", "-z", "--full-name", ref, "--", ".")
    blobs: dict[str, str] = {}
    for entry in filter(None, listing.split(b"\0")):
        meta, _, path = entry.decode().partition("\t")
        kind, oid = meta.split()[1:3]
        if kind == "blob" and path.startswith(prefix) and path.endswith(SUFFIXES):
            blobs[path.removeprefix(prefix)] = oid
    return dict(zip(blobs, _cat(schemas, list(blobs.values())), strict=True))


def _cat(cwd: Path, oids: list[str]) -> list[bytes]:
    if not oids:
        return []
    out = _git(cwd, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in oids).encode())
    contents, pos = [], 0
    for _ in oids:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        contents.append(out[header_end + 1 : header_end + 1 + size])
        pos = header_end + 1 + size + 1  # content, then a newline
    return contents


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = _run(cwd, *args, stdin=stdin)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.decode().strip()}")
    return result.stdout


def _run(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from None
