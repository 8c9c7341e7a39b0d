"""A cheaper first pass over a contract's CEL rules, with the same verdicts.

cel-cpp compiles the regex of `matches()` on every call (~13 µs of a ~16 µs rule). So each
`data.a.b.matches("<literal>")` is cut out of the rule's text and replaced by a bool variable
that RE2 (the engine cel-cpp uses; `matches` is RE2's partial match, i.e. `search`) computes in
Python with the regex compiled once; all the rules of a contract then run as one conjunction, one
Activation and one eval per event. CEL's `&&` is true only when both sides are exactly `true`,
so a true conjunction means every rule holds. Anything else (a receiver that is absent or not a
string, a false or failing conjunction) says nothing, and the caller runs the exact per-rule
evaluation, which also writes the reasons.

A rewrite is made only where it is certainly the same expression: the receiver is a chain of
fields from the `data` variable, the argument is one string literal whose value CEL itself
computes, CEL and RE2 both accept the pattern, and the rule never uses `data` other than as
`data.field`, so no macro (`list.all(data, ...)`) rebinds it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import re2
from cel_expr_python import cel

from collector import rules_py

_T = cel.Type
VARIABLES = {"data": _T.Map(_T.STRING, _T.DYN), "schema": _T.STRING, "sent_at": _T.DYN}
_PREFIX = "charter_re_"  # the bool variables' names; a rule that uses the prefix itself is left alone
_LITERAL_ENV = cel.NewEnv(variables={})
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a pattern RE2 refuses is expected (no rewrite), not worth a line on stderr
_UNANCHORED = re2._Anchor.UNANCHORED
_OTHERS = frozenset({"schema", "sent_at"})  # the variables besides `data`

# CEL's lexer (CEL.g4): an optional bytes `b` then raw `r` prefix, then one of four quotes.
_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<comment>//[^\n]*)|(?P<string>[bB]?[rR]?(?:\"\"\"|'''|"|'))"""
    r"""|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>.)""",
    re.S,
)
_BODIES = {  # (raw, quote) -> the rest of the literal after its opening quote
    (False, '"'): re.compile(r'(?:\\.|[^\\"\n\r])*"'),
    (False, "'"): re.compile(r"(?:\\.|[^\\'\n\r])*'"),
    (False, '"""'): re.compile(r'(?:\\.|[^\\])*?"""', re.S),
    (False, "'''"): re.compile(r"(?:\\.|[^\\])*?'''", re.S),
    (True, '"'): re.compile(r'[^"\n\r]*"'),
    (True, "'"): re.compile(r"[^'\n\r]*'"),
    (True, '"""'): re.compile(r'.*?"""', re.S),
    (True, "'''"): re.compile(r".*?'''", re.S),
}


class _Unsafe(Exception):
    """The rule's text is not one this module reads with certainty (an unterminated literal, a
    backquoted field, `data` used whole or rebound by a macro)."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, ident or other (spaces and comments are dropped)
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    """One `data.<path>.matches(<literal>)`, done by RE2 in Python."""

    path: tuple[str, ...]
    regex: Any  # re2._Regexp (google-re2 has no stubs)

    def search(self, data: Any) -> bool | None:
        """The call's value, or None when CEL's could differ or be an error: fall back."""
        node = data
        for step in self.path:
            if not isinstance(node, dict) or step not in node:
                return None
            node = node[step]
        if type(node) is not str:
            return None
        try:
            text = node.encode()
            # RE2's own Match, under google-re2's `search`, which adds ~30k instructions of Python
            # around it per call (pinned version; tests compare the two)
            return bool(self.regex._regexp.Match(_UNANCHORED, text, 0, len(text))[0][0] != -1)
        except Exception:  # e.g. a lone surrogate, which UTF-8 cannot encode: let CEL say what it says
            return None


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A rule's text cut around its rewritten calls: pieces[0] var pieces[1] var ... pieces[-1]."""

    pieces: tuple[str, ...]
    matches: tuple[Match, ...]
    names: frozenset[str]  # which of `schema`, `sent_at` it may read


@dataclass(frozen=True, slots=True)
class Fast:
    """A contract's rules as one program, with the regexes that feed its bool variables."""

    env: Any
    program: Any
    matches: tuple[tuple[str, Match], ...]
    names: frozenset[str]  # bound only if read: CEL converts a variable when it is first read
    py: Callable[[dict[str, Any]], bool] | None = None  # the program in Python, when it is in rules_py's subset

    def holds(self, data: Any, schema: str, sent_at: str | None) -> bool:
        """True only if every rule evaluates to `true`; False says nothing (run the rules one by one)."""
        values: dict[str, Any] = {"data": data}
        if "schema" in self.names:
            values["schema"] = schema
        if "sent_at" in self.names:
            values["sent_at"] = sent_at
        for name, match in self.matches:
            found = match.search(data)
            if found is None:
                return False
            values[name] = found
        try:
            if self.py is not None and self.py(values):  # true for certain, without CEL's own costs
                return True
            # the program type-checks as bool, so the value is a bool or an error (a str): only a
            # CEL `true` is Python's True
            return self.program.eval(self.env.Activation(values)).value() is True
        except Exception:  # whatever this was, the exact path meets it again and answers as it always did
            return False


