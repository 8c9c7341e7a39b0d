"""The pure-Python first pass over CEL rules (`collector.rules_py`), held to CEL itself: whatever it
passes, CEL evaluates to exactly `true`, and it passes most of what CEL passes."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cel_expr_python import cel
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from collector import rules_fast, rules_py

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = [
    ROOT / "bench" / "schemas" / "bench.shop" / "payment_protected" / "1.0.0.json",
    ROOT / "schemas" / "com.acme.shop" / "payment" / "1.0.0.json",
]
Draw = Callable[[st.SearchStrategy[Any]], Any]

# Numbers where CEL's int, uint and double meet: CEL compares an int with a double as doubles
# (2**53 + 1 == 2.0**53 is true there), Python compares them exactly.
INTS = [0, 1, -1, 2, 5, 12, 2**31, 2**53, 2**53 + 1, 2**63 - 1, -(2**63), -(2**63) + 1]
UINTS = [2**63, 2**63 + 1, 2**64 - 1]  # CEL takes them as uint
FLOATS = [
    0.0,
    -0.0,
    1.0,
    1.5,
    -2.5,
    0.1,
    12.5,
    1e3,
    2.0**53,
    2.0**63,
    -(2.0**63),
    2.0**64,
    5e-324,
    1.7976931348623157e308,
]
BEYOND_CEL = [2**64, -(2**63) - 1, 2**65, -(2**70)]  # integers CEL cannot convert: reading `data` fails
ODD_FLOATS = [math.inf, -math.inf, math.nan]
TEXTS = ["", "\x00", "a\x00", "a", "b", "paid", "failed", "AB12CD34", "é", "e\u0301", "😀", "\n", "'", '"', "\\", "A\x00B", "\x7f",
         "\u2028", "z", "Z", "ÿ", "Ā", "\uffff", "\U00010000", "\U0010ffff", "a b", "`?"]  # fmt: skip
FIELDS = ["a", "b", "c", "amount", "status", "code"]  # field names `data.x` can select
KEYS = [*FIELDS, "x-y", "é", "", "as"]  # and keys it cannot, or a first pass might think it cannot
ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v", "\\": "\\\\"}
OPS = ["==", "!=", "<", "<=", ">", ">="]
COMPARE = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]
SPACES = [" ", " ", " ", "", "  ", "\n", "\t"]


def values(hostile: bool) -> st.SearchStrategy[Any]:
    """JSON-like values as msgspec decodes them; `hostile` adds what CEL holds as uint, cannot convert or
    cannot order (NaN)."""
    scalars = [
        st.sampled_from(INTS),
        st.integers(-3, 3),
        st.integers(-(2**63), 2**63 - 1),
        st.booleans(),
        st.none(),
        st.sampled_from(FLOATS),
        st.floats(allow_nan=False, allow_infinity=False),
        # a NUL only in hostile events: cel-expr-python cuts a string at it, so the pass leaves such events to CEL
        st.sampled_from(TEXTS if hostile else [t for t in TEXTS if "\x00" not in t]),
        st.text(max_size=4)
        if hostile
        else st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=4),
    ]
    scalar = st.one_of(scalars)
    if hostile:  # one scalar in ~20, so that most events still hold only what CEL converts
        odd: list[st.SearchStrategy[Any]] = [
            st.sampled_from(UINTS),
            st.integers(2**63, 2**64 - 1),
            st.sampled_from(BEYOND_CEL),
        ]
        odd += [st.sampled_from(ODD_FLOATS), st.just("A\ud800")]
        scalar = st.one_of(*[scalar] * 19, st.one_of(odd))
    nested = st.recursive(
        scalar,
        lambda kids: st.lists(kids, max_size=2) | objects(kids),
        max_leaves=4,
    )
    return st.one_of(scalar, scalar, scalar, nested)  # mostly scalars, as in events


def objects(fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Maps with many of the selectable field names and sometimes keys `data.x` cannot name."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(KEYS, fields))


VALUES = values(hostile=False)
HOSTILE_VALUES = values(hostile=True)


@dataclass(frozen=True)
class Case:
    expr: str
    variables: dict[str, Any]
    count: int  # how many `charter_re_i` variables the environment declares

    def cel_true(self) -> bool | None:
        """CEL's verdict: exactly `true` or not; None when CEL does not compile the expression."""
        env = rules_fast._env(self.count)
        try:
            program = env.compile(self.expr)
        except RuntimeError:
            return None
        try:
            value = program.eval(env.Activation(self.variables))
        except RuntimeError:  # e.g. a lone surrogate in `data`: CEL raises, which is not `true`
            return False
        return bool(value.type() == cel.Type.BOOL and value.value() is True)

    def predicate_true(self) -> bool | None:
        """rules_py's verdict, None when it leaves the expression to CEL."""
        predicate = rules_py.compile_true(self.expr)
        if predicate is None:
            return None
        answer = predicate(self.variables)
        assert type(answer) is bool, f"the predicate returned {answer!r}, not a bool"
        return answer


def leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every `data.a.b` path CEL can select in `node`, with its value."""
    found: list[tuple[tuple[str, ...], Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FIELDS:
                found.append(((*path, key), value))
                found += leaves(value, (*path, key))
    return found


def string_literal(draw: Draw, text: str, beyond: bool) -> str:
    """`text` as a CEL string literal, each character written one of the ways CEL reads it."""
    if beyond and draw(st.integers(0, 9)) == 0 and not any(c in text for c in '"\\\n\r'):
        return str(draw(st.sampled_from(['r"{}"', 'R"{}"', '"""{}"""', 'b"{}"']))).format(text)
    quote: str = draw(st.sampled_from(['"', "'"]))
    out = []
    for char in text:
        point = ord(char)
        ways = [char] if char not in (quote, "\\", "\n", "\r") else []
        ways += [f"\\u{point:04x}", f"\\u{point:04X}"] if point <= 0xFFFF else []
        ways += [f"\\U{point:08x}"]
        ways += [f"\\x{point:02x}", f"\\X{point:02X}", f"\\{point:03o}"] if point < 0x100 else []
        ways += [ESCAPES[char]] if char in ESCAPES else []
        ways += ["\\" + char] if char in "\"'`?" else []
        out.append(draw(st.sampled_from(ways)))
    return quote + "".join(out) + quote


def number_literal(draw: Draw, value: int | float, beyond: bool) -> str:
    if isinstance(value, int):
        forms = [str(value)]
        if beyond:
            forms += [f"{value}u", f"{value:#x}" if value >= 0 else f"-{-value:#x}", f"-(-{value})", f"{value}.0"]
        return str(draw(st.sampled_from(forms)))
    if not math.isfinite(value):
        return str(draw(st.sampled_from(["1e400", "-1e400", "0.0"])))
    forms = [repr(value), f"{value:.17g}" if "e" in f"{value:.17g}" or "." in f"{value:.17g}" else repr(value)]
    if value.is_integer() and abs(value) < 2**63:
        forms.append(str(int(value)))  # the int literal against a double: CEL compares as doubles
    if beyond:
        forms.append(f"{value:e}".replace("e+", "E"))
    text: str = draw(st.sampled_from(forms))
    if text.startswith("-") and draw(st.booleans()):
        text = "- " + text[1:]  # unary minus, spaced
    return text


def literal(draw: Draw, value: Any, beyond: bool) -> str:
    """A CEL literal for `value`, or a nearby scalar's when it has none in the subset."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_literal(draw, value, beyond)
    if isinstance(value, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            value = "x"  # no CEL literal holds a lone surrogate
        return string_literal(draw, value, beyond)
    if beyond and draw(st.booleans()):
        return json.dumps(value)  # a list or map literal: outside the subset
    return literal(draw, draw(st.sampled_from([0, 1.0, "", None, True])), beyond)


def nudged(draw: Draw, value: Any) -> Any:
    """A value next to `value`, so that orderings and `!=` are sometimes true, sometimes not."""
    if isinstance(value, bool) or value is None:
        return draw(st.sampled_from([True, False, None]))
    if isinstance(value, int):
        return value + draw(st.sampled_from([-1, 1, 0]))
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        return draw(st.sampled_from([value + 0.5, value - 0.5, math.nextafter(value, math.inf), -value]))
    if isinstance(value, str):
        return draw(st.sampled_from([value + "a", value[:-1], value.upper(), "é" + value]))
    return value


def true_ops(left: Any, right: Any) -> list[str]:
    """The operators Python finds true between the two values: mostly CEL's too, so that many
    generated rules hold (a rule that fails tells little about a pass that must only say true)."""
    try:
        found = [op for op, holds in zip(OPS, COMPARE, strict=True) if holds(left, right)]
    except TypeError:
        found = ["!=" if left != right else "=="]
    return found


class Builder:
    """Random expressions over one activation, most of them about values it holds."""

    def __init__(self, draw: Draw, variables: dict[str, Any], count: int, beyond: bool) -> None:
        self.draw, self.variables, self.count, self.beyond = draw, variables, count, beyond
        data = variables["data"]
        self.paths = leaves(data) if isinstance(data, dict) else []

    def pick(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.draw(strategy)

    def path(self) -> tuple[str, Any]:
        """`data.a.b` and its value (None when absent), mostly one that is there."""
        if self.paths and self.pick(st.integers(0, 4)) > 0:
            steps, value = self.pick(st.sampled_from(self.paths))
            return "data." + ".".join(steps), value
        steps = self.pick(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3))
        return "data." + ".".join(steps), None

    def operand(self) -> tuple[str, Any]:
        """An operand and its value where known (None otherwise)."""
        kind = self.pick(st.sampled_from(["path"] * 6 + ["size"] * 2 + ["schema", "sent_at", "literal", "data.size()"]))
        if kind == "path":
            return self.path()
        if kind == "size":
            text, value = self.path() if self.pick(st.integers(0, 3)) else ("schema", self.variables["schema"])
            size = len(value) if isinstance(value, str | list | dict) else None
            return self.pick(st.sampled_from([f"size({text})", f"{text}.size()"])), size
        if kind in ("schema", "sent_at"):
            return kind, self.variables[kind]
        if kind == "data.size()":
            data = self.variables["data"]
            return kind, len(data) if isinstance(data, dict) else None
        value = self.pick(VALUES)
        return literal(self.draw, value, self.beyond), value

    def comparison(self) -> str:
        left, value = self.operand()
        if self.pick(st.integers(0, 2)):
            other = nudged(self.draw, value) if self.pick(st.booleans()) else value
            right = literal(self.draw, other, self.beyond)
        else:
            right, other = self.operand()
        if self.pick(st.booleans()):
            left, right, value, other = right, left, other, value
        ops = true_ops(value, other) if self.pick(st.integers(0, 3)) else OPS
        op = self.pick(st.sampled_from(ops or OPS))
        return f"{left}{self.space()}{op}{self.space()}{right}"

    def space(self) -> str:
        return str(self.pick(st.sampled_from(SPACES)))

    def beyond_subset(self) -> str:
        path, _ = self.path()
        forms = [
            f"{path} in [1, 2]",
            f'{path}.matches("^a")',
            f'{path}.startsWith("a")',
            f"{path} + 1 == 2",
            f'data["{self.pick(st.sampled_from(KEYS))}"] == 1',
            f"({path} == 1 ? true : false)",
            f"int({path}) == 1",
            f"has({path}) // {path} == 1",
            "has(data)",
            f"1 < {path} < 3",
            f"-{path} == 1",
            f"{path}.exists(x, x == 1)",
            f"type({path}) == int",
            f"{path} == [1]",
            f"{path}.`{self.pick(st.sampled_from(KEYS))}` == 1",
            "data.as == 1",
        ]
        return str(self.pick(st.sampled_from(forms)))

    def boolean(self, depth: int) -> str:
        kinds = ["compare"] * 6 + ["has", "not", "paren", "true", "bare", "chain"]
        kinds += ["and", "and", "or", "or"] if depth > 0 else []
        kinds += ["re", "re"] if self.count else []
        kinds += ["beyond"] if self.beyond else []
        kind = self.pick(st.sampled_from(kinds))
        if kind == "compare":
            return self.comparison()
        if kind == "has":
            return f"has({self.path()[0]})"
        if kind == "chain":  # CEL's relations share one precedence, left to right: (a == b) < c
            return f"{self.comparison()} {self.pick(st.sampled_from(OPS))} {self.operand()[0]}"
        if kind == "not":
            return "!" + self.boolean(depth - 1) if depth > 0 else "!" + self.path()[0]
        if kind == "paren":
            return f"({self.space()}{self.boolean(depth - 1)}{self.space()})"
        if kind == "true":
            return str(self.pick(st.sampled_from(["true", "false", "null", "1", '"true"'])))
        if kind == "bare":
            return self.path()[0]  # dyn: `true` only if the field holds true
        if kind == "re":
            return f"charter_re_{self.pick(st.integers(0, self.count - 1))}"
        if kind == "beyond":
            return self.beyond_subset()
        op = "&&" if kind == "and" else "||"
        return f"{self.boolean(depth - 1)}{self.space()}{op}{self.space()}{self.boolean(depth - 1)}"

    def rules(self) -> str:
        """One rule, or a few as rules_fast.conjunction joins them."""
        if self.pick(st.integers(0, 3)):
            return self.boolean(2)
        parts = [f"({self.boolean(2)}\n)" for _ in range(self.pick(st.integers(1, 3)))]
        return " && ".join(["data.size() >= 0", *parts])


@st.composite
def cases(draw: Draw, hostile: bool = True, beyond: bool = True) -> Case:
    """An expression in (and, if `beyond`, slightly beyond) the subset, over random variables."""
    data: Any = draw(objects(HOSTILE_VALUES if hostile else VALUES))
    if hostile and draw(st.integers(0, 19)) == 0:
        data = draw(st.sampled_from([[], [1], 5, "data", None, 1.5]))
    count = draw(st.integers(0, 3))
    variables: dict[str, Any] = {
        "data": data,
        "schema": draw(st.sampled_from(["com.acme.shop/payment/1.0.0", "", "é/ü", "a"]) | st.text(max_size=4)),
        "sent_at": draw(st.sampled_from([None, "2026-11-21T10:00:00Z", ""])),
    }
    if hostile and draw(st.integers(0, 19)) == 0:  # text CEL cannot take, where a rule may read it
        variables[draw(st.sampled_from(["schema", "sent_at"]))] = draw(st.sampled_from(["\ud800", "x\udfff"]))
    variables |= {
        **{f"charter_re_{i}": draw(st.booleans()) for i in range(count)},
    }
    return Case(Builder(draw, variables, count, beyond).rules(), variables, count)


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases())
def test_whatever_the_python_pass_passes_cel_evaluates_to_true(case: Case) -> None:
    note(f"expr: {case.expr!r}")
    cel_true = case.cel_true()
    if cel_true is None:
        event("CEL does not compile it")
        return
    predicate_true = case.predicate_true()
    event(f"CEL {cel_true}, python pass {predicate_true}")
    if predicate_true:
        assert cel_true, f"rules_py passes {case.expr!r} where CEL does not"


