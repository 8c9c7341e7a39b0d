"""Protect fields tagged `x-pii` before anything leaves the process.

A contract's PII paths are compiled at load (`$.card.number`, `$.items[*].email`); here
they are applied to the decoded `data` in place, for good and bad envelopes alike.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
_STEP = re.compile(r"\.([^.\[]+)|\[\*\]")


def protect(data: Any, pii: tuple[tuple[str, str], ...]) -> Any:
    """Apply each (path, action) to `data`; values of the wrong shape are left to validation."""
    for path, _action in pii:
        _redact(data, [m[1] or "*" for m in _STEP.finditer(path)])
    return data


def _redact(node: Any, steps: list[str]) -> None:
    step, rest = steps[0], steps[1:]
    if step == "*":
        children = node if isinstance(node, list) else []
        for child in children:
            if rest:
                _redact(child, rest)
        if not rest and isinstance(node, list):
            node[:] = [REDACTED] * len(node)
        return
    if not isinstance(node, dict) or step not in node:
        return
    if rest:
        _redact(node[step], rest)
    elif node[step] is not None:
        node[step] = REDACTED
