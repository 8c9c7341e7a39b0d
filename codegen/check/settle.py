"""Settle each change's verdict with the proof (`proof`); the diff (`compat`) explains it.

The keyword-by-keyword diff approximates; the containment proof decides. A keyword change the
diff cannot classify (`keyword-changed`) is proven on its own: the old document with only that
schema node taken from the new one, so it is not blamed for a neighbour's break.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from codegen.check.constraints import Schema
from codegen.check.findings import Change, Keys
from codegen.check.proof import Proof, Source, prove

_MISSING = object()


def settle(
    changes: list[Change], old: Schema, new: Schema, old_at: Source | None, new_at: Source | None
) -> list[Change]:
    """`changes` (old → new) with each direction decided by a proof."""
    whole = prove(old, new, old_at, new_at)
    alone = [_alone(c, old, new, whole, old_at, new_at) if c.kind == "keyword-changed" else c for c in changes]
    return _settle(alone, whole)


def _settle(changes: list[Change], proof: Proof) -> list[Change]:
    """The proof decides each direction; the changes explain it.

    A direction the proof shows holds makes every value change compatible that way (the
    keyword-by-keyword diff only approximates). A direction it cannot prove is breaking: the
    changes the diff already blames carry it; if none is blamed, every value change is, with
    the proof's reason; and a change no keyword explains is reported on its own.
    """
    out = list(changes)
    values = [i for i, c in enumerate(out) if not c.docs and c.kind != "pii-changed"]
    notes = []
    for direction, proven, why in (
        ("backward", proof.backward, proof.backward_why),
        ("forward", proof.forward, proof.forward_why),
    ):
        if proven:
            for i in values:
                out[i] = _with(out[i], direction, True)
        else:
            note = f"not provably {direction.upper()}-compatible: {why}"
            notes.append(note)
            if all(getattr(out[i], direction) for i in values):
                for i in values:
                    out[i] = _with(out[i], direction, False, f"; {note}")
    if notes and not values:
        text = "the schema changed outside the keywords Charter compares; " + "; ".join(notes)
        out.append(Change("unproven", "$", text, proof.backward, proof.forward))
    return out


def _alone(
    change: Change, old: Schema, new: Schema, whole: Proof, old_at: Source | None, new_at: Source | None
) -> Change:
    """A keyword change the diff cannot classify, judged by the proof on its own: the old
    document with only that schema node replaced by its new version (else the whole change)."""
    mixed = _replaced(old, new, change.keys[:-1])
    proof = whole if mixed is None else prove(old, mixed, old_at, new_at)
    notes = [
        f"; not provably {direction.upper()}-compatible: {why}"
        for direction, proven, why in (
            ("backward", proof.backward, proof.backward_why),
            ("forward", proof.forward, proof.forward_why),
        )
        if not proven
    ]
    return dataclasses.replace(
        change, backward=proof.backward, forward=proof.forward, message=change.message + "".join(notes)
    )


def _replaced(old: Schema, new: Schema, keys: Keys) -> Schema | None:
    """`old` with the node at `keys` taken from `new`; None when either document lacks it."""
    if not keys:
        return new
    copy: Schema = json.loads(json.dumps(old))
    parent, target = copy, new
    for key in keys[:-1]:
        parent, target = _step(parent, key), _step(target, key)
    last = keys[-1]
    if not isinstance(parent, dict | list) or _step(parent, last) is _MISSING or _step(target, last) is _MISSING:
        return None
    parent[last] = _step(target, last)  # type: ignore[index]
    return copy


def _step(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key, _MISSING)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return _MISSING


def _with(change: Change, direction: str, value: bool, note: str = "") -> Change:
    message = change.message + note
    if direction == "backward":
        return dataclasses.replace(change, backward=value, message=message)
    return dataclasses.replace(change, forward=value, message=message)
