"""The one-program first pass over a contract's CEL rules: faster, and never a different verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.contracts import Registry, load_registry
from collector.rules import Broken, Rule, RuleSpec, compile_rule, evaluate, exact, fast_pass
from collector.rules_fast import rewrite
from tests.conftest import payment

BENCH_SCHEMAS = Path(__file__).resolve().parent.parent / "bench" / "schemas"

# Each is a trap for one way the rewrite could go wrong; its comment says which.
EXPRS = [
    'data.code.matches("^[A-Z0-9]{8}$")',  # RE2's `$` is end of text: "AB12CD34\n" does not match
    'data.status != "paid" || data.amount > 0.0',
    r'!has(data.code) || data.code.matches(r"^\d+$")',  # raw string
    "data.owner.email.matches('^[^@]+@[^@]+$')",  # nested path, single quotes
    r'data.code.matches("\\d")',  # CEL reads the escape: the pattern is \d
    'data.code.matches("(?i)abc") || data.code.matches("x$")',  # two calls in one rule
    'data.code.matches("a(")',  # RE2 refuses the pattern: not rewritten, an error as before
    'data.code.matches("""^[A-Z]+$""") // a comment that says data.code.matches("x")',
    'data.code.matches("\\n")',  # a newline, by CEL's escape
    'data.code.matches("é") ? true : false',
    '  data . code . matches ( "^A" )  ',
    '[{"code": "1"}].all(data, data.code.matches("^[A-Z]+$"))',  # `data` rebound: always false
    '[{"data": {"code": "1"}}].all(m, m.data.code.matches("^[A-Z]+$"))',  # `m.data` is not the variable
    'data.size() <= 3 || data.code.matches("^A")',  # reads the whole map: all of it goes to CEL
    "!has(data.amount) || data.amount != 0",  # an absent field must stay absent, a present one present
    'schema.startsWith("com.") && data.code.matches("A")',
    'sent_at == null || data.code.matches("B")',
    "data.code",  # dyn: true only if code is the bool true; `true && 1` must not pass
    'data.tags.exists(t, t.matches("^a"))',  # `t` is not `data`
]

TEXTS = ["AB12CD34", "AB12CD34\n", "ab12cd34", "ABC", "abc", "x", "", "\n", "A\nB", "é", "ÀBCDEFGH", "123", "1",
         "a@b", "a@@b", "Bx"]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(TEXTS),
    st.text(max_size=10),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
    st.lists(st.sampled_from(TEXTS), max_size=3),
    st.sampled_from([2**64, -(2**63) - 1, [2**70], {"k": 2**65}]),  # beyond what CEL's int and uint hold
    st.just("A\ud800"),  # a lone surrogate: CEL's conversion raises, and must still raise
    st.fixed_dictionaries({}, optional={"email": st.sampled_from([*TEXTS, 1, None])}),
)
DATA = st.fixed_dictionaries(
    {},
    optional={k: VALUES for k in ("code", "status", "amount", "owner", "tags", "e1", "e2", "e3")}
    | {"status": st.one_of(st.sampled_from(["paid", "failed"]), VALUES), "amount": st.one_of(st.floats(-1, 1), VALUES)},
)
RULES = {expr: compile_rule(RuleSpec(f"r{i}", expr), {}) for i, expr in enumerate(EXPRS)}


def outcome(fn: Any, rules: tuple[Rule, ...], data: Any, schema: str, sent_at: str | None) -> Any:
    try:
        broken: list[Broken] = fn(rules, data, schema, sent_at)
    except Exception as exc:  # the exact path raises on what CEL cannot take: the fast one must too
        return ("raised", type(exc), str(exc))
    return [(b.rule.name, b.reason) for b in broken]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exprs=st.lists(st.sampled_from(EXPRS), min_size=1, max_size=3, unique=True),
    data=DATA,
    schema=st.sampled_from(["com.acme/x/1", "org.x/y/1"]),
    sent_at=st.sampled_from([None, "2026-11-21T10:00:00Z"]),
)
def test_evaluate_gives_exactly_the_per_rule_verdicts_and_reasons(
    exprs: list[str], data: dict[str, Any], schema: str, sent_at: str | None
) -> None:
    rules = tuple(RULES[e] for e in exprs)
    assert outcome(evaluate, rules, data, schema, sent_at) == outcome(exact, rules, data, schema, sent_at)
    fast = fast_pass(rules)
    if fast is not None and fast.holds(data, schema, sent_at):
        assert exact(rules, data, schema, sent_at) == []


@pytest.mark.parametrize(
    ("data", "passes"),
    [
        pytest.param({"code": "AB12CD34", "status": "paid", "amount": 1.0}, True, id="good"),
        pytest.param({"code": "AB12CD34\n", "status": "paid", "amount": 1.0}, False, id="trailing-newline"),
        pytest.param({"code": "AB12CD34", "status": "paid", "amount": 0.0}, False, id="cross-field"),
        pytest.param({"code": "ab12cd34", "status": "failed", "amount": 0.0}, False, id="lower-case"),
    ],
)
def test_the_two_seed_rules_run_as_one_program_with_the_same_verdict(data: dict[str, Any], passes: bool) -> None:
    rules = tuple(RULES[e] for e in EXPRS[:2])
    fast = fast_pass(rules)
    assert fast is not None and [m.path for _, m in fast.matches] == [("code",)]
    assert fast.holds(data, "s", None) is passes
    assert (evaluate(rules, data, "s", None) == []) is passes


def test_the_benchmark_payment_rules_take_the_one_program_pass(registry: Registry) -> None:
    contract = load_registry(BENCH_SCHEMAS).get("bench.shop/payment_protected/1.0.0")
    fast = fast_pass(contract.rules)
    assert fast is not None and [m.path for _, m in fast.matches] == [("confirmation_code",)]
    good = {"confirmation_code": "AB12CD34", "status": "paid", "amount": 12.5, "order_id": 1, "ts": "x"}
    assert fast.holds(good, contract.ref, None) and evaluate(contract.rules, good, contract.ref, None) == []
    bad = {**good, "confirmation_code": "0"}
    assert not fast.holds(bad, contract.ref, None)
    assert [b.rule.name for b in evaluate(contract.rules, bad, contract.ref, None)] == ["confirmation_code_format"]
    seed = registry.get("com.acme.shop/payment/1")
    seed_fast = fast_pass(seed.rules)
    assert seed_fast is not None and seed_fast.holds(payment(), seed.ref, None)


@pytest.mark.parametrize(
    ("expr", "pattern"),
    [
        pytest.param(r'data.c.matches("\\d")', r"\d", id="escaped-backslash"),
        pytest.param(r'data.c.matches(r"\d")', r"\d", id="raw"),
        pytest.param(r"data.c.matches(R'\d\'')", None, id="raw-has-no-escapes"),  # r'\d\'' ends at \' : not CEL
        pytest.param(r"data.c.matches('a\'b')", "a'b", id="single-quotes-escaped-quote"),
        pytest.param('data.c.matches("""x"y""")', 'x"y', id="triple-quotes"),
        pytest.param(r'data.c.matches("\u00e9")', "é", id="unicode-escape"),
        pytest.param('data.c.matches("a(")', None, id="re2-refuses"),
        pytest.param(r'data.c.matches("\\Z")', None, id="re2-refuses-escape"),
        pytest.param('data.c.matches("a" + "b")', None, id="not-one-literal"),
        pytest.param('data.matches("a")', None, id="receiver-is-data-itself"),
        pytest.param('data.c.matches("a").x', None, id="result-used-as-a-map"),
        pytest.param('"data.c.matches(\\"a\\")" == data.c', None, id="inside-a-string"),
        pytest.param('[data].all(x, x.c.matches("a"))', None, id="data-used-whole"),
        pytest.param('cel.bind(data, {"c": "z"}, data.c.matches("a"))', None, id="bind-rebinds"),
        pytest.param('data.`c`.matches("a")', None, id="backquoted-field"),
        pytest.param('[{"data": {"c": "1"}}].all(m, m.data.c.matches("a"))', None, id="a-field-named-data"),
        pytest.param(r'data.c.matches(r"\") || data.c.matches("b")', "b", id="raw-ends-at-its-first-quote"),
        pytest.param('charter_re_0 == data.c.matches("a")', None, id="uses-the-prefix"),
    ],
)
def test_only_a_literal_matches_on_a_data_path_is_rewritten_with_the_value_cel_reads(
    expr: str, pattern: str | None
) -> None:
    found = rewrite(expr).matches
    assert [m.regex.pattern for m in found] == ([] if pattern is None else [pattern])


