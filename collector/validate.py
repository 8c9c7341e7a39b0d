"""Validate an event's `data` against its contract and explain every failure in JSON terms.

The fast path is one `is_valid` call into the compiled validator. Only a rejected event pays
for the explanation: each failure carries the instance path (`$.items[2].price`), the keyword,
the schema path and a message built from the error's structured kind — never from the
validator's own wording, and never echoing the rejected value (it may be a protected field).
A hostile event cannot produce a megabyte of reasons: failures are capped at `MAX_FAILURES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import jsonschema_rs
import msgspec

from collector.schema import Compiled

MAX_FAILURES = 20
_exact_decoder = msgspec.json.Decoder(float_hook=Decimal)
_COUNT_LIMIT = 1000  # stop counting the failures beyond the cap here
_NAMES_SHOWN = 5
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Failure(msgspec.Struct, frozen=True, omit_defaults=True):
    """One reason an event broke its contract, at a JSON path inside `data`."""

    path: str
    keyword: str
    message: str
    schema_path: str = ""


def validate(compiled: Compiled, data: Any) -> list[Failure]:
    """Return the reasons `data` breaks the schema; an empty list means valid."""
    validator = compiled.validator
    if compiled.fast.is_valid(data) or (compiled.fast is not validator and validator.is_valid(data)):
        return []
    failures: list[Failure] = []
    more = 0
    for error in validator.iter_errors(data):
        for failure in failures_of(error):
            if len(failures) < MAX_FAILURES:
                failures.append(failure)
            else:
                more += 1
        if more >= _COUNT_LIMIT:
            break
    if more:
        count = f"{more}+" if more >= _COUNT_LIMIT else str(more)
        failures.append(Failure("$", "limit", f"and {count} more failures (only the first {MAX_FAILURES} are listed)"))
    return failures


def failures_of(error: jsonschema_rs.ValidationError) -> list[Failure]:
    """One failure per error; a missing or unexpected property is reported at the property's own path."""
    kind: Any = error.kind
    at, where = error.instance_path, _pointer(error.schema_path)
    if kind.name == "required":
        name = kind.property
        return [Failure(json_path([*at, name]), _keyword(error), f"required property {_show(name)} is missing", where)]
    if kind.name in ("additionalProperties", "unevaluatedProperties"):
        unevaluated = " (unevaluated)" if kind.name == "unevaluatedProperties" else ""
        return [Failure(json_path([*at, name]), kind.name, f"property not allowed{unevaluated}", where)
                for name in kind.unexpected]  # fmt: skip
    return [failure_of(error)]


def failure_of(error: jsonschema_rs.ValidationError) -> Failure:
    keyword = _keyword(error)
    explain = _MESSAGES.get(error.kind.name, _generic)
    return Failure(json_path(error.instance_path), keyword, explain(error), _pointer(error.schema_path))


def json_path(parts: list[str | int]) -> str:
    """`$.items[2].price`; a name that is not an identifier is quoted: `$["first name"]`."""
    out = ["$"]
    for p in parts:
        if isinstance(p, int):
            out.append(f"[{p}]")
        elif _IDENTIFIER.match(p):
            out.append(f".{p}")
        else:
            out.append(f"[{msgspec.json.encode(p).decode()}]")
    return "".join(out)


def lossy(number: str) -> bool:
    """Whether a JSON number's text may not be what its nearest double is (an exponent, or more
    than 16 characters): such numbers are judged as the decimal sent, which is what JSON Schema
    says (`1e23` is a multiple of 10; its nearest double, 99999999999999991611392, is not)."""
    return len(number) > 16 or "e" in number or "E" in number


def exact(raw: bytes) -> Any:
    """`raw` decoded with every fraction or exponent as a decimal, for validation."""
    return _exact_decoder.decode(raw)


