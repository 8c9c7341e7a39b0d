"""CEL data-quality rules: compiled at load, `dlq` rejects, `flag` marks, nothing is dropped."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from collector.annotate import Source
from collector.contracts import ContractLoadError, Registry
from collector.pipeline import Context, process
from tests.conftest import make_contract, payment

PROPS = {"status": {"enum": ["paid", "failed"]}, "amount": {"type": "number"}, "code": {"type": "string"},
         "owner": {"type": "object", "properties": {"email": {"type": "string"}}}, "tags": {"type": "array"}}  # fmt: skip


def rules_contract(*rules: dict[str, Any]) -> Any:
    return make_contract(PROPS, **{"x-contract": {"owner": {"name": "T"}, "rules": list(rules)}})


def run_one(registry: Registry, data: dict[str, Any]) -> dict[str, Any]:
    out = process(
        [msgspec.json.encode({"schema": "com.acme.shop/payment/1", "data": data})], registry, Context("t", Source())
    )
    decoded: dict[str, Any] = msgspec.json.decode(out.records[0].value)
    return {"kind": out.records[0].kind, "topic": out.records[0].topic, **decoded}


def test_seed_scenario_bad_confirmation_code_lands_in_error_payments_naming_the_rule(registry: Registry) -> None:
    bad = run_one(registry, payment(confirmation_code="0"))
    assert (bad["kind"], bad["topic"], bad["error"]["type"]) == ("bad", "error-payments", "rule_violation")
    assert bad["error"]["failures"] == [{"path": "$.confirmation_code", "keyword": "rule",
                                         "message": "confirmation_code_format: confirmation_code must be 8 upper-case letters or digits"}]  # fmt: skip
    good = run_one(registry, payment())
    assert (good["kind"], good["topic"]) == ("good", "payments") and "flags" not in good


def test_flag_rule_keeps_the_event_in_the_good_stream_with_the_rule_named(registry: Registry) -> None:
    flagged = run_one(registry, payment(status="paid", amount=0))
    assert (flagged["kind"], flagged["flags"]) == ("good", ["paid_amount_positive"])


def test_an_event_breaking_dlq_and_flag_rules_is_rejected_naming_every_failed_rule(registry: Registry) -> None:
    bad = run_one(registry, payment(status="paid", amount=0, confirmation_code="x"))
    names = [f["message"].split(":")[0] for f in bad["error"]["failures"]]
    assert bad["kind"] == "bad" and names == ["confirmation_code_format", "paid_amount_positive"]


def test_cross_field_rule_and_runtime_error_counts_as_a_failure_with_its_reason() -> None:
    from collector.rules import evaluate

    contract = rules_contract({"name": "paid_positive", "expr": 'data.status != "paid" || data.amount > 0.0'},
                              {"name": "needs_code", "expr": 'data.code.size() == 8', "message": "code must be 8 long"})  # fmt: skip
    assert evaluate(contract.rules, {"status": "paid", "amount": 5.0, "code": "ABCDEFGH"}, "r", None) == []
    broken = evaluate(contract.rules, {"status": "paid", "amount": 0.0}, "r", None)
    assert [b.rule.name for b in broken] == ["paid_positive", "needs_code"]
    assert "evaluation error" in broken[1].reason and "code" in broken[1].reason


def test_rules_see_schema_and_sent_at() -> None:
    from collector.rules import evaluate

    contract = rules_contract({"name": "recent", "expr": 'sent_at == null || timestamp(sent_at) > timestamp("2020-01-01T00:00:00Z")'},
                              {"name": "ns", "expr": 'schema.startsWith("com.example")'})  # fmt: skip
    assert evaluate(contract.rules, {}, "com.example.test/thing/1.0.0", "2026-11-21T10:00:00Z") == []
    assert [b.rule.name for b in evaluate(contract.rules, {}, "org.x/y/1.0.0", "2019-01-01T00:00:00Z")] == [
        "recent",
        "ns",
    ]


def test_a_rule_reading_sent_at_sees_the_events_sent_at_through_the_pipeline() -> None:
    contract = rules_contract({"name": "recent", "expr": 'timestamp(sent_at) > timestamp("2020-01-01T00:00:00Z")'})
    registry = Registry([contract])

    def verdict(sent_at: str) -> str:
        event = {"schema": contract.ref, "data": {"code": "ABCDEFGH"}, "sent_at": sent_at}
        return process([msgspec.json.encode(event)], registry, Context("t", Source())).records[0].kind

    assert (verdict("2026-11-21T10:00:00+00:00"), verdict("2019-01-01T00:00:00Z")) == ("good", "bad")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param("data.amount >", "does not compile: <input>:1:14: Syntax error", id="syntax-error"),
        pytest.param("data.nope == 1", "reads `data.nope`, but the contract has no field 'nope'", id="unknown-field"),
        pytest.param("data.owner.phone == 'x'", "no field 'phone'", id="unknown-nested-field"),
    ],
)
def test_bad_rule_fails_the_load_naming_file_rule_and_reason(expr: str, message: str) -> None:
    with pytest.raises(ContractLoadError) as err:
        rules_contract({"name": "broken_rule", "expr": expr})
    assert "com.example.test/thing/1.0.0.json" in str(err.value)
    assert "'broken_rule'" in str(err.value) and message in str(err.value)


def test_field_names_inside_string_literals_and_cel_methods_are_not_mistaken_for_fields() -> None:
    contract = rules_contract({"name": "ok", "expr": 'data.code.matches("data.nope") && data.tags.size() >= 0'})
    assert contract.rules[0].name == "ok"


def test_duplicate_rule_names_are_refused() -> None:
    with pytest.raises(ContractLoadError, match="rule names must be unique"):
        rules_contract({"name": "a", "expr": "true"}, {"name": "a", "expr": "true"})
