"""The contract's rules (`x-contract.rules`, CEL), checked here when cel-expr-python is installed.

The collector evaluates each rule with cel-expr-python over `data`, `schema` (the contract's exact
reference) and `sent_at`; a `dlq` rule that does not hold rejects the event as `rule_violation`.
With the package's `rules` extra installed, this SDK evaluates the same `dlq` rules the same way
before sending, except those that read `sent_at` (the tracker stamps it when it sends, so only the
collector sees its value). Without the extra, or for those, the collector is the only judge: a
broken rule comes back in a 207, reported as `rejected`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

cel: Any
try:
    cel = importlib.import_module("cel_expr_python.cel")
except ImportError:  # the `rules` extra is not installed: the collector checks the rules
    cel = None

_STRING_LITERAL = re.compile(r"""(?:[rRbB]{0,2})("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_SENT_AT = re.compile(r"\bsent_at\b")
_env: Any = None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    message: str
    program: Any


def compile_rules(document: Any) -> tuple[Rule, ...]:
    """The `dlq` rules of a contract this SDK can check: none without cel-expr-python."""
    specs = document.get("x-contract", {}).get("rules", []) if isinstance(document, dict) else []
    if cel is None or not specs:
        return ()
    rules = []
    for spec in specs:
        expr = spec.get("expr", "")
        if spec.get("on_failure", "dlq") != "dlq" or _SENT_AT.search(_STRING_LITERAL.sub('""', expr)):
            continue  # a `flag` rule never rejects; `sent_at` is only known to the collector
        try:
            program = _environment().compile(expr)
        except RuntimeError:
            continue  # the collector compiled it; if this version cannot, the collector still checks it
        rules.append(Rule(spec["name"], spec.get("message") or f"rule {spec['name']} failed", program))
    return tuple(rules)


def broken(rules: tuple[Rule, ...], data: Any, reference: str) -> list[str]:
    """Why the event breaks its rules, as the collector would say it; empty when every rule holds."""
    if not rules:
        return []
    activation = _environment().Activation({"data": data, "schema": reference, "sent_at": None})
    reasons = []
    for rule in rules:
        value = rule.program.eval(activation)
        if value.type() == cel.Type.BOOL and value.value() is True:
            continue
        reasons.append(f"rule {rule.name}: {rule.message}")
    return reasons


def _environment() -> Any:
    global _env
    if _env is None:
        t = cel.Type
        _env = cel.NewEnv(variables={"data": t.Map(t.STRING, t.DYN), "schema": t.STRING, "sent_at": t.DYN})
    return _env
