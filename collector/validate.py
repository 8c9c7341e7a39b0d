"""Validate an event's `data` against its contract: msgspec types first, then extra checks.

msgspec stops at the first type or constraint error; its message is turned into a
`Failure` with the JSON path, the JSON Schema keyword and a readable message. The extra
checks (formats msgspec lacks, `uniqueItems`) report every failure they find.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from collector.checks import Failure
from collector.contracts import Contract
from collector.schema import FORMAT_PATTERNS

_FORMAT_BY_REGEX = {repr(regex): fmt for fmt, regex in FORMAT_PATTERNS.items()}
_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.S)
_FIELD = re.compile(r"field `(?P<field>[^`]+)`")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), kw)
    for p, kw in (
        (r"^Object missing required field", "required"),
        (r"^Object contains unknown field", "additionalProperties"),
        (r"^Expected `(str|array)` of length >=", "{min}"),
        (r"^Expected `(str|array)` of length <=", "{max}"),
        (r"^Expected `\w+` >= ", "minimum"),
        (r"^Expected `\w+` <= ", "maximum"),
        (r"^Expected `\w+` > ", "exclusiveMinimum"),
        (r"^Expected `\w+` < ", "exclusiveMaximum"),
        (r"multiple of", "multipleOf"),
        (r"matching regex", "pattern"),
        (r"^Invalid enum value", "enum"),
        (r"^Invalid (UUID|RFC3339)|with a timezone component", "format"),
        (r"^Expected .*, got ", "type"),
    )
)


def validate(contract: Contract, data: Any) -> list[Failure]:
    """Return the reasons `data` breaks `contract`; an empty list means valid."""
    try:
        msgspec.convert(data, contract.type)
    except msgspec.ValidationError as exc:
        first = failure_from(str(exc), contract.schema)
        return _explain(contract, data) or [first]
    if contract.check is None:
        return []
    failures: list[Failure] = []
    contract.check(data, "$", failures)
    return failures


def _explain(contract: Contract, data: Any) -> list[Failure]:
    """Slow path for a rejected event: check each top-level field on its own to report them all."""
    fields = contract.fields
    if fields is None or not isinstance(data, dict):
        return []
    failures = [Failure(f"$.{name}", "required", f"Object missing required field `{name}`")
                for name in fields.required if name not in data]  # fmt: skip
    for name, value in data.items():
        t = fields.types.get(name)
        if t is None:
            if fields.closed:
                failures.append(Failure(f"$.{name}", "additionalProperties", f"Object contains unknown field `{name}`"))
            continue
        try:
            msgspec.convert(value, t)
        except msgspec.ValidationError as exc:
            failures.append(failure_from(_rebase(str(exc), name), contract.schema))
    if contract.check is not None:
        contract.check(data, "$", failures)
    return failures


def _rebase(error: str, name: str) -> str:
    """A field checked on its own reports paths from `$`; put them under `$.<name>`."""
    if " - at `$" in error:
        return error.replace(" - at `$", f" - at `$.{name}", 1)
    return f"{error} - at `$.{name}`"


def failure_from(error: str, schema: dict[str, Any]) -> Failure:
    """Turn a msgspec validation message into a Failure with path and keyword."""
    m = _AT.match(error)
    assert m is not None  # the pattern matches any string
    message, path = m["message"], m["path"] or "$"
    keyword = next((kw for rx, kw in _RULES if rx.search(message)), "type")
    if keyword in ("required", "additionalProperties"):
        field = _FIELD.search(message)
        if field:
            path = f"{path}.{field['field']}"
    elif keyword in ("{min}", "{max}"):
        kind = "Length" if message.startswith("Expected `str`") else "Items"
        keyword = ("min" if keyword == "{min}" else "max") + kind
    elif keyword == "enum" and "const" in _node_at(schema, path):
        keyword = "const"
    elif keyword == "pattern":
        fmt = _FORMAT_BY_REGEX.get(message.partition("matching regex ")[2])
        if fmt is not None:
            keyword, message = "format", f"Expected `str` in format {fmt!r}"
    return Failure(path, keyword, message)


def _node_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """Find the schema node that governs a data path like `$.items[2].sku`."""
    node: Any = schema
    for step in re.findall(r"\.([^.\[]+)|\[\d+\]", path):
        node = _deref(schema, node)
        node = node.get("properties", {}).get(step, {}) if step else node.get("items", {})
    node = _deref(schema, node)
    return node if isinstance(node, dict) else {}


def _deref(root: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        node = root.get("$defs", {}).get(node["$ref"].removeprefix("#/$defs/"), {})
    return node