def contract_cases() -> list[Case]:
    """The seed and benchmark payment rules, as rules_fast runs them, over payments that pass and fail."""
    found = []
    good = {"order_id": 1001, "product_id": 7, "amount": 9.5, "confirmation_code": "AB12CD34",
            "cc_number": "4111111111111111", "ts": "2026-11-21T10:00:00Z"}  # fmt: skip
    payments = [
        good,
        {**good, "status": "paid"},
        {**good, "status": "refunded", "amount": 0.0},
        {**good, "status": "paid", "amount": 0.0},
        {**good, "status": "paid", "amount": 12},  # an int amount against `> 0.0`
        {**good, "status": "failed", "currency": "EUR"},
        {**good, "status": "paid", "amount": 0.01, "order_id": 2**63 - 1},
        {**good, "status": "paid", "amount": 1e300},
    ]
    for path in CONTRACTS:
        specs = json.loads(path.read_text())["x-contract"]["rules"]
        rewrites = [rules_fast.rewrite(spec["expr"]) for spec in specs]
        fast = rules_fast.conjunction(rewrites)
        assert fast is not None
        names = iter(name for name, _ in fast.matches)
        texts = ["".join(p + next(names) for p in rw.pieces[:-1]) + rw.pieces[-1] for rw in rewrites]
        texts.append(" && ".join(["data.size() >= 0", *(f"({t}\n)" for t in texts)]))  # the one program
        for expr in texts:
            for data in payments:
                for matched in (True, False):
                    variables = {"data": data, "schema": "x", "sent_at": None, "charter_re_0": matched}
                    found.append(Case(expr, variables, len(fast.matches)))
    return found


