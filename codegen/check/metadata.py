"""Changes to `x-contract`: which settings are documentation, which change behaviour.

- PATCH (docs): `owner`, `status`, `tags`, `sla`, `expected_volume`, `warehouse`, a rule's
  `message`, and any key Charter does not know.
- `compatibility`: a different mode is `mode-changed`, which needs a new major (see
  `versions`); spelling out the default mode is documentation.
- MINOR (compatible, but consumers or operators should hear of it): `partitions`,
  `partition_key`, `dlq_topic`, `dedupe`, and rules with `on_failure: flag` (they
  mark events, never reject them).
- Data rules (`on_failure: dlq`) reject events like a constraint: adding one tightens
  (breaks BACKWARD), removing one loosens (breaks FORWARD), changing its expression does both.
- `topic`: consumers of the old topic stop receiving events, so it breaks both ways.
- `segment`, `cloudevents_type`: the Segment calls or CloudEvents the contract claims go to
  another contract (or none), so a change breaks both ways too.
"""

from __future__ import annotations

import json
from typing import Any

from codegen.check.constraints import CHANGED, LOOSENED, SAME, TIGHTENED, Schema
from codegen.check.findings import Change, Keys
from codegen.check.modes import mode_of

SETTINGS = ("partitions", "partition_key", "dlq_topic", "dedupe")
CLAIMS = ("segment", "cloudevents_type")  # which input-protocol events the contract governs
_MISSING = object()


def diff(old: Schema, new: Schema) -> list[Change]:
    om, nm = _meta(old), _meta(new)
    out: list[Change] = []
    for key in sorted(set(om) | set(nm)):
        a, b = om.get(key, _MISSING), nm.get(key, _MISSING)
        if a == b:
            continue
        path, keys = f"x-contract.{key}", ("x-contract", key)
        text = f"`{key}` {_show(a)} → {_show(b)}"
        if key == "rules":
            out += _rules(a if isinstance(a, list) else [], b if isinstance(b, list) else [])
        elif key == "topic":
            out.append(
                Change(
                    "topic-changed",
                    path,
                    f"{text}: consumers of the old topic stop receiving events",
                    *CHANGED,
                    keys=keys,
                )
            )
        elif key in CLAIMS:
            message = f"{text}: the events the old claim governed go to another contract, or are unplanned"
            out.append(Change("claim-changed", path, message, *CHANGED, keys=keys))
        elif key == "compatibility" and mode_of(old) != mode_of(new):
            text = f"compatibility mode {mode_of(old)} → {mode_of(new)}"
            out.append(Change("mode-changed", path, text, *SAME, keys=keys))
        elif key in SETTINGS:
            out.append(Change("setting-changed", path, text, *SAME, keys=keys))
        else:
            out.append(Change("metadata-changed", path, f"`{key}` changed", *SAME, docs=True, keys=keys))
    return out


def _rules(old: list[Any], new: list[Any]) -> list[Change]:
    before, after = _by_name(old), _by_name(new)
    out: list[Change] = []
    for name in sorted(set(before) | set(after)):
        path = f"x-contract.rules.{name}"
        index = [i for i, r in enumerate(new) if isinstance(r, dict) and r.get("name") == name]
        keys: Keys = ("x-contract", "rules", *index[:1])
        a, b = before.get(name), after.get(name)
        if a is not None and b is not None:
            out += _rule_changed(name, path, keys, a, b)
        elif b is not None:
            out.append(_added_or_removed(name, path, keys, b, added=True))
        elif a is not None:
            out.append(_added_or_removed(name, path, keys, a, added=False))
    return out


def _added_or_removed(name: str, path: str, keys: Keys, rule: dict[str, Any], added: bool) -> Change:
    effect = (TIGHTENED if added else LOOSENED) if _rejects(rule) else SAME
    kind, verb = ("rule-added", "added") if added else ("rule-removed", "removed")
    return Change(kind, path, f"rule `{name}` ({_on_failure(rule)}) {verb}", *effect, keys=keys)


def _rule_changed(name: str, path: str, keys: Keys, a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    out = []
    if a.get("expr") != b.get("expr"):
        effect = CHANGED if _rejects(a) or _rejects(b) else SAME
        out.append(Change("rule-changed", path, f"rule `{name}` expression changed", *effect, keys=keys))
    if _on_failure(a) != _on_failure(b):
        effect = TIGHTENED if _rejects(b) else LOOSENED
        text = f"rule `{name}` on_failure {_on_failure(a)} → {_on_failure(b)}"
        out.append(Change("rule-changed", path, text, *effect, keys=keys))
    rest = ("expr", "on_failure")
    if {k: v for k, v in a.items() if k not in rest} != {k: v for k, v in b.items() if k not in rest}:
        out.append(Change("metadata-changed", path, f"rule `{name}` message changed", *SAME, docs=True, keys=keys))
    return out


def _meta(body: Schema) -> dict[str, Any]:
    meta = body.get("x-contract")
    return meta if isinstance(meta, dict) else {}


def _by_name(rules: list[Any]) -> dict[str, dict[str, Any]]:
    return {str(r.get("name")): r for r in rules if isinstance(r, dict)}


def _on_failure(rule: dict[str, Any]) -> str:
    return str(rule.get("on_failure", "dlq"))


def _rejects(rule: dict[str, Any]) -> bool:
    return _on_failure(rule) == "dlq"


def _show(value: Any) -> str:
    return "(none)" if value is _MISSING else json.dumps(value)
