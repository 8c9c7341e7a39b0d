"""Bump rules: the version a set of changes needs, and whether each version in the tree has it.

- PATCH: only docs and metadata changed (every change is `docs`, see `compat`).
- MINOR: every change is compatible under the mode of the version it follows (the older one,
  so a new version cannot loosen its own check): against that version, and for a
  `_TRANSITIVE` mode against every earlier version of the same major.
- MAJOR: anything else, including a change of the mode that drops a check the old mode made
  (unless `--allow-mode-change`, which turns that finding into a warning). A stricter mode
  (BACKWARD → BACKWARD_TRANSITIVE or FULL) cannot let a change through that the old one
  refused, so it is a warning only. A new major is its own line that coexists with
  the old one, so it needs no compatibility with the previous major and may pick any mode;
  its changes are listed as "new major".

A bump larger than needed is allowed; a smaller one fails with the change list and the
version it should have been. Skipping a version (1.0.0 → 1.2.0) is a warning.

SchemaVer: when both versions carry a top-level `x-iglu` (imported from Iglu), the numbers are
Iglu's `MODEL-REVISION-ADDITION`, so the step is classified by SchemaVer instead: ADDITION
(the third number) for a change compatible with all historical data (docs, a new optional
field), REVISION (the second) for a change that may break some, MODEL for anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from codegen.check.compat import diff
from codegen.check.documents import Document
from codegen.check.findings import Change, ChangeEntry, Finding, Level, Suggestion, Verdict
from codegen.check.modes import Mode, breaks, mode_of, origin, why
from codegen.check.proof import Source
from collector.contracts import Version, read_document


class Bump(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def label(self, schemaver: bool) -> str:
        """The bump's name in the versioning scheme of the step: `MINOR`, or `REVISION` in SchemaVer."""
        return _SCHEMAVER_NAMES[self] if schemaver else self.name


_SCHEMAVER_NAMES = {Bump.NONE: "NONE", Bump.PATCH: "ADDITION", Bump.MINOR: "REVISION", Bump.MAJOR: "MODEL"}


@dataclass(frozen=True, slots=True)
class Assessment:
    mode: Mode  # the base's mode: it governs the step
    origin: str  # where that mode comes from, for messages
    changes: list[Change]  # base → doc
    breaking: list[tuple[Document, Change]]  # each with the version it breaks against
    need: Bump
    mode_change: Change | None = None
    mode_change_ok: bool = False  # stricter, or `--allow-mode-change`
    allow_mode_change: bool = False
    schemaver: bool = False  # both versions carry `x-iglu`: `need` is a SchemaVer position

    @property
    def need_name(self) -> str:
        return self.need.label(self.schemaver)

    @property
    def scheme(self) -> str:
        return "SchemaVer MODEL-REVISION-ADDITION, as both versions carry x-iglu" if self.schemaver else "SemVer"

    def verdict(self, change: Change, new_major: bool) -> Verdict:
        if new_major:
            return "new major"
        if change.kind == "mode-changed":
            return "compatible" if self.mode_change_ok else "breaking"
        return "breaking" if breaks(change, self.mode) else "docs" if change.docs else "compatible"


def bump_between(old: Version, new: Version) -> Bump:
    if new.major != old.major:
        return Bump.MAJOR
    if new.minor != old.minor:
        return Bump.MINOR
    return Bump.PATCH if new.patch != old.patch else Bump.NONE


def next_version(version: Version, bump: Bump) -> Version:
    if bump is Bump.MAJOR:
        return Version(version.major + 1, 0, 0)
    if bump is Bump.MINOR:
        return Version(version.major, version.minor + 1, 0)
    return Version(version.major, version.minor, version.patch + (bump is Bump.PATCH))


