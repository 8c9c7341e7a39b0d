"""Compare the tree with the contracts published at a git ref (`charter check --against REF`).

| code                 | level | when                                                          |
|----------------------|-------|---------------------------------------------------------------|
| `published-modified` | error | a version file that exists at the ref changed (immutable)     |
| `active-deleted`     | error | a version file was deleted while `active` at the ref          |
| `version-removed`    | info  | a `draft` or `deprecated` version file was deleted            |
| `new-contract`       | info  | a contract the ref does not have                              |
| `new-version`        | info  | a new version of a contract the ref has                       |

Suggested versions: a new version is measured against the newest version published before it;
an edit of a published file against that file as published, numbered after the newest
published version (of its major, or of all for a MAJOR change).
"""

from __future__ import annotations

from collections import defaultdict

from codegen.check import locate
from codegen.check.documents import Document
from codegen.check.findings import Finding, Suggestion
from codegen.check.versions import Assessment, Bump, assess, bump_between, change_list, next_version
from collector.contracts import Version


def compare(
    tree: list[Document], published: list[Document], ref: str, allow_mode_change: bool = False
) -> tuple[list[Finding], list[Suggestion]]:
    before = {d.rel: d for d in published}
    after = {d.rel: d for d in tree}
    lines = _by_contract(published)
    findings = [_deleted(d, ref) for rel, d in before.items() if rel not in after]
    for rel, doc in after.items():
        if rel not in before:
            findings.append(_new(doc, lines.get(doc.contract, []), ref))
        elif doc.data != before[rel].data:
            findings.append(_modified(before[rel], doc, lines.get(doc.contract, []), ref))
    suggestions = [
        s
        for contract, line in _by_contract(tree).items()
        if (s := _suggest(line, lines.get(contract, []), allow_mode_change))
    ]
    return findings, suggestions


def _deleted(doc: Document, ref: str) -> Finding:
    meta = (doc.body or {}).get("x-contract")
    status = meta.get("status", "active") if isinstance(meta, dict) else "active"
    version = f"{doc.contract} {doc.version}"
    if status == "active":
        text = (
            f"{version} was deleted but is `active` at {ref}: consumers may still read it. "
            "Mark it `deprecated` first and delete it in a later change"
        )
        return Finding("error", "active-deleted", doc.file, text, None, "", doc.contract, doc.owner)
    text = f"{version} ({status} at {ref}) was deleted"
    return Finding("info", "version-removed", doc.file, text, None, "", doc.contract, doc.owner)


def _new(doc: Document, line: list[Document], ref: str) -> Finding:
    if not line:
        text = f"new contract {doc.contract} {doc.version} (not at {ref})"
        return Finding("info", "new-contract", doc.file, text, None, "", doc.contract, doc.owner)
    known = ", ".join(str(d.version) for d in line)
    text = f"new version {doc.version} of {doc.contract} (published at {ref}: {known})"
    return Finding("info", "new-version", doc.file, text, None, "", doc.contract, doc.owner)


def _modified(old: Document, doc: Document, line: list[Document], ref: str) -> Finding:
    text = f"{doc.contract} {doc.version} is published at {ref} and published versions are immutable: revert this edit"
    edit = _edit(old, doc, line)
    if edit is not None and edit[2].need is Bump.NONE:
        text += " (it changes only the file's formatting)"
    elif edit is not None:
        _, should, a = edit
        text += f" and publish it as {should} ({doc.contract}/{should}{_suffix(doc)}), a {a.need_name} change"
        text += ". Changes:" + change_list(a)
    line_no = locate.first_difference(old.data, doc.data)
    return Finding("error", "published-modified", doc.file, text, line_no, "", doc.contract, doc.owner)


def _suggest(line: list[Document], published: list[Document], allow_mode_change: bool) -> Suggestion | None:
    known = {d.rel: d for d in published}
    fresh = [d for d in line if d.rel not in known]
    edited = [d for d in line if d.rel in known and d.data != known[d.rel].data]
    if fresh:
        doc = fresh[-1]
        earlier = [d for d in published if _key(_v(d)) < _key(_v(doc))]
        if not earlier:
            return Suggestion(doc.contract, None, str(doc.version), str(doc.version), "NEW", True)
        a = assess(earlier[-1], doc, earlier[:-1], allow_mode_change)
        base = _v(earlier[-1])
        ok = bump_between(base, _v(doc)) >= a.need
        return Suggestion(doc.contract, str(base), str(doc.version), str(next_version(base, a.need)), a.need_name, ok)
    edit = _edit(known[edited[-1].rel], edited[-1], published) if edited else None
    if edit is None:
        return None
    newest, should, a = edit
    return Suggestion(edited[-1].contract, str(newest), str(edited[-1].version), str(should), a.need_name, False)


def _edit(old: Document, doc: Document, published: list[Document]) -> tuple[Version, Version, Assessment] | None:
    """What an edit of a published file changes (against that file as published), the newest
    published version it must follow, and the version it should have been published as."""
    if old.body is None or doc.body is None or old not in published:
        return None
    a = assess(old, doc)  # the edit alone; breaks between published versions are the tree check's to report
    same_major = [d for d in published if _v(d).major == _v(old).major]
    newest = _v((published if a.need is Bump.MAJOR else same_major)[-1])
    return newest, next_version(newest, a.need), a


def _by_contract(docs: list[Document]) -> dict[str, list[Document]]:
    grouped: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        if d.version is not None and d.body is not None:
            grouped[d.contract].append(d)
    return {c: sorted(line, key=lambda d: _key(_v(d))) for c, line in grouped.items()}


def _suffix(doc: Document) -> str:
    return doc.rel[doc.rel.rindex(".") :]


def _v(doc: Document) -> Version:
    assert doc.version is not None, "grouped documents have versions"
    return doc.version


def _key(v: Version) -> tuple[int, int, int]:
    return (v.major, v.minor, v.patch)
