"""One `charter check` run: read, lint, check the versions in the tree, compare with a git ref."""

from __future__ import annotations

from pathlib import Path

from codegen.check import gitref, published
from codegen.check.documents import display, document, is_contract, read_dir
from codegen.check.findings import Result
from codegen.check.lint import lint
from codegen.check.versions import check_lines


def run_check(schemas: Path, against: str | None = None, allow_mode_change: bool = False) -> Result:
    """Everything `charter check` reports. Raises `gitref.GitError` for an unusable `against`."""
    docs = read_dir(schemas)
    findings, loaded = lint(schemas, docs)
    version_findings, changes, suggestions = check_lines([d for d in docs if d.rel in loaded], allow_mode_change)
    result = Result(len({d.contract for d in docs}), len(docs), findings + version_findings, changes, suggestions)
    if against is not None:
        at_ref = [
            document(rel, display(schemas / rel), data, schemas)
            for rel, data in gitref.files_at(schemas, against).items()
            if is_contract(rel)
        ]
        ref_findings, result.suggestions = published.compare(docs, at_ref, against, allow_mode_change)
        result.findings += ref_findings
    result.sort()
    return result
