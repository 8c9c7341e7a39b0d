"""Protect fields tagged `x-pii` before anything leaves the process.

A contract's PII paths are compiled once at load into steps (`$.items[*].email` →
`("items", "*", "email")`); `protect` applies them to the decoded `data` in place, for good
and bad envelopes alike.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

REDACTED = "[redacted]"
_STEP = re.compile(r"\.([^.\[]+)|\[\*\]")


class PiiField(NamedTuple):
    path: str  # `$.card.number`, `$.items[*].email`
    action: str
    steps: tuple[str, ...]


def pii_field(path: str, action: str) -> PiiField:
    return PiiField(path, action, tuple(m[1] or "*" for m in _STEP.finditer(path)))


def protect(data: Any, fields: tuple[PiiField, ...]) -> Any:
    """Apply each field's action; values of the wrong shape are left to validation."""
    for f in fields:
        _redact(data, f.steps, 0)
    return data


def _redact(node: Any, steps: tuple[str, ...], i: int) -> None:
    step, last = steps[i], i == len(steps) - 1
    if step == "*":
        if isinstance(node, list):
            if last:
                node[:] = [REDACTED] * len(node)
            else:
                for child in node:
                    _redact(child, steps, i + 1)
        return
    if not isinstance(node, dict) or step not in node:
        return
    if not last:
        _redact(node[step], steps, i + 1)
    elif node[step] is not None:
        node[step] = REDACTED