def test_the_python_pass_passes_every_payment_the_contract_rules_pass() -> None:
    passed = [case for case in contract_cases() if case.cel_true()]
    missed = [(case.expr, case.variables["data"]) for case in passed if not case.predicate_true()]
    assert len(passed) > 40
    # `data.amount > 0.0` with `"amount": 12` (JSON encoders write 12 for 12.0) is true in CEL, which
    # orders an int and a double by value; the pass does too, for ints a double holds exactly
    assert missed == []


def test_the_python_pass_passes_most_of_what_cel_passes_on_ordinary_rules_and_events() -> None:
    seen: list[tuple[bool, bool]] = []  # (CEL true, python pass true) for every compiled case
    wrong: list[Case] = []

    @settings(max_examples=1500, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=cases(hostile=False, beyond=False))
    def corpus(case: Case) -> None:
        cel_true = case.cel_true()
        if cel_true is not None:
            seen.append((cel_true, bool(case.predicate_true())))
            if not cel_true and seen[-1][1]:
                wrong.append(case)

    corpus()
    seen += [(bool(case.cel_true()), bool(case.predicate_true())) for case in contract_cases()]
    cel_passes = [python for cel_true, python in seen if cel_true]
    assert wrong == []
    assert len(cel_passes) > 300, "the corpus has too few rules CEL passes to measure anything"
    coverage = sum(cel_passes) / len(cel_passes)
    assert coverage >= 0.8, f"the python pass says true for only {coverage:.0%} of what CEL passes"


