"""Diff two versions of a contract into classified changes.

BACKWARD = consumers using the new version can read data written with the old one;
FORWARD = consumers using the old version can read data written with the new one. A mode
(see `modes`) says which of the two a change must keep. Per change, recursively through
nested objects, array items (`$.items[*].price`) and `$ref`s into `$defs`:

| change                                      | BACKWARD            | FORWARD             | bump (2)   |
|---------------------------------------------|---------------------|---------------------|------------|
| field added, optional                       | yes                 | if old is open (1)  | MINOR      |
| field added, required                       | no                  | if old is open (1)  | MINOR      |
| field removed (optional)                    | if new is open (1)  | yes                 | MINOR      |
| field removed (required)                    | if new is open (1)  | no                  | MINOR      |
| renamed? a → b (one removed, one added,     | both the removal's  | and the addition's  | MINOR      |
|   same type, in the same object)            |   and the addition's|   must hold         |            |
| field optional → required                   | no                  | yes                 | MINOR      |
| field required → optional                   | yes                 | no                  | MINOR      |
| type widened (+null, integer → number)      | yes                 | no                  | MINOR      |
| type narrowed (-null, number → integer)     | no                  | yes                 | MINOR      |
| type changed (string → integer)             | no                  | no                  | MINOR      |
| enum widened (values added; enum removed)   | yes                 | no                  | MINOR      |
| enum narrowed (values removed; enum added)  | no                  | yes                 | MINOR      |
| enum changed (values added and removed)     | no                  | no                  | MINOR      |
| constraint tightened (min* up, max* down,   | no                  | yes                 | MINOR      |
|   exclusive*, multipleOf to a multiple,     |                     |                     |            |
|   pattern/format/uniqueItems added)         |                     |                     |            |
| constraint loosened (the reverse)           | yes                 | no                  | MINOR      |
| pattern or format changed (undecidable)     | no                  | no                  | MINOR      |
| additionalProperties true → false           | no                  | yes                 | MINOR      |
| additionalProperties false → true           | yes                 | no                  | MINOR      |
| data rule (dlq) added / removed / changed   | no / yes / no       | yes / no / no       | MINOR      |
| x-contract.topic changed                    | no                  | no                  | MINOR      |
| any other keyword (anyOf, oneOf, allOf, not,| as proven (3)       | as proven (3)       | MINOR      |
|   if/then/else, patternProperties,          |                     |                     |            |
|   prefixItems, dependentRequired, contains, |                     |                     |            |
|   unevaluated*, $ref to a shared file, …)   |                     |                     |            |
| x-contract.compatibility (another mode)     | yes                 | yes                 | MAJOR (4)  |
| x-pii, x-pii-encryption, flag rules,        | yes                 | yes                 | MINOR      |
|   partitions, partition_key, dlq_topic,     |                     |                     |            |
|   dedupe                                    |                     |                     |            |
| description, title, examples, $comment,     | yes                 | yes                 | PATCH      |
|   default, deprecated, other x- keys, owner,|                     |                     |            |
|   status, tags, sla, warehouse, rule message|                     |                     |            |

"no" in a direction the contract's mode requires makes the change breaking: it needs a new
MAJOR (a new line, coexisting with the old one) or a new contract.

(1) Open: `additionalProperties` is not `false`. A closed object rejects fields it does not
declare, so adding even an optional field breaks consumers still on the old, closed version
(FORWARD), and removing a field breaks consumers on a new closed version reading old data
(BACKWARD). An open object ignores them. Charter assumes no producer sent a field before the
contract declared it; Confluent's registry does not assume that and refuses any property added
to an open content model, because old data might carry that name with another type.
(2) The least bump when the change is compatible under the mode; otherwise MAJOR.
(3) The table is the explanation; the verdict is a proof (`proof`): jsonschema-rs decides
whether the new schema covers the old one (BACKWARD) and the old covers the new (FORWARD),
under the assumption of (1). A direction it proves makes every value change compatible that
way; a direction it cannot prove is breaking, whatever the table says, and the change says why.
(4) Unless the new mode makes every check the old one made, or `--allow-mode-change` (`versions`).
"""

from __future__ import annotations

from typing import Any

from codegen.check import metadata
from codegen.check.constraints import CHANGED, LOOSENED, MODELLED, TIGHTENED, Schema, annotation, node_changes, types_of
from codegen.check.findings import Change, Keys
from codegen.check.proof import Source
from codegen.check.settle import settle

_MISSING = object()


def diff(old: Schema, new: Schema, old_at: Source | None = None, new_at: Source | None = None) -> list[Change]:
    """Every change from the `old` contract body to the `new` one, each direction proven or breaking."""
    changes = settle(_Differ(old, new).node(old, new, "$", ()), old, new, old_at, new_at)
    changes += metadata.diff(old, new)
    if not changes and old != new:
        text = "content changed outside any field (e.g. an unused `$defs` entry)"
        changes.append(Change("annotation-changed", "$", text, True, True, docs=True))
    return changes


