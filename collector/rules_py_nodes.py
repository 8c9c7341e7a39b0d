"""The nodes `collector.rules_py` compiles a rule into: closures over the activation's variables
that return a value, or UNKNOWN where CEL's value could differ or be an error (see there)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any


class _Unknown:
    """Not a value this module is certain of: an error in CEL, or a case it leaves to CEL."""


UNKNOWN: Any = _Unknown()
Node = Callable[[dict[str, Any]], Any]
_EXACT = 2**53  # integers up to this size are doubles exactly: an int and a double order the same either way

RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERED = (int, float, str)  # CEL orders these within one type (bool and null are left to CEL)
_EQUATABLE = (int, float, str, bool, type(None))
_KIND = {int: "number", float: "number", str: "string", bool: "bool", type(None): "null"}  # for equality across types


def constant(value: Any) -> Node:
    return lambda values: value


def variable(name: str) -> Node:
    return lambda values: values.get(name, UNKNOWN)


def select(receiver: Node, field: str) -> Node:
    def select(values: dict[str, Any]) -> Any:
        node = receiver(values)
        return node.get(field, UNKNOWN) if type(node) is dict else UNKNOWN

    select.receiver = receiver  # type: ignore[attr-defined]  # for has()
    return select


def receiver_of(node: Node) -> Node | None:
    """What a selection node selects from (None: the node is not a selection)."""
    receiver: Node | None = getattr(node, "receiver", None)
    return receiver


def has(receiver: Node, field: str) -> Node:
    def has(values: dict[str, Any]) -> Any:
        node = receiver(values)
        return field in node if type(node) is dict else UNKNOWN

    return has


def size(of: Node) -> Node:
    def size(values: dict[str, Any]) -> Any:
        value = of(values)
        return len(value) if type(value) in (str, list, dict) else UNKNOWN  # str: code points, as CEL

    return size


def relation(compare: Callable[[Any, Any], bool], left: Node, right: Node) -> Node:
    ordering = compare not in (RELATIONS["=="], RELATIONS["!="])
    allowed = _ORDERED if ordering else _EQUATABLE

    def relation(values: dict[str, Any]) -> Any:
        a, b = left(values), right(values)
        if type(a) is type(b) and type(a) in allowed:
            return compare(a, b)
        kinds = {_KIND.get(type(a)), _KIND.get(type(b))}
        if kinds == {"number"}:  # an int and a double: CEL compares them by value, as doubles
            return compare(a, b) if exact(a) and exact(b) else UNKNOWN
        if not ordering and None not in kinds:
            return compare(0, 1)  # scalars of two kinds (a string and an int, a bool and 1, null): never equal
        return UNKNOWN

    return relation


def exact(n: int | float) -> bool:
    """A number whose order against the other kind Python and CEL find alike: a double, or an int a
    double holds exactly (CEL converts the int; Python compares exactly)."""
    return type(n) is float or -_EXACT <= n <= _EXACT


def negation(operand: Node) -> Node:
    def negation(values: dict[str, Any]) -> Any:
        value = operand(values)
        return not value if type(value) is bool else UNKNOWN

    return negation


def logical(left: Node, right: Node, wins: bool) -> Node:
    """`&&` (`wins` False) or `||` (`wins` True). CEL's logical operators are commutative: the
    winning value on either side decides, even over an error on the other; else both sides must be
    the other bool, and anything else (an error, a non-bool) is unknown."""
    loses = not wins

    def logical(values: dict[str, Any]) -> Any:
        a = left(values)
        if a is wins:
            return wins
        b = right(values)
        if b is wins:
            return wins
        return loses if a is loses and b is loses else UNKNOWN

    return logical
