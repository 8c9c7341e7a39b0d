"""The reference validator for the differential test: python `jsonschema`, made fair.

Its stock `pattern` uses Python `re`, where JSON Schema specifies ECMA-262 (`$` would match
before a trailing newline, `\\d` would match Arabic-Indic digits), and a few of its format
checkers are laxer or stricter than the RFCs (`email` only looks for an `@`; `date-time`
refuses leap seconds; `uuid` reads Arabic-Indic digits as hex; `uri` accepts a trailing newline), and its `multipleOf` divides binary doubles (138.79 is "not a multiple" of
0.01) where JSON Schema means the numbers' decimal values. Those pieces are replaced here by `regress` (an ECMA-262 engine) and by
small RFC grammars; `test_differential.py` proves the replacements against the official suite
before trusting them.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

import jsonschema
import regress
from jsonschema import FormatChecker, ValidationError
from jsonschema.protocols import Validator


@cache
def ecma(pattern: str) -> regress.Regex:
    return regress.Regex(pattern, flags="u")


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and ecma(pattern).find(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r} (ECMA-262)")


def _pattern_properties(
    validator: Validator, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            if ecma(pattern).find(name) is not None:
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(validator: Validator, extra: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    named, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
    extras = [n for n in instance if n not in named and not any(ecma(p).find(n) is not None for p in patterns)]
    if validator.is_type(extra, "object"):
        for name in extras:
            yield from validator.descend(instance[name], extra, path=name)
    elif extra is False and extras:
        yield ValidationError(f"additional properties are not allowed: {extras!r}")


def _multiple_of(validator: Validator, step: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "number") and (_exact(instance) / _exact(step)).denominator != 1:
        yield ValidationError(f"{instance!r} is not a multiple of {step!r} (decimal)")


def _exact(number: float) -> Fraction:
    """The decimal value a JSON writer meant: the shortest text that reads back as this double."""
    return Fraction(Decimal(repr(number))) if isinstance(number, float) else Fraction(number)


_DATE_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|([+-])(\d\d):(\d\d))", re.ASCII
)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf'{_ATOM}(?:\.{_ATOM})*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"', re.ASCII)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)


def date_time(value: object) -> bool:
    """RFC 3339 `date-time`; a leap second only at 23:59:60 UTC."""
    m = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        return not isinstance(value, str)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    sign, off_h, off_m = m.group(7), int(m.group(8) or 0), int(m.group(9) or 0)
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60 or off_h > 23 or off_m > 59:
        return False
    offset = (off_h * 60 + off_m) * (-1 if sign == "-" else 1)
    return second < 60 or (hour * 60 + minute - offset) % 1440 == 23 * 60 + 59


def time(value: object) -> bool:
    """RFC 3339 `full-time`: the time part of a `date-time` (offset required)."""
    return date_time(f"2000-01-01T{value}") if isinstance(value, str) else True


def email(value: object) -> bool:
    """RFC 5321 `Mailbox`: dot-atom or quoted local part @ host name or address literal."""
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    if not at or len(local) > 64 or not _LOCAL.fullmatch(local):  # RFC 5321 4.5.3.1.1: 64 octets
        return False
    if domain.startswith("[IPv6:") and domain.endswith("]"):
        return _address(domain[6:-1], ipaddress.IPv6Address)
    if domain.startswith("[") and domain.endswith("]"):
        return _address(domain[1:-1], ipaddress.IPv4Address)
    return len(domain) <= 253 and all(_LABEL.fullmatch(label) for label in domain.split("."))


def _address(text: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    if "%" in text:  # `ipaddress` reads a zone id (`::1%eth0`), which an address literal cannot carry
        return False
    try:
        kind(text)
    except ValueError:
        return False
    return True


def regex(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ecma(value)
    except regress.RegressError:
        return False
    return True


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)


def uuid(value: object) -> bool:
    """RFC 9562's hyphenated hex form (the stock check calls `UUID()`, which reads any Unicode digit)."""
    return not isinstance(value, str) or _UUID.fullmatch(value) is not None


def _no_line_break(check: Callable[[object], bool]) -> Callable[[object], bool]:
    """The stock URI checkers match with Python's `$`, which accepts a trailing newline; a URI
    never contains a raw line break."""
    return lambda value: not (isinstance(value, str) and "\n" in value) and check(value)


def format_checker() -> FormatChecker:
    checker = FormatChecker()
    own: dict[str, Callable[[object], bool]] = {
        "date-time": date_time,
        "time": time,
        "email": email,
        "regex": regex,
        "uuid": uuid,
    }
    own |= {
        name: _no_line_break(checker.checkers[name][0]) for name in ("uri", "uri-reference", "iri", "iri-reference")
    }
    for name, check in own.items():
        checker.checks(name)(check)
    return checker


def reference_for(schema: Any) -> Validator:
    """The reference validator for a schema, of the draft its `$schema` names."""
    base = jsonschema.validators.validator_for(schema)
    cls = jsonschema.validators.extend(
        base,
        {
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
            "multipleOf": _multiple_of,
        },
    )
    return cls(schema, format_checker=format_checker())  # type: ignore[no-any-return]
