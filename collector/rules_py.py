"""A first pass over a contract's rules in plain Python, for the part of CEL rules mostly use.

cel-expr-python costs ~2 µs to build an Activation, ~2 µs per eval and ~2 µs to read the value,
whatever the rule: more than the rules themselves. Rules written with comparisons, `&&`, `||`,
`!`, field selection, `has()`, `size()` and literals are compiled here into Python closures. A
closure answers True only when CEL would evaluate the expression to exactly `true`; anything it is
not certain of (an absent field, values of two types, an integer CEL cannot hold) is "unknown",
and the caller runs CEL as before. So this pass can make a valid event cheaper and can never pass
an event CEL would not: `tests/test_rules_py.py` holds it to CEL itself.

Semantics kept exactly: `a && b` is true only if both are `true`; `a || b` is true if either is
`true`, even when the other is an error (CEL's logical operators absorb errors); `==` and the
orderings are decided between two values of the same CEL type (int, double, string, bool, null)
and between an int and a double when the int is exactly a double (|n| ≤ 2^53; CEL converts it);
scalars of two other kinds are never equal (CEL's heterogeneous equality: `"1" == 1` and
`true == 1` are false); lists and maps are left to CEL;
literals are evaluated by CEL itself when the rule is compiled; a string CEL would not hold as it
is (a NUL, which cel-expr-python cuts at; a lone surrogate) makes the pass say nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cel_expr_python import cel

_LITERALS = cel.NewEnv(variables={})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EXACT = 2**53  # integers up to this size are doubles exactly: an int and a double order the same either way
_OTHERS = ("schema", "sent_at")
_TOKEN = re.compile(
    r"""(?P<space>[ \t\n\r\f]+)"""
    r"""|(?P<number>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+(?![\w.]))"""
    r"""|(?P<string>"(?:\\.|[^"\\\n\r])*"|'(?:\\.|[^'\\\n\r])*')"""
    r"""|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<op>\|\||&&|==|!=|<=|>=|[<>!().,-])"""
)
_VARIABLES = re.compile(r"data|schema|sent_at|charter_re_\d+")
_RESERVED = frozenset({"in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
                       "loop", "package", "namespace", "return", "var", "void", "while"})  # fmt: skip


class _Unknown:
    """Not a value this module is certain of: an error in CEL, or a case it leaves to CEL."""


UNKNOWN: Any = _Unknown()
Node = Callable[[dict[str, Any]], Any]


class _Outside(Exception):
    """The expression uses something outside the subset."""


def compile_true(expr: str) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate over the activation's variables that is True only where CEL's value of `expr` is
    `true`; None when `expr` is outside the subset."""
    try:
        tokens = _tokens(expr)
        parser = _Parser(tokens)
        node = parser.expression()
        if parser.at < len(tokens):
            raise _Outside("trailing tokens")
    except _Outside:
        return None

    def holds(values: dict[str, Any]) -> bool:
        data = values.get("data")
        if type(data) is not dict or not _convertible(data):
            return False
        if not _convertible([values.get(name) for name in _OTHERS]):  # `schema` and `sent_at` too
            return False
        return node(values) is True

    return holds


def _convertible(value: Any) -> bool:
    """Whether CEL takes `data` as it is: an integer beyond int64, or a string (or key) UTF-8 cannot
    hold (a lone surrogate), anywhere in it makes reading `data` an error."""
    if type(value) is dict:
        if not all(map(_text, value)):
            return False
        value = value.values()
    for item in value:
        kind = type(item)
        if kind is str:
            if not _text(item):
                return False
        elif kind is int:
            if not _INT64_MIN <= item <= _INT64_MAX:
                return False
        elif kind is dict or kind is list:
            if not _convertible(item):
                return False
        elif kind is not float and kind is not bool and item is not None:
            return False
    return True


def _text(s: Any) -> bool:
    """A string CEL holds as it is: cel-expr-python cuts a string at its first NUL, and cannot take
    one UTF-8 cannot encode (a lone surrogate)."""
    if type(s) is not str or "\x00" in s:
        return False
    if s.isascii():
        return True
    try:
        s.encode()
    except UnicodeEncodeError:
        return False
    return True


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = 0
    while at < len(expr):
        m = _TOKEN.match(expr, at)
        if m is None:
            raise _Outside(f"character {expr[at]!r}")
        at = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            out.append((kind, m.group()))
    return out


class _Parser:
    """CEL's precedence, for the subset: `||` < `&&` < relations < unary < selection and calls."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, text: str) -> bool:
        if self.peek()[1] == text and self.peek()[0] in ("op", "ident"):
            self.at += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.take(text):
            raise _Outside(f"expected {text!r}")

    def expression(self) -> Node:
        if self.peek()[1] == "?":
            raise _Outside("conditional")
        return self.disjunction()

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.take("||"):
            node = _logical(node, self.conjunction(), wins=True)
        return node

    def conjunction(self) -> Node:
        node = self.relation()
        while self.take("&&"):
            node = _logical(node, self.relation(), wins=False)
        return node

    def relation(self) -> Node:
        node = self.unary()
        op = self.peek()[1]
        if self.peek()[0] == "op" and op in _RELATIONS:
            self.at += 1
            node = _relation(_RELATIONS[op], node, self.unary())
            if self.peek()[0] == "op" and self.peek()[1] in _RELATIONS:
                raise _Outside("chained relations")
        return node

    def unary(self) -> Node:
        if self.take("!"):
            return _not(self.unary())
        if self.peek() == ("op", "-"):
            self.at += 1
            kind, text = self.peek()
            if kind != "number":
                raise _Outside("minus on a non-literal")
            self.at += 1
            return _constant(_literal("-" + text))
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while self.take("."):
            kind, name = self.peek()
            if kind != "ident" or name in _RESERVED:
                raise _Outside("selection of a non-identifier")
            self.at += 1
            if self.take("("):
                if name != "size":
                    raise _Outside(f"method {name}()")
                self.expect(")")
                node = _size(node)
            else:
                node = _select(node, name)
        return node

    def primary(self) -> Node:
        kind, text = self.peek()
        self.at += 1
        if kind in ("number", "string"):
            return _constant(_literal(text))
        if kind == "op" and text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if kind != "ident":
            raise _Outside(f"token {text!r}")
        if text in ("true", "false", "null"):
            return _constant({"true": True, "false": False, "null": None}[text])
        if text in ("has", "size") and self.take("("):
            return self.call(text)
        if _VARIABLES.fullmatch(text):
            return _variable(text)
        raise _Outside(f"identifier {text!r}")

    def call(self, name: str) -> Node:
        if name == "size":
            node = _size(self.expression())
            self.expect(")")
            return node
        start = self.at  # has(x.f): the argument must be a selection
        target = self.member()
        if self.at - start < 3 or self.tokens[self.at - 2] != ("op", "."):
            raise _Outside("has() of a non-selection")
        self.expect(")")
        field = self.tokens[self.at - 2][1]
        receiver = _receiver_of(target)
        return _has(receiver, field)