BIG = 2**65
EDGES = [
    # (expression, data, CEL's verdict, the python pass's verdict). Where CEL is true and the pass
    # says False, the pass leaves the case to CEL by design: orderings of values of two types (an
    # int beyond 2^53 and a double, int and uint, a value and null), lists and maps compared, an integer beyond int64 anywhere in `data`, `data` not a
    # map, and syntax outside the subset (`//` comments, `1u`, `as` as a field name).
    pytest.param("data.a > 0.0", {"a": 5}, True, True, id="int-field-against-double-literal"),
    # CEL orders an int and a double as doubles: 2^53 + 1 is not above 2^53 there, as it is in Python
    pytest.param(
        "data.a > 9007199254740992.0", {"a": 9007199254740993}, False, False, id="int-beyond-2-53-against-double"
    ),
    pytest.param("data.a < 1.5", {"a": -(2**53)}, True, True, id="int-at-minus-2-53-against-double"),
    pytest.param("data.a == 5.0", {"a": 5}, True, True, id="int-equals-double"),
    pytest.param("data.a > 0.0", {"a": 5.5}, True, True, id="double-against-double"),
    pytest.param("data.a == 1", {"a": True}, False, False, id="bool-is-not-int"),
    pytest.param("data.a != 1", {"a": True}, True, True, id="bool-differs-from-int"),
    pytest.param("data.a == 1.0", {"a": True}, False, False, id="bool-is-not-double"),
    pytest.param("data.a == true", {"a": True}, True, True, id="bool-equals-bool"),
    pytest.param("data.a == null", {"a": None}, True, True, id="null-equals-null"),
    pytest.param("data.a != null", {"a": 0}, True, True, id="zero-is-not-null"),
    pytest.param("data.a == null", {}, False, False, id="missing-is-an-error-not-null"),
    pytest.param("data.a < data.b", {"a": None, "b": None}, False, False, id="null-has-no-order"),
    pytest.param("data.missing == 1", {"a": 1}, False, False, id="missing-field"),
    pytest.param("data.a.b == 1", {"a": 1}, False, False, id="select-on-an-int"),
    pytest.param("has(data.a)", {"a": None}, True, True, id="has-present-null"),
    pytest.param("has(data.a)", {}, False, False, id="has-missing"),
    pytest.param("!has(data.a)", {}, True, True, id="not-has-missing"),
    pytest.param("has(data.a.b)", {}, False, False, id="has-below-a-missing-field-is-an-error"),
    pytest.param("has(data.a.b)", {"a": {"b": 1}}, True, True, id="has-nested-present"),
    pytest.param("has(data.a.b)", {"a": "text"}, False, False, id="has-on-a-string"),
    pytest.param("data.a == 1", {"a": 1, "b": BIG}, False, False, id="65-bit-integer-elsewhere"),
    pytest.param("true", {"a": 1, "b": {"c": [BIG]}}, True, False, id="65-bit-integer-deep-unread"),
    pytest.param("data.size() >= 0 && true", {"b": [-(2**63) - 1]}, False, False, id="below-int64-read-whole"),
    pytest.param("data.a == 18446744073709551615.0", {"a": 2**64 - 1}, True, False, id="uint64-field"),
    pytest.param("data.size() >= 0", [1], False, False, id="data-a-list"),
    pytest.param("data.size() >= 0", 5, False, False, id="data-an-int"),
    pytest.param("true", None, True, False, id="data-null-unread"),
    pytest.param('data.a == "\\u00e9"', {"a": "é"}, True, True, id="unicode-escape"),
    pytest.param('data.a == "\\U0001F600"', {"a": "😀"}, True, True, id="astral-escape"),
    pytest.param("data.a == '\\n'", {"a": "\n"}, True, True, id="newline-escape-single-quotes"),
    pytest.param("data.a == '\\n'", {"a": "\\n"}, False, False, id="escape-is-not-backslash-n"),
    pytest.param('data.a == "\\x41\\101\\""', {"a": 'AA"'}, True, True, id="hex-octal-quote-escapes"),
    pytest.param('data.a == "e\\u0301"', {"a": "é"}, False, False, id="no-unicode-normalisation"),
    pytest.param('data.a < "é"', {"a": "z"}, True, True, id="string-order-by-code-point"),
    pytest.param('data.a < "\\U00010000"', {"a": "\uffff"}, True, True, id="string-order-astral"),
    pytest.param('data.a > "Z"', {"a": "a"}, True, True, id="string-order-case"),
    pytest.param("data.a == 0.0", {"a": -0.0}, True, True, id="negative-zero-equals-zero"),
    pytest.param("-0.0 == 0.0", {}, True, True, id="negative-zero-literal"),
    pytest.param("data.a < 0.0", {"a": -0.0}, False, False, id="negative-zero-not-below-zero"),
    pytest.param("data.a == data.b", {"a": math.nan, "b": math.nan}, False, False, id="nan-is-not-nan"),
    pytest.param("data.a != data.b", {"a": 2**53 + 1, "b": 2.0**53}, False, False, id="int-double-equal-as-doubles"),
    pytest.param("data.a > 9223372036854775807", {"a": 2.0**63}, False, False, id="double-2-63-not-above-int-max"),
    pytest.param("data.a < data.b", {"a": 2**64 - 1, "b": 2.0**64}, False, False, id="uint-max-not-below-2-64"),
    pytest.param("data.a < data.b", {"a": 2**63 - 1, "b": 2**63}, True, False, id="int-max-below-uint"),
    pytest.param("data.a == data.b", {"a": [1], "b": [1.0]}, True, False, id="lists-equal-across-number-types"),
    pytest.param("data.a == data.b", {"a": [1], "b": [True]}, False, False, id="lists-bool-is-not-int"),
    pytest.param("data.a == data.b", {"a": {}, "b": []}, False, False, id="empty-map-is-not-empty-list"),
    pytest.param("size(data.a) == 1", {"a": "😀"}, True, True, id="size-counts-code-points"),
    pytest.param("data.a.size() == 2", {"a": "e\u0301"}, True, True, id="size-combining-mark"),
    pytest.param("size(data.a) == 1", {"a": 5}, False, False, id="size-of-an-int"),
    pytest.param("data.size() == 2", {"a": 1, "é": 2}, True, True, id="size-of-data"),
    pytest.param("data.missing == 1 || true", {}, True, True, id="or-absorbs-an-error"),
    # an error that neither side absorbs stays an error under `!`: never "not false", so never true
    pytest.param("!(data.missing == 1 || false)", {}, False, False, id="not-of-an-or-that-errs"),
    pytest.param("!(data.missing == 1 && true)", {}, False, False, id="not-of-an-and-that-errs"),
    pytest.param("!(data.a || false)", {"a": 1}, False, False, id="not-of-an-or-of-a-non-bool"),
    pytest.param("true || data.missing == 1", {}, True, True, id="or-short-circuits"),
    pytest.param("data.a || true", {"a": 1}, True, True, id="or-absorbs-a-non-bool"),
    pytest.param("data.missing == 1 || false", {}, False, False, id="or-keeps-an-error"),
    pytest.param("data.missing == 1 && true", {}, False, False, id="and-with-an-error"),
    pytest.param("true && data.missing == 1", {}, False, False, id="and-with-an-error-second"),
    pytest.param("data.a && true", {"a": True}, True, True, id="and-bare-bool-field"),
    pytest.param("data.a && true", {"a": 1}, False, False, id="and-non-bool"),
    pytest.param("data.a", {"a": 1}, False, False, id="bare-int-is-not-true"),
    pytest.param("!data.a", {"a": 1}, False, False, id="not-of-an-int"),
    pytest.param("!data.a", {"a": None}, False, False, id="not-of-null"),
    pytest.param("!data.a", {"a": False}, True, True, id="not-of-false"),
    pytest.param("!!data.a", {"a": True}, True, True, id="double-not"),
    pytest.param("!data.a == false", {"a": 1}, False, False, id="not-binds-tighter-than-equals"),
    pytest.param("true == data.a < data.b", {"a": 1, "b": 2}, False, False, id="relations-left-to-right"),
    pytest.param("data.a < data.b == true", {"a": 1, "b": 2}, True, False, id="relations-chained"),
    pytest.param("data.a", {"a": "x\ud800"}, False, False, id="lone-surrogate-in-data"),
    pytest.param("data.a == 1", {"a": 1, "\ud800": 2}, False, False, id="lone-surrogate-in-a-key"),
    pytest.param("data.a == 1", {"a": 1, "b": {"\udc00": 1}}, False, False, id="lone-surrogate-in-a-nested-key"),
    pytest.param("data.a == 1", {"a": 1, "b": ["x\ud800"]}, False, False, id="lone-surrogate-in-a-list"),
    # a key with a NUL is cut there too: two keys become one, and CEL refuses the map
    pytest.param("data.a == 2", {"a\x00b": 1, "a": 2}, False, False, id="nul-in-a-key-duplicates-another"),
    pytest.param("data.a == 1", {"a": 1, "b\x00": 1}, True, False, id="nul-in-a-key"),
    # cel-expr-python ends a string at its first NUL when it converts it: CEL sees "A", not "A\0B"
    pytest.param('data.a == "A\\000B"', {"a": "A\x00B"}, False, False, id="nul-in-data-string-equal"),
    pytest.param('data.a > "A"', {"a": "A\x00"}, False, False, id="nul-in-data-string-order"),
    pytest.param("size(data.a) == 3", {"a": "A\x00B"}, False, False, id="nul-in-data-string-size"),
    pytest.param('data.a == "A"', {"a": "A\x00B"}, True, False, id="nul-in-data-string-cel-truncates"),
    pytest.param('schema == "com.acme.shop/payment/1.0.0"', {}, True, True, id="schema"),
    pytest.param("sent_at == null", {}, True, True, id="sent-at-null"),
    pytest.param("size(sent_at) == 0", {}, False, False, id="size-of-null"),
    pytest.param("charter_re_0 && !charter_re_1", {}, True, True, id="regex-variables"),
    pytest.param("data.a == 1 // a comment", {"a": 1}, True, False, id="comment"),
    pytest.param("data.a == -9223372036854775808", {"a": -(2**63)}, True, True, id="int64-min-literal"),
    pytest.param("- 1 == data.a", {"a": -1}, True, True, id="spaced-unary-minus"),
    pytest.param("1e3 == data.a", {"a": 1000.0}, True, True, id="exponent-double-literal"),
    pytest.param("data.a == 1e400", {"a": math.inf}, True, True, id="overflowing-double-literal-is-infinity"),
    pytest.param("data.a > 0u", {"a": 1}, True, False, id="uint-literal"),
    pytest.param("data.as == 1", {"as": 1}, True, False, id="field-named-as"),
]


