"""A first pass over a contract's rules in plain Python, for the part of CEL rules mostly use.

cel-expr-python costs ~2 µs to build an Activation, ~2 µs per eval and ~2 µs to read the value,
whatever the rule: more than the rules themselves. Rules written with comparisons, `&&`, `||`,
`!`, field selection, `has()`, `size()` and literals are compiled here into Python closures (the
nodes of `collector/rules_py_nodes.py`). A closure answers True only when CEL would evaluate the
expression to exactly `true`; anything it is not certain of (an absent field, values of two types,
an integer CEL cannot hold) is "unknown", and the caller runs CEL as before. So this pass can make
a valid event cheaper and can never pass an event CEL would not: `tests/test_rules_py.py` holds it
to CEL itself.

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

from collector import rules_py_nodes as nodes
from collector.rules_py_nodes import Node

_LITERALS = cel.NewEnv(variables={})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
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
        others = [values[name] for name in _OTHERS if name in values]  # bound only when a rule reads them
        if others and not _convertible(others):
            return False
        return node(values) is True

    return holds


def _convertible(value: Any) -> bool:
    """Whether CEL takes `data` as it is: an integer beyond int64, or a string (or key) UTF-8 cannot
    hold (a lone surrogate), anywhere in it makes reading `data` an error."""
    texts: list[str] = []
    if type(value) is dict:
        texts += value  # keys: decoded JSON has only strings, and a join below refuses anything else
        value = value.values()
    for item in value:
        kind = type(item)
        if kind is str:
            texts.append(item)
        elif kind is int:
            if not _INT64_MIN <= item <= _INT64_MAX:
                return False
        elif kind is dict or kind is list:
            if not _convertible(item):
                return False
        elif kind is not float and kind is not bool and item is not None:
            return False
    # every string at once: a lone surrogate cannot pair with its neighbour's in a join, as Python
    # keeps surrogates as single code points
    try:
        return _text("".join(texts))
    except TypeError:  # a key that is not a string
        return False


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
            node = nodes.logical(node, self.conjunction(), wins=True)
        return node

    def conjunction(self) -> Node:
        node = self.relation()
        while self.take("&&"):
            node = nodes.logical(node, self.relation(), wins=False)
        return node

    def relation(self) -> Node:
        node = self.unary()
        op = self.peek()[1]
        if self.peek()[0] == "op" and op in nodes.RELATIONS:
            self.at += 1
            node = nodes.relation(nodes.RELATIONS[op], node, self.unary())
            if self.peek()[0] == "op" and self.peek()[1] in nodes.RELATIONS:
                raise _Outside("chained relations")
        return node

    def unary(self) -> Node:
        if self.take("!"):
            return nodes.negation(self.unary())
        if self.peek() == ("op", "-"):
            self.at += 1
            kind, text = self.peek()
            if kind != "number":
                raise _Outside("minus on a non-literal")
            self.at += 1
            return nodes.constant(_literal("-" + text))
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
                node = nodes.size(node)
            else:
                node = nodes.select(node, name)
        return node

    def primary(self) -> Node:
        kind, text = self.peek()
        self.at += 1
        if kind in ("number", "string"):
            return nodes.constant(_literal(text))
        if kind == "op" and text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if kind != "ident":
            raise _Outside(f"token {text!r}")
        if text in ("true", "false", "null"):
            return nodes.constant({"true": True, "false": False, "null": None}[text])
        if text in ("has", "size") and self.take("("):
            return self.call(text)
        if _VARIABLES.fullmatch(text):
            return nodes.variable(text)
        raise _Outside(f"identifier {text!r}")

    def call(self, name: str) -> Node:
        if name == "size":
            node = nodes.size(self.expression())
            self.expect(")")
            return node
        start = self.at  # has(x.f): the argument must be a selection
        target = self.member()
        receiver = nodes.receiver_of(target)
        if receiver is None or self.at - start < 3 or self.tokens[self.at - 2] != ("op", "."):
            raise _Outside("has() of a non-selection")
        self.expect(")")
        return nodes.has(receiver, self.tokens[self.at - 2][1])


def _literal(text: str) -> Any:
    """A literal's value as CEL computes it (escapes, doubles): CEL evaluates it once, here."""
    try:
        value = _LITERALS.compile(text).eval(_LITERALS.Activation({})).value()
    except RuntimeError as exc:
        raise _Outside(f"literal {text!r}") from exc
    if type(value) not in (int, float, str, bool) or (type(value) is str and not _text(value)):
        raise _Outside(f"literal {text!r} of another type, or a string CEL would not hold as it is")
    return value
