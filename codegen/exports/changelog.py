"""What changed between consecutive versions of a contract, for people reading the catalog.

A plain field-by-field diff (added, removed, changed: type, required-ness, enum, constraints,
description, PII tags) plus the `x-contract` metadata. It says what changed, not whether the
change is compatible: that verdict is `charter check`'s.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codegen.exports.fields import Field, walk
from collector.contracts import Contract

_META = ("status", "topic", "dlq_topic", "partitions", "partition_key", "sla", "expected_volume", "compatibility")


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # added | removed | changed
    subject: str  # `field $.referrer`, `owner`, `rule paid_amount_positive`
    detail: str


@dataclass(frozen=True, slots=True)
class Entry:
    version: str
    previous: str | None  # None for the first version
    changes: tuple[Change, ...]


def changelog(versions: Sequence[Contract]) -> list[Entry]:
    """One entry per version, newest first, each against the version before it."""
    entries = [Entry(versions[0].version_str, None, ())]
    for old, new in itertools.pairwise(versions):
        entries.append(Entry(new.version_str, old.version_str, tuple(diff(old, new))))
    return entries[::-1]


def diff(old: Contract, new: Contract) -> list[Change]:
    return _field_changes(old, new) + _meta_changes(old, new)


def _field_changes(old: Contract, new: Contract) -> list[Change]:
    before = {f.path: f for f in walk(old)}
    after = {f.path: f for f in walk(new)}
    out = []
    for path, f in after.items():
        if path not in before:
            out.append(Change("added", f"field {path}", f"{f.label}, {'required' if f.required else 'optional'}"))
            continue
        details = _field_details(before[path], f)
        if details:
            out.append(Change("changed", f"field {path}", "; ".join(details)))
    out += [Change("removed", f"field {path}", f.label) for path, f in before.items() if path not in after]
    return out


def _field_details(a: Field, b: Field) -> list[str]:
    out = []
    if a.label != b.label:
        out.append(f"type {a.label} → {b.label}")
    if a.required != b.required:
        out.append("now required" if b.required else "now optional")
    if a.enum != b.enum:
        out.append(_set_change("enum", a.enum or (), b.enum or ()))
    ca, cb = dict(a.constraints), dict(b.constraints)
    for kw in dict.fromkeys([*ca, *cb]):
        if ca.get(kw) != cb.get(kw):
            out.append(f"{kw} {_show(ca.get(kw))} → {_show(cb.get(kw))}")
    for what, x, y in (("x-pii", a.pii, b.pii), ("x-classification", a.classification, b.classification)):
        if x != y:
            out.append(f"{what} {_show(x)} → {_show(y)}")
    if a.description != b.description:
        out.append("description edited")
    return out


def _meta_changes(old: Contract, new: Contract) -> list[Change]:
    out = []
    for what in ("title", "description"):
        if old.schema.get(what) != new.schema.get(what):
            out.append(Change("changed", what, "edited"))
    a, b = old.meta, new.meta
    if a.owner != b.owner:
        out.append(Change("changed", "owner", f"{a.owner.name} → {b.owner.name}"))
    for what in _META:
        x, y = getattr(a, what), getattr(b, what)
        if x != y:
            out.append(Change("changed", what, f"{_show(x)} → {_show(y)}"))
    if a.tags != b.tags:
        out.append(Change("changed", "tags", _set_change("tags", a.tags, b.tags)))
    if a.warehouse != b.warehouse:
        out.append(Change("changed", "warehouse", "table settings edited"))
    rules_a, rules_b = {r.name: r for r in a.rules}, {r.name: r for r in b.rules}
    for name, rule in rules_b.items():
        if name not in rules_a:
            out.append(Change("added", f"rule {name}", rule.expr))
        elif rules_a[name] != rule:
            out.append(Change("changed", f"rule {name}", rule.expr))
    out += [Change("removed", f"rule {name}", r.expr) for name, r in rules_a.items() if name not in rules_b]
    return out


def _set_change(what: str, a: Sequence[Any], b: Sequence[Any]) -> str:
    added = [_show(v) for v in b if v not in a]
    removed = [_show(v) for v in a if v not in b]
    parts = [f"+{', '.join(added)}" if added else "", f"-{', '.join(removed)}" if removed else ""]
    return f"{what} " + " ".join(p for p in parts if p) if added or removed else f"{what} reordered"


def _show(value: Any) -> str:
    return "none" if value is None else str(value)