class _Differ:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root, self.new_root = old_root, new_root
        self.seen: set[tuple[str, str, str]] = set()  # (path, old $ref, new $ref): no endless cycles

    def node(self, old: Any, new: Any, path: str, keys: Keys) -> list[Change]:
        o, old_ref, _ = _resolve(old, self.old_root, keys)
        n, new_ref, keys = _resolve(new, self.new_root, keys)
        if old_ref or new_ref:
            if (path, old_ref, new_ref) in self.seen:
                return []
            self.seen.add((path, old_ref, new_ref))
        changes = node_changes(o, n, path, keys)
        ot, nt = types_of(o), types_of(n)
        modelled = set(MODELLED)
        if "object" in ot and "object" in nt:
            changes += self.object(o, n, path, keys)
            modelled |= {"properties", "required", "additionalProperties"}
        if "array" in ot and "array" in nt and _schema(o.get("items")) and _schema(n.get("items")):
            changes += self.node(o.get("items", True), n.get("items", True), f"{path}[*]", (*keys, "items"))
            modelled.add("items")
        return changes + _unmodelled(o, n, path, keys, modelled)

    def object(self, old: Schema, new: Schema, path: str, keys: Keys) -> list[Change]:
        op, np_ = _dict(old.get("properties")), _dict(new.get("properties"))
        oreq, nreq = _required(old), _required(new)
        old_open, new_open = (
            old.get("additionalProperties", True) is not False,
            new.get("additionalProperties", True) is not False,
        )
        changes: list[Change] = []
        extra = old.get("additionalProperties"), new.get("additionalProperties")
        if extra[0] != extra[1] and any(isinstance(e, dict) for e in extra):
            text = "`additionalProperties` changed (the schema for undeclared fields)"
            changes.append(Change("keyword-changed", path, text, *CHANGED, keys=(*keys, "additionalProperties")))
        if oreq - set(op) != nreq - set(np_):
            text = "`required` changed for names outside `properties`"
            changes.append(Change("keyword-changed", path, text, *CHANGED, keys=(*keys, "required")))
        if old_open != new_open:
            effect = LOOSENED if new_open else TIGHTENED
            text = f"`additionalProperties` {str(old_open).lower()} → {str(new_open).lower()}"
            changes.append(
                Change("additional-properties-changed", path, text, *effect, keys=(*keys, "additionalProperties"))
            )
        removed = {n: _removed(path, n, n in oreq, new_open, keys) for n in op if n not in np_}
        added = {n: _added(path, n, n in nreq, old_open, keys) for n in np_ if n not in op}
        changes += _pair_renames(removed, added, op, np_)
        for name in (n for n in np_ if n in op):
            child, child_keys = f"{path}.{name}", (*keys, "properties", name)
            if name in oreq and name not in nreq:
                changes.append(Change("field-now-optional", child, "required → optional", *LOOSENED, keys=child_keys))
            elif name not in oreq and name in nreq:
                changes.append(Change("field-now-required", child, "optional → required", *TIGHTENED, keys=child_keys))
            changes += self.node(op[name], np_[name], child, child_keys)
        return changes


def _unmodelled(old: Schema, new: Schema, path: str, keys: Keys, modelled: set[str]) -> list[Change]:
    """Keywords compared only as the proof compares them: the diff names them, the proof judges."""
    out = []
    for kw in sorted(set(old) | set(new)):
        if kw in modelled or annotation(kw) or kw in ("$defs", "definitions"):
            continue
        a, b = old.get(kw, _MISSING), new.get(kw, _MISSING)
        if a != b:
            verb = "added" if a is _MISSING else "removed" if b is _MISSING else "changed"
            out.append(Change("keyword-changed", path, f"`{kw}` {verb}", *CHANGED, keys=(*keys, kw)))
    return out


def _schema(value: Any) -> bool:
    """Absent, `true`/`false` or one schema: what the diff walks into (not a list of schemas)."""
    return value is None or isinstance(value, bool | dict)


def _removed(path: str, name: str, required: bool, new_open: bool, keys: Keys) -> Change:
    text = f"field `{name}` removed (was {'required' if required else 'optional'})"
    if not new_open:
        text += "; the new version rejects unknown fields"
    return Change("field-removed", f"{path}.{name}", text, new_open, not required, keys=(*keys, "properties"))


def _added(path: str, name: str, required: bool, old_open: bool, keys: Keys) -> Change:
    text = f"{'required' if required else 'optional'} field `{name}` added"
    if not old_open:
        text += "; the old version rejects unknown fields"
    kind = "field-added-required" if required else "field-added-optional"
    return Change(kind, f"{path}.{name}", text, not required, old_open, keys=(*keys, "properties", name))


def _pair_renames(removed: dict[str, Change], added: dict[str, Change], op: Schema, np_: Schema) -> list[Change]:
    """A field removed and one of the same type added in the same change: probably a rename."""
    out: list[Change] = []
    free = dict(added)
    for old_name, gone in removed.items():
        old_types = types_of(_dict(op[old_name]))
        match = next((n for n in free if types_of(_dict(np_[n])) == old_types), None)
        if match is None:
            out.append(gone)
            continue
        new = free.pop(match)
        closed = "" if gone.backward and new.forward else " in an object that rejects unknown fields"
        text = f"renamed? `{old_name}` → `{match}` (`{old_name}` removed, `{match}` added{closed})"
        out.append(
            Change(
                "field-renamed",
                gone.path,
                text,
                gone.backward and new.backward,
                gone.forward and new.forward,
                keys=new.keys,
            )
        )
    return out + list(free.values())


def _resolve(schema: Any, root: Schema, keys: Keys) -> tuple[Schema, str, Keys]:
    """A node with a local `$ref` replaced by its `$defs` target (annotations at the site win)."""
    if not isinstance(schema, dict):
        return {}, "", keys  # `true`: any value
    ref = schema.get("$ref")
    for defs in ("$defs", "definitions"):
        if isinstance(ref, str) and ref.startswith(f"#/{defs}/"):
            name = ref.removeprefix(f"#/{defs}/")
            target = _dict(root.get(defs)).get(name)
            if isinstance(target, dict):
                return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}, ref, (defs, name)
    return schema, "", keys


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _required(schema: Schema) -> set[str]:
    value = schema.get("required")
    return {n for n in value if isinstance(n, str)} if isinstance(value, list) else set()