def test_a_rule_that_is_not_bool_keeps_the_exact_path_and_its_reason() -> None:
    rules = (RULES[EXPRS[0]], compile_rule(RuleSpec("text", '"x"'), {}))
    assert fast_pass(rules) is None  # `(...) && ("x")` does not type-check
    broken = evaluate(rules, {"code": "AB12CD34"}, "s", None)
    assert [(b.rule.name, b.reason) for b in broken] == [
        ("text", "rule text failed (the rule returned a STRING, not a bool)")
    ]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(2**64, id="beyond-uint64"),
        pytest.param(-(2**63) - 1, id="below-int64"),
        pytest.param({"deep": [2**70]}, id="nested"),
    ],
)
def test_an_integer_cel_cannot_hold_anywhere_fails_a_regex_only_rule_as_before(extra: Any) -> None:
    rules = (RULES[EXPRS[0]],)
    data = {"code": "AB12CD34", "order_id": extra}
    fast = fast_pass(rules)
    assert fast is not None and fast.holds({"code": "AB12CD34", "order_id": 1}, "s", None)
    assert not fast.holds(data, "s", None)
    [broken] = evaluate(rules, data, "s", None)
    assert "evaluation error" in broken.reason and "out of range" in broken.reason


def test_rules_reading_schema_and_sent_at_still_pass_in_one_program() -> None:
    rules = (
        RULES['schema.startsWith("com.") && data.code.matches("A")'],
        RULES['sent_at == null || data.code.matches("B")'],
    )
    fast = fast_pass(rules)
    assert fast is not None and fast.holds({"code": "AB"}, "com.x/y/1", "2026-11-21T10:00:00Z")
    assert not fast.holds({"code": "A"}, "com.x/y/1", "2026-11-21T10:00:00Z")