def assess(
    base: Document, doc: Document, earlier: Sequence[Document] = (), allow_mode_change: bool = False
) -> Assessment:
    """What `doc` changes since `base`, what breaks under `base`'s mode, and the bump that needs."""
    mode = mode_of(base.body or {})
    changes = diff(base.body or {}, doc.body or {}, source(base), source(doc))
    breaking = [(base, c) for c in changes if breaks(c, mode)]
    if mode.transitive and doc.version is not None:
        seen = {(c.path, c.kind) for _, c in breaking}
        for old in (e for e in earlier if e.version is not None and e.version.major == doc.version.major):
            found = [
                c
                for c in diff(old.body or {}, doc.body or {}, source(old), source(doc))
                if breaks(c, mode) and (c.path, c.kind) not in seen
            ]
            seen |= {(c.path, c.kind) for c in found}
            breaking += [(old, c) for c in found]
    mode_change = next((c for c in changes if c.kind == "mode-changed"), None)
    allowed = allow_mode_change or mode_of(doc.body or {}).covers(mode)
    major = breaking or (mode_change is not None and not allowed)
    need = Bump.MAJOR if major else Bump.MINOR if any(not c.docs for c in changes) else Bump(bool(changes))
    iglu = is_schemaver(base) and is_schemaver(doc)
    if iglu:  # SchemaVer: breaking is a REVISION, compatible or docs an ADDITION
        need = Bump.MINOR if major else Bump.PATCH if changes else Bump.NONE
    where = f"{base.contract}/{_v(base)}" if base.version is not None else base.rel
    return Assessment(
        mode, origin(base.body or {}, where), changes, breaking, need, mode_change, allowed, allow_mode_change, iglu
    )


def is_schemaver(doc: Document) -> bool:
    """Whether the document was imported from Iglu (a top-level `x-iglu` object): its version is SchemaVer."""
    return isinstance((doc.body or {}).get("x-iglu"), dict)


def source(doc: Document) -> Source | None:
    """Where the proof resolves `doc`'s references to shared files."""
    return Source(doc.root / doc.rel, doc.root, read_document) if doc.root is not None else None


def check_lines(
    docs: list[Document], allow_mode_change: bool = False
) -> tuple[list[Finding], list[ChangeEntry], list[Suggestion]]:
    """Every consecutive pair of versions of every contract: its changes and its bump."""
    findings: list[Finding] = []
    entries: list[ChangeEntry] = []
    suggestions: list[Suggestion] = []
    for line in _lines(docs):
        for i in range(1, len(line)):
            a = assess(line[i - 1], line[i], line[: i - 1], allow_mode_change)
            entries += _entries(line[i - 1], line[i], a)
            findings += judge(line[i - 1], line[i], a)
            if i == len(line) - 1:
                suggestions.append(suggest(line[i - 1], line[i], a))
    return findings, entries, suggestions


def judge(base: Document, doc: Document, a: Assessment) -> list[Finding]:
    """Findings for the bump `base` → `doc`."""
    old, new = _v(base), _v(doc)
    if new.major != old.major:
        text = (
            f"{new} starts major {new.major} of {doc.contract}: a new line that coexists with {old} "
            f"and needs no compatibility with it ({len(a.changes)} change(s) listed as new major)"
        )
        out = [_finding(doc, "info", "new-major", text)]
        if (new.minor, new.patch) != (0, 0):
            out.append(_finding(doc, "warning", "version-gap", f"the first version of major {new.major} is {new}"))
        return out
    actual = bump_between(old, new)
    moved = [_mode_changed(base, doc, a)] if a.mode_change is not None else []
    if actual < a.need:
        return [*_breaking(doc, a), *moved, _wrong_bump(base, doc, a, actual)]
    if a.need is Bump.NONE:
        return [_finding(doc, "warning", "no-change", f"{new} has the same content as {old}: nothing to publish")]
    expected = next_version(old, actual)
    if new != expected:
        return [*moved, _finding(doc, "warning", "version-gap", f"{old} → {new} skips {expected}")]
    return moved


def suggest(base: Document, doc: Document, a: Assessment) -> Suggestion:
    old, new = _v(base), _v(doc)
    suggested = next_version(old, a.need)
    ok = bump_between(old, new) >= a.need
    return Suggestion(doc.contract, str(old), str(new), str(suggested), a.need_name, ok)