def _literal(text: str) -> Any:
    """A literal's value as CEL computes it (escapes, doubles): CEL evaluates it once, here."""
    try:
        value = _LITERALS.compile(text).eval(_LITERALS.Activation({})).value()
    except RuntimeError as exc:
        raise _Outside(f"literal {text!r}") from exc
    if type(value) not in (int, float, str, bool) or (type(value) is str and not _text(value)):
        raise _Outside(f"literal {text!r} of another type, or a string CEL would not hold as it is")
    return value


_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_ORDERED = (int, float, str)  # CEL orders these within one type (bool and null are left to CEL)
_EQUATABLE = (int, float, str, bool, type(None))
_KIND = {int: "number", float: "number", str: "string", bool: "bool", type(None): "null"}  # for equality across types


def _constant(value: Any) -> Node:
    return lambda values: value


def _variable(name: str) -> Node:
    return lambda values: values.get(name, UNKNOWN)


def _select(receiver: Node, field: str) -> Node:
    def select(values: dict[str, Any]) -> Any:
        node = receiver(values)
        return node.get(field, UNKNOWN) if type(node) is dict else UNKNOWN

    select.receiver = receiver  # type: ignore[attr-defined]  # for has()
    return select


def _receiver_of(node: Node) -> Node:
    receiver: Node | None = getattr(node, "receiver", None)
    if receiver is None:
        raise _Outside("has() of a non-selection")
    return receiver


def _has(receiver: Node, field: str) -> Node:
    def has(values: dict[str, Any]) -> Any:
        node = receiver(values)
        return field in node if type(node) is dict else UNKNOWN

    return has


def _size(of: Node) -> Node:
    def size(values: dict[str, Any]) -> Any:
        value = of(values)
        return len(value) if type(value) in (str, list, dict) else UNKNOWN  # str: code points, as CEL

    return size


def _relation(compare: Callable[[Any, Any], bool], left: Node, right: Node) -> Node:
    ordering = compare not in (_RELATIONS["=="], _RELATIONS["!="])
    allowed = _ORDERED if ordering else _EQUATABLE

    def relation(values: dict[str, Any]) -> Any:
        a, b = left(values), right(values)
        if type(a) is type(b) and type(a) in allowed:
            return compare(a, b)
        kinds = {_KIND.get(type(a)), _KIND.get(type(b))}
        if kinds == {"number"}:  # an int and a double: CEL compares them by value, as doubles
            return compare(a, b) if _exact(a) and _exact(b) else UNKNOWN
        if not ordering and None not in kinds:
            return compare(0, 1)  # scalars of two kinds (a string and an int, a bool and 1, null): never equal
        return UNKNOWN

    return relation


def _exact(n: int | float) -> bool:
    """A number whose order against the other kind Python and CEL find alike: a double, or an int a
    double holds exactly (CEL converts the int; Python compares exactly)."""
    return type(n) is float or -_EXACT <= n <= _EXACT


def _not(operand: Node) -> Node:
    def negation(values: dict[str, Any]) -> Any:
        value = operand(values)
        return not value if type(value) is bool else UNKNOWN

    return negation


def _logical(left: Node, right: Node, wins: bool) -> Node:
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
