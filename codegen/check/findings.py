"""What a check produces: findings (lint and rule violations), changes and suggested versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["error", "warning", "info"]
Keys = tuple[str | int, ...]  # where in a contract document: ("properties", "image", "type")


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    code: str
    file: str
    message: str
    line: int | None = None
    path: str = ""  # JSON path of the field or keyword, when there is one
    contract: str = ""  # `namespace/name`
    owner: str = ""  # `Name <email>`

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level, "code": self.code, "file": self.file, "line": self.line, "path": self.path,
            "message": self.message, "contract": self.contract, "owner": self.owner,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two versions of a contract, and whom it breaks.

    `backward`: consumers on the new version can still read data written with the old one.
    `forward`: consumers on the old version can still read data written with the new one.
    `docs`: documentation or metadata only, so a PATCH is enough.
    """

    kind: str
    path: str
    message: str
    backward: bool
    forward: bool
    docs: bool = False
    keys: Keys = field(default=(), compare=False)  # where to point in the newer document


Verdict = Literal["docs", "compatible", "breaking", "new major"]


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """A change between two versions of one contract, as reported."""

    contract: str
    old: str
    new: str
    change: Change
    verdict: Verdict
    file: str
    line: int | None

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        return {
            "contract": self.contract, "from": self.old, "to": self.new, "path": c.path, "kind": c.kind,
            "message": c.message, "backward": c.backward, "forward": c.forward, "verdict": self.verdict,
            "file": self.file, "line": self.line,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The version a changed contract should carry, given its changes since `base`."""

    contract: str
    base: str | None  # the version it was compared with; None for a new contract
    version: str  # the version the tree has
    suggested: str
    needs: str  # "PATCH" | "MINOR" | "MAJOR" | "NONE" | "NEW"
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract, "base": self.base, "version": self.version,
            "suggested": self.suggested, "needs": self.needs, "ok": self.ok,
        }  # fmt: skip


@dataclass(slots=True)
class Result:
    """Everything one `charter check` found."""

    contracts: int = 0
    versions: int = 0
    findings: list[Finding] = field(default_factory=list)
    changes: list[ChangeEntry] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def count(self, level: Level) -> int:
        return sum(f.level == level for f in self.findings)

    def sort(self) -> None:
        self.findings.sort(key=lambda f: (f.file, f.line is None, f.line or 0, f.code, f.path))
        self.changes.sort(key=lambda e: (e.contract, _version_key(e.new), e.change.path))
        self.suggestions.sort(key=lambda s: s.contract)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
            "changes": [c.to_dict() for c in self.changes],
            "suggestions": [s.to_dict() for s in self.suggestions],
        }


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))