def change_list(a: Assessment, new_major: bool = False) -> str:
    return "".join(f"\n  - `{c.path}` {c.message} [{a.verdict(c, new_major)}]" for c in a.changes)


def _breaking(doc: Document, a: Assessment) -> list[Finding]:
    out = []
    major = next_version(_v(doc), Bump.MAJOR)
    if a.schemaver:
        major = next_version(_v(doc), Bump.MINOR)
    for old, c in a.breaking:
        reason = why(c, a.mode, str(_v(old)), str(_v(doc)))
        owner = doc.owner or "(none: set x-contract.owner)"
        publish = (
            f"Publish this change as {major} (a REVISION in SchemaVer, as both versions carry x-iglu)"
            if a.schemaver
            else f"Publish this change as {major} (a new major line that coexists with {_v(old)})"
        )
        text = (
            f"{doc.contract} {_v(doc)}: `{c.path}`: {c.message} — breaks {a.mode} compatibility with {_v(old)} "
            f"({reason}). {a.mode} is {a.origin}. {publish}, or make it compatible; another mode can only be "
            f"set in a new major.\nOwner: {owner}"
        )
        out.append(
            Finding("error", "breaking-change", doc.file, text, doc.line(c.keys), c.path, doc.contract, doc.owner)
        )
    return out


def _mode_changed(base: Document, doc: Document, a: Assessment) -> Finding:
    assert a.mode_change is not None
    c = a.mode_change
    text = (
        f"{doc.contract} {_v(doc)}: {c.message}. The mode of {_v(base)} governs the step to {_v(doc)}; "
        f"a different mode needs a new major ({next_version(_v(doc), Bump.MAJOR)})"
    )
    level: Level = "warning" if a.mode_change_ok else "error"
    if a.allow_mode_change:
        text += ". Allowed by --allow-mode-change: later versions are checked under the new mode"
    elif a.mode_change_ok:
        text = (
            f"{doc.contract} {_v(doc)}: {c.message}. The new mode makes every check the old one made, so it "
            f"cannot let a change through that {_v(base)} refused; later versions are checked under it"
        )
    else:
        text += ", or pass --allow-mode-change to accept it in this version (the report shows it as a warning)"
    return Finding(level, "mode-changed", doc.file, text, doc.line(c.keys), c.path, doc.contract, doc.owner)


def _wrong_bump(base: Document, doc: Document, a: Assessment, actual: Bump) -> Finding:
    old, new = _v(base), _v(doc)
    should = next_version(old, a.need)
    text = (
        f"{doc.contract} {new} is {_a(actual.label(a.schemaver))} bump from {old}, but its changes need "
        f"{_a(a.need_name)} under {a.mode} ({a.origin}){' in ' + a.scheme if a.schemaver else ''}: "
        f"it should have been {should}"
    )
    if a.need is Bump.MAJOR:
        text += f" (a new major line that coexists with {old}) or a new contract"
    return _finding(doc, "error", "wrong-bump", text + ". Changes:" + change_list(a))


def _a(word: str) -> str:
    return ("an " if word[0] in "AEIOU" else "a ") + word


def _entries(base: Document, doc: Document, a: Assessment) -> list[ChangeEntry]:
    old, new = _v(base), _v(doc)
    new_major = old.major != new.major
    return [
        ChangeEntry(doc.contract, str(old), str(new), c, a.verdict(c, new_major), doc.file, doc.line(c.keys))
        for c in a.changes
    ]


def _lines(docs: list[Document]) -> list[list[Document]]:
    grouped: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        if doc.version is not None and doc.body is not None:
            grouped[doc.contract].append(doc)
    return [sorted(line, key=lambda d: _key(_v(d))) for _, line in sorted(grouped.items())]


def _finding(doc: Document, level: Level, code: str, text: str) -> Finding:
    return Finding(level, code, doc.file, text, None, "", doc.contract, doc.owner)


def _v(doc: Document) -> Version:
    assert doc.version is not None, "only laid-out documents have versions"
    return doc.version


def _key(v: Version) -> tuple[int, int, int]:
    return (v.major, v.minor, v.patch)