def json_type(value: Any) -> str:
    """The JSON Schema type name of a decoded value (`integer`, never `int`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, Decimal):
        return "integer" if value.is_finite() and value == value.to_integral_value() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _keyword(error: jsonschema_rs.ValidationError) -> str:
    """The keyword as the schema spells it (`minContains`, `dependentRequired`), from the schema path."""
    for part in reversed(error.schema_path):
        if isinstance(part, str):
            return part
    return error.kind.name


def _pointer(parts: list[str | int]) -> str:
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _show(value: Any, limit: int = 120) -> str:
    """A schema value (never an instance value) for a message, cut short."""
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def _type(e: jsonschema_rs.ValidationError) -> str:
    kind: Any = e.kind
    return f"expected {' or '.join(kind.types)}, got {json_type(e.instance)}"


def _alternatives(e: jsonschema_rs.ValidationError, how: str) -> str:
    kind: Any = e.kind
    reasons = [f"#{i + 1}: {failure_of(errs[0]).message}" for i, errs in enumerate(kind.context[:3]) if errs]
    return how + (f" ({'; '.join(reasons)})" if reasons else "")


def _generic(e: jsonschema_rs.ValidationError) -> str:
    return f"does not satisfy `{_keyword(e)}`"


def _limit(template: str) -> Callable[[jsonschema_rs.ValidationError], str]:
    def explain(e: jsonschema_rs.ValidationError) -> str:
        kind: Any = e.kind
        return template.format(limit=_show(kind.limit))

    return explain


_MESSAGES: dict[str, Callable[[jsonschema_rs.ValidationError], str]] = {
    "type": _type,
    "required": lambda e: f"required property {_show(e.kind.property)} is missing",  # type: ignore[attr-defined]
    "unevaluatedItems": lambda e: f"items not allowed (unevaluated) at {e.kind.unexpected[:_NAMES_SHOWN]}",  # type: ignore[attr-defined]
    "additionalItems": _limit("expected at most {limit} items"),
    "enum": lambda e: f"must be one of {_show(e.kind.options)}",  # type: ignore[attr-defined]
    "const": lambda e: f"must be {_show(e.kind.expected_value)}",  # type: ignore[attr-defined]
    "minimum": _limit("must be >= {limit}"),
    "maximum": _limit("must be <= {limit}"),
    "exclusiveMinimum": _limit("must be > {limit}"),
    "exclusiveMaximum": _limit("must be < {limit}"),
    "multipleOf": lambda e: f"must be a multiple of {_show(e.kind.multiple_of)}",  # type: ignore[attr-defined]
    "minLength": _limit("must be at least {limit} characters long"),
    "maxLength": _limit("must be at most {limit} characters long"),
    "minItems": _limit("must have at least {limit} items"),
    "maxItems": _limit("must have at most {limit} items"),
    "minProperties": _limit("must have at least {limit} properties"),
    "maxProperties": _limit("must have at most {limit} properties"),
    "uniqueItems": lambda e: "items must be unique",
    "contains": lambda e: f"must contain the required number of items matching `{_keyword(e)}`",
    "pattern": lambda e: f"must match the pattern {_show(e.kind.pattern)}",  # type: ignore[attr-defined]
    "format": lambda e: f"must be a valid {e.kind.format}",  # type: ignore[attr-defined]
    "not": lambda e: "must not match the schema in `not`",
    "falseSchema": lambda e: (
        "no property is allowed here but those the schema names"
        if _keyword(e) == "additionalProperties"
        else "no value is allowed here (the schema is `false`)"
    ),
    "anyOf": lambda e: _alternatives(e, "must match at least one schema in `anyOf`"),
    "oneOf": lambda e: (
        "must match exactly one schema in `oneOf`, matches more than one"
        if isinstance(e.kind, jsonschema_rs.ValidationErrorKind.OneOfMultipleValid)
        else _alternatives(e, "must match exactly one schema in `oneOf`, matches none")
    ),
    "propertyNames": lambda e: f"property name is invalid: {failure_of(e.kind.error).message}",  # type: ignore[attr-defined]
    "backtrackLimitExceeded": lambda e: "the pattern is too expensive to evaluate on this value",
    "regexEngineFailure": lambda e: "the pattern could not be evaluated on this value",
}