def test_true_and_a_dyn_one_is_an_error_not_a_pass() -> None:
    rules = (RULES[EXPRS[0]], RULES["data.code"])
    fast = fast_pass(rules)
    assert fast is not None and not fast.holds({"code": 1}, "s", None)
    assert not fast.holds({"code": "AB12CD34"}, "s", None)  # a string is not a bool either


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=12), pattern=st.sampled_from(["^[A-Z0-9]{8}$", "", "a|b", "(x)(y)?", "^$", r"\bé", "."]))
def test_the_rewritten_match_agrees_with_google_re2_search(text: str, pattern: str) -> None:
    match = rewrite(f"data.c.matches({pattern!r})").matches[0]
    assert match.search({"c": text}) is (re2.compile(pattern).search(text) is not None)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="absent"),
        pytest.param({"c": None}, id="null"),
        pytest.param({"c": 12345678}, id="int"),
        pytest.param({"c": ["AB12CD34"]}, id="list"),
        pytest.param({"c": "\ud800"}, id="lone-surrogate"),
    ],
)
def test_a_receiver_that_is_not_a_text_leaves_the_verdict_to_cel(data: dict[str, Any]) -> None:
    assert rewrite('data.c.matches("^[A-Z0-9]{8}$")').matches[0].search(data) is None
