"""Compatibility modes, Confluent's names and meanings, applied to data contracts.

- BACKWARD: consumers using the new version can read data written with the previous one.
- FORWARD: consumers using the previous version can read data written with the new one.
- FULL: both. The `_TRANSITIVE` forms check against every earlier version of the same
  major, not only the previous one. NONE: no compatibility is required.

A contract picks its mode in `x-contract.compatibility`; the default is BACKWARD, as in
Confluent Schema Registry. The mode that governs the step from X to Y is the one published in
X, the older version: a new version cannot loosen its own check. Changing the mode is itself
a change that needs a new major (see `versions`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from codegen.check.findings import Change


class Mode(StrEnum):
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"
    NONE = "NONE"

    @property
    def transitive(self) -> bool:
        return self.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        return self.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        return self.startswith(("FORWARD", "FULL"))

    def covers(self, other: Mode) -> bool:
        """Whether this mode checks everything `other` checks (BACKWARD_TRANSITIVE covers BACKWARD)."""
        return (
            (self.backward or not other.backward)
            and (self.forward or not other.forward)
            and (self.transitive or not other.transitive)
        )


DEFAULT = Mode.BACKWARD
MODES = tuple(m.value for m in Mode)


def mode_of(body: dict[str, Any]) -> Mode:
    """The contract's mode; an unknown value falls back to the default (lint reports it)."""
    value = _setting(body)
    return Mode(value) if value in MODES else DEFAULT


def origin(body: dict[str, Any], where: str) -> str:
    """Where a version's mode comes from, for messages: `set in …` or the default."""
    if _setting(body) in MODES:
        return f"set in {where}"
    return f"the default: {where} sets no `x-contract.compatibility`"


def _setting(body: dict[str, Any]) -> Any:
    meta = body.get("x-contract")
    return meta.get("compatibility") if isinstance(meta, dict) else None


def breaks(change: Change, mode: Mode) -> bool:
    return (mode.backward and not change.backward) or (mode.forward and not change.forward)


def why(change: Change, mode: Mode, old: str, new: str) -> str:
    """Which required direction a change breaks, in the consumer's words."""
    reasons = []
    if mode.backward and not change.backward:
        reasons.append(f"BACKWARD: consumers on {new} cannot read data written with {old}")
    if mode.forward and not change.forward:
        reasons.append(f"FORWARD: consumers on {old} cannot read data written with {new}")
    return "; ".join(reasons)
