"""Data-quality rules: CEL expressions over the event, compiled once per contract at load.

A rule sees `data` (the event's data), `schema` (the resolved reference) and `sent_at`
(RFC 3339 text or null), e.g. `data.confirmation_code.matches("^[A-Z0-9]{8}$")` or the
cross-field `data.status != "paid" || data.amount > 0.0`. CEL is the language Confluent's
data-contract rules use; Charter evaluates it with cel-expr-python (Google's cel-cpp).

A rule passes only when it evaluates to `true`: `false`, a runtime error (e.g. a missing
field not guarded with `has()`) or a non-boolean result is a failure, with the reason.

Each event first meets a contract's rules as one program with the literal `matches()` calls done
by RE2 in Python (`collector.rules_fast`: ~2.7x fewer instructions on the benchmark's rules); only
an event that program cannot pass is evaluated rule by rule, which is exact and writes the reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from cel_expr_python import cel

from collector import rules_fast
from collector.rules_fast import Fast, Rewrite

_T = cel.Type
_ENV = cel.NewEnv(variables=rules_fast.VARIABLES)
_STRING_LITERAL = re.compile(r"""(?:[rRbB]{0,2})("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_DATA_PATH = re.compile(r"\bdata((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


class RuleSpec(msgspec.Struct, forbid_unknown_fields=True):
    """One entry of `x-contract.rules`."""

    name: str
    expr: str
    message: str = ""
    on_failure: Literal["dlq", "flag"] = "dlq"


class RuleError(Exception):
    """A rule that cannot be compiled or names a field its contract lacks."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    expr: str
    message: str
    on_failure: Literal["dlq", "flag"]
    path: str  # the one field the rule reads, else `$`
    program: Any
    rewrite: Rewrite  # the text for the contract's one-program first pass (rules_fast)


@dataclass(frozen=True, slots=True)
class Broken:
    """A rule an event failed, and why."""

    rule: Rule
    reason: str


def compile_rule(spec: RuleSpec, schema: dict[str, Any]) -> Rule:
    try:
        program = _ENV.compile(spec.expr)
    except RuntimeError as exc:
        raise RuleError(f"rule {spec.name!r} does not compile: {_clean(str(exc))}") from None
    paths = sorted(set(_referenced_paths(spec.expr)))
    for path in paths:
        missing = _missing_step(schema, path)
        if missing is not None:
            raise RuleError(f"rule {spec.name!r} reads `data.{path}`, but the contract has no field {missing!r}")
    path = f"$.{paths[0]}" if len(paths) == 1 else "$"
    message = spec.message or f"rule {spec.name} failed"
    return Rule(spec.name, spec.expr, message, spec.on_failure, path, program, rules_fast.rewrite(spec.expr))


def evaluate(rules: tuple[Rule, ...], data: Any, schema: str, sent_at: str | None, quiet: bool = False) -> list[Broken]:
    """Every rule the event breaks (empty when all hold). A reason never echoes a value the rule
    returned; `quiet` (a contract with PII fields) also withholds CEL's error text, which can."""
    fast = fast_pass(rules)
    if fast is not None and fast.holds(data, schema, sent_at):
        return []
    return exact(rules, data, schema, sent_at, quiet)


def exact(rules: tuple[Rule, ...], data: Any, schema: str, sent_at: str | None, quiet: bool = False) -> list[Broken]:
    """`evaluate` rule by rule, each by its own program: what the one-program pass must agree with."""
    activation = _ENV.Activation({"data": data, "schema": schema, "sent_at": sent_at})
    broken: list[Broken] = []
    for rule in rules:
        value = rule.program.eval(activation)
        kind = value.type()
        if kind == _T.BOOL and value.value() is True:
            continue
        if kind == _T.ERROR:
            detail = "details withheld: the contract has PII fields" if quiet else _clean(str(value.value()))
            reason = f"{rule.message} (evaluation error: {detail})"
        elif kind == _T.BOOL:
            reason = rule.message
        else:
            reason = f"{rule.message} (the rule returned a {kind}, not a bool)"
        broken.append(Broken(rule, reason))
    return broken


class RuleSet(tuple[Rule, ...]):
    """A contract's rules (a tuple), with their one-program first pass built once, at load."""

    one_pass: Fast | None
    reads_sent_at: bool  # whether any rule names `sent_at`: else it need not be formatted per event

    def __new__(cls, rules: Iterable[Rule]) -> RuleSet:
        self = super().__new__(cls, rules)
        self.one_pass = rules_fast.conjunction([rule.rewrite for rule in self])
        self.reads_sent_at = any("sent_at" in rule.rewrite.names for rule in self)
        return self


def reads_sent_at(rules: tuple[Rule, ...]) -> bool:
    """Whether a rule may read `sent_at` (a rule that does not name it cannot observe its value)."""
    return rules.reads_sent_at if isinstance(rules, RuleSet) else True


def fast_pass(rules: tuple[Rule, ...]) -> Fast | None:
    """The rules' one-program first pass, or None: a contract's (a `RuleSet`) was built at load."""
    if isinstance(rules, RuleSet):
        return rules.one_pass
    return rules_fast.conjunction([rule.rewrite for rule in rules])


def _referenced_paths(expr: str) -> list[str]:
    """`data.a.b` chains outside string literals, as `a.b` (macro variables are not `data`)."""
    code = _STRING_LITERAL.sub('""', expr)
    paths = []
    for m in _DATA_PATH.finditer(code):
        steps = m[1][1:].split(".")
        if code[m.end() : m.end() + 1] == "(":  # `data.code.matches(...)`: the last step is a call
            steps = steps[:-1]
        if steps:
            paths.append(".".join(steps))
    return paths


def _missing_step(schema: dict[str, Any], path: str) -> str | None:
    """The first step of `path` the schema does not declare, or None if it may exist."""
    node: Any = schema
    for step in path.split("."):
        node = _deref(schema, node)
        props = node.get("properties") if isinstance(node, dict) else None
        if props is None:
            return None  # free-form object, array or scalar: CEL method or open map; not checkable
        if step not in props:
            return None if step in _CEL_MEMBERS else step  # `data.tags.size()` is a call, not a field
        node = props[step]
    return None


_CEL_MEMBERS = frozenset(
    {"size", "matches", "startsWith", "endsWith", "contains", "all", "exists", "exists_one", "map", "filter"}
)


def _deref(root: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        node = root.get("$defs", {}).get(node["$ref"].removeprefix("#/$defs/"), {})
    return node


def _clean(message: str) -> str:
    text = message.replace("INVALID_ARGUMENT: ", "").replace("ERROR: ", "").replace(" [INVALID_ARGUMENT]", "")
    return " ".join(text.split())