def rewrite(expr: str) -> Rewrite:
    """`expr` with each rewritable `data.<path>.matches(<literal>)` cut out (none: one piece)."""
    try:
        tokens = list(_tokens(expr))
        if _PREFIX in expr:
            raise _Unsafe("the rule uses the variables' prefix")
        found = _calls(tokens)
    except _Unsafe:
        return Rewrite((expr,), (), _OTHERS)
    pieces, at = [], 0
    for start, end, _ in found:
        pieces.append(expr[at:start])
        at = end
    pieces.append(expr[at:])
    names = _OTHERS & {t.text for t in tokens if t.kind == "ident"}
    return Rewrite(tuple(pieces), tuple(m for _, _, m in found), names)


def conjunction(rewrites: Sequence[Rewrite]) -> Fast | None:
    """All the rules as one program, or None where it would not pay or does not compile (a rule
    that is not statically bool)."""
    if len(rewrites) < 2 and not any(r.matches for r in rewrites):
        return None  # one rule without a regex: the same work as the rule itself
    named: list[tuple[str, Match]] = []
    parts = []
    for rw in rewrites:
        text = rw.pieces[0]
        for match, piece in zip(rw.matches, rw.pieces[1:], strict=True):
            named.append((f"{_PREFIX}{len(named)}", match))
            text += named[-1][0] + piece
        parts.append(f"({text}\n)")  # the newline ends a trailing `//` comment inside the rule
    env = _env(len(named))
    # CEL converts all of `data` when a rule first reads it, and a value it cannot take (an
    # integer beyond 64 bits, anywhere) makes that read an error; a rewritten rule no longer reads
    # `data`, so the program reads it once up front, failing where the rules would.
    try:
        program = env.compile(" && ".join(["data.size() >= 0", *parts]))
    except RuntimeError:
        return None
    names = frozenset().union(*(rw.names for rw in rewrites))
    # without the up-front read: the Python pass says nothing for a `data` CEL could not convert
    return Fast(env, program, tuple(named), names, rules_py.compile_true(" && ".join(parts)))


@functools.cache
def _env(count: int) -> Any:
    return cel.NewEnv(variables={**VARIABLES, **{f"{_PREFIX}{i}": _T.BOOL for i in range(count)}})


def _tokens(expr: str) -> Iterator[_Token]:
    at = 0
    while at < len(expr):
        m = _TOKEN.match(expr, at)
        assert m is not None and m.lastgroup is not None  # `other` takes any one character
        end = m.end()
        if m.lastgroup == "string":
            opening = m[0].lstrip("bBrR")
            raw = "r" in m[0][: -len(opening)].lower()
            body = _BODIES[(raw, opening)].match(expr, end)
            if body is None:
                raise _Unsafe("unterminated string literal")
            end = body.end()
        elif m[0] == "`":  # a backquoted field name, whose text this lexer does not follow
            raise _Unsafe("backquoted identifier")
        if m.lastgroup not in ("space", "comment"):
            yield _Token(m.lastgroup, expr[at:end], at, end)
        at = end


def _calls(tokens: list[_Token]) -> list[tuple[int, int, Match]]:
    """Each rewritable call as (start, end, Match); _Unsafe if `data` is used but as `data.<name>`."""
    calls = []
    for i, tok in enumerate(tokens):
        if tok.kind != "ident" or tok.text != "data" or _after_dot(tokens, i):
            continue
        if not _is(tokens, i + 1, "."):
            raise _Unsafe("`data` used whole, maybe rebound by a macro")
        call = _call_at(tokens, i)
        if call is not None:
            calls.append(call)
    return calls


def _call_at(tokens: list[_Token], i: int) -> tuple[int, int, Match] | None:
    """The `data.a.b.matches("...")` starting at tokens[i] (`data`), if it is one to rewrite."""
    steps = []
    j = i + 1
    while _is(tokens, j, ".") and j + 1 < len(tokens) and tokens[j + 1].kind == "ident":
        steps.append(tokens[j + 1].text)
        j += 2
    if len(steps) < 2 or steps[-1] != "matches" or not _is(tokens, j, "("):
        return None
    if not (j + 2 < len(tokens) and tokens[j + 1].kind == "string" and _is(tokens, j + 2, ")")):
        return None
    if j + 3 < len(tokens) and tokens[j + 3].text in (".", "[", "("):  # `....matches("x").y`: not a plain bool
        return None
    regex = _regex(tokens[j + 1].text)
    if regex is None:
        return None
    return tokens[i].start, tokens[j + 2].end, Match(tuple(steps[:-1]), regex)


def _regex(literal: str) -> Any:
    """RE2 of the literal's value as CEL reads it, or None if CEL or RE2 would not take it."""
    try:
        value = _LITERAL_ENV.compile(literal).eval(_LITERAL_ENV.Activation({}))
        probe = _LITERAL_ENV.compile(f'"".matches({literal})').eval(_LITERAL_ENV.Activation({}))
    except RuntimeError:
        return None
    if value.type() != _T.STRING or probe.type() != _T.BOOL:  # bytes, or a pattern cel-cpp refuses
        return None
    try:
        return re2.compile(value.value(), _RE2_OPTIONS)
    except re2.error:
        return None


def _after_dot(tokens: list[_Token], i: int) -> bool:
    """tokens[i] is a field name (`x.data`), not the variable."""
    return _is(tokens, i - 1, ".") or (_is(tokens, i - 1, "?") and _is(tokens, i - 2, "."))


def _is(tokens: list[_Token], i: int, text: str) -> bool:
    return 0 <= i < len(tokens) and tokens[i].kind == "other" and tokens[i].text == text