@pytest.mark.parametrize(("expr", "data", "cel_true", "python_true"), EDGES)
def test_edge_cases_pass_only_where_cel_is_true(expr: str, data: Any, cel_true: bool, python_true: bool) -> None:
    variables = {"data": data, "schema": "com.acme.shop/payment/1.0.0", "sent_at": None,
                 "charter_re_0": True, "charter_re_1": False}  # fmt: skip
    case = Case(expr, variables, 2)
    assert case.cel_true() is cel_true  # what CEL says, documented
    answer = bool(case.predicate_true())
    if answer:
        assert cel_true, f"rules_py passes {expr!r} where CEL does not"
    assert answer is python_true


@pytest.mark.parametrize(
    ("expr", "name", "value", "cel_true"),
    [
        pytest.param('sent_at != "x"', "sent_at", "\ud800", False, id="lone-surrogate-sent-at"),
        pytest.param('schema != "x"', "schema", "x\udfff", False, id="lone-surrogate-schema"),
        pytest.param('schema == "s\\000"', "schema", "s\x00", False, id="nul-in-schema"),
        pytest.param("sent_at == 1", "sent_at", 1, True, id="sent-at-an-int"),
        pytest.param('sent_at != "x"', "sent_at", 2**65, False, id="sent-at-beyond-int64"),
        pytest.param('schema == "s"', "schema", 1, False, id="schema-not-a-string"),
        pytest.param("charter_re_0", "charter_re_0", 1, False, id="regex-variable-not-a-bool"),
    ],
)
def test_a_value_cel_cannot_take_in_schema_or_sent_at_is_not_passed(
    expr: str, name: str, value: Any, cel_true: bool
) -> None:
    case = Case(expr, {"data": {}, "schema": "s", "sent_at": None, "charter_re_0": True, name: value}, 1)
    assert case.cel_true() is cel_true  # a lone surrogate makes CEL raise; a NUL ends CEL's copy of the text
    if case.predicate_true():
        assert cel_true, f"rules_py passes {expr!r} with {name}={value!r} where CEL does not"
