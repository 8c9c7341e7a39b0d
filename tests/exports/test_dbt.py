"""dbt sources: one source per warehouse schema, tests derived from the contracts."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from codegen.exports import ExportError, dbt
from collector.contracts import Registry
from tests.conftest import OWNER, make_contract


def sources(registry: Registry) -> list[dict[str, Any]]:
    doc = yaml.safe_load(dbt.render(registry)["sources.yml"])
    assert doc["version"] == 2
    return list(doc["sources"])


def columns(registry: Registry, table: str) -> dict[str, dict[str, Any]]:
    for source in sources(registry):
        for t in source["tables"]:
            if t["name"] == table:
                return {c["name"]: c for c in t["columns"]}
    raise AssertionError(f"no table {table}")


def test_one_source_per_warehouse_schema_holding_its_tables(registry: Registry) -> None:
    by_name = {s["name"]: s for s in sources(registry)}
    assert by_name["sales"]["schema"] == "sales"
    assert [t["name"] for t in by_name["sales"]["tables"]] == ["payments"]
    assert [t["name"] for t in by_name["com_acme_shop"]["tables"]] == ["order_v1"]  # no warehouse: namespace


def test_event_id_is_not_null_in_the_source_and_unique_only_in_the_staging_model(registry: Registry) -> None:
    assert columns(registry, "payments")["event_id"]["data_tests"] == ["not_null"]  # redeliveries land twice
    [model] = [m for m in staging(registry)["models"] if m["name"] == "stg_sales__payments"]
    event_id = next(c for c in model["columns"] if c["name"] == "event_id")
    assert event_id["data_tests"] == ["unique", "not_null"]


def staging(registry: Registry) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(dbt.render(registry)["staging/staging.yml"])
    return doc


def test_staging_model_per_table_keeps_the_first_collected_row_of_each_event_id(registry: Registry) -> None:
    files = dbt.render(registry)
    sql = files["staging/stg_interactions__messages.sql"]
    assert "from {{ source('interactions', 'messages') }}" in sql
    assert "partition by event_id order by collected_at, metafield_insert_time" in sql
    assert sql.endswith("from ranked\nwhere charter_copy = 1\n")
    assert "    {{ adapter.quote('schema') }},\n" in sql  # a reserved word, quoted by the adapter
    names = sorted(m["name"] for m in staging(registry)["models"])
    assert names == sorted(k.removeprefix("staging/").removesuffix(".sql") for k in files if k.endswith(".sql"))


@pytest.mark.parametrize(
    ("sla", "freshness"),
    [
        pytest.param("hourly", {"count": 1, "period": "hour"}, id="hourly"),
        pytest.param("daily", {"count": 1, "period": "day"}, id="daily"),
        pytest.param("5 minutes", {"count": 5, "period": "minute"}, id="minutes"),
        pytest.param("within 2 hours", {"count": 2, "period": "hour"}, id="within-hours"),
        pytest.param("1 day", {"count": 1, "period": "day"}, id="one-day"),
    ],
)
def test_sla_becomes_source_freshness(sla: str, freshness: dict[str, Any]) -> None:
    c = make_contract({"n": {"type": "integer"}}, **{"x-contract": {**OWNER, "sla": sla}})
    [table] = sources(Registry([c]))[0]["tables"]
    assert table["freshness"] == {"error_after": freshness} and table["loaded_at_field"] == "collected_at"
    assert table["meta"]["sla"] == sla


def test_contract_without_sla_has_no_freshness(registry: Registry) -> None:
    table = next(t for s in sources(registry) for t in s["tables"] if t["name"] == "payments")
    assert "freshness" not in table


def test_sla_dbt_cannot_check_is_refused_with_the_forms_it_can() -> None:
    c = make_contract({"n": {"type": "integer"}}, **{"x-contract": {**OWNER, "sla": "99.9% of the time"}})
    with pytest.raises(ExportError, match=r"x-contract.sla '99.9% of the time' .* `hourly`, `daily` or `<N> minutes"):
        dbt.render(Registry([c]))


def test_required_fields_are_not_null_and_optional_ones_untested(registry: Registry) -> None:
    cols = columns(registry, "payments")
    assert cols["order_id"]["data_tests"] == ["not_null"]
    assert "data_tests" not in cols["source_ip"]


def test_enum_becomes_accepted_values(registry: Registry) -> None:
    cols = columns(registry, "payments")
    assert cols["currency"]["data_tests"] == [{"accepted_values": {"arguments": {"values": ["USD", "EUR", "GBP"]}}}]


def test_protected_field_gets_no_accepted_values_and_carries_its_pii_tag() -> None:
    c = make_contract({"tier": {"enum": ["gold", "silver"], "x-pii": "hash", "x-classification": "confidential"}})
    col = columns(Registry([c]), "thing_v1")["tier"]
    assert "data_tests" not in col
    assert col["meta"] == {"pii": "hash", "classification": "confidential"}


def test_integer_enum_is_not_quoted_in_the_test() -> None:
    c = make_contract({"level": {"enum": [1, 2, 3]}}, required=["level"])
    tests = columns(Registry([c]), "thing_v1")["level"]["data_tests"]
    assert tests == ["not_null", {"accepted_values": {"arguments": {"values": [1, 2, 3], "quote": False}}}]


def test_enum_values_of_every_version_of_the_major_are_accepted() -> None:
    v1 = make_contract({"s": {"enum": ["a", "b"]}}, ref="com.example.test/thing/1.0.0")
    v2 = make_contract({"s": {"enum": ["a", "b", "c"]}}, ref="com.example.test/thing/1.1.0")
    tests = columns(Registry([v1, v2]), "thing_v1")["s"]["data_tests"]
    assert tests == [{"accepted_values": {"arguments": {"values": ["a", "b", "c"]}}}]


def test_reserved_column_name_is_quoted_for_dbt(registry: Registry) -> None:
    cols = columns(registry, "payments")
    assert cols["schema"]["quote"] is True
    assert "quote" not in cols["order_id"]


def test_table_meta_names_contract_topic_and_owner(registry: Registry) -> None:
    table = next(t for s in sources(registry) for t in s["tables"] if t["name"] == "payments")
    assert table["meta"]["contract"] == "com.acme.shop/payment/1"
    assert table["meta"]["topic"] == "payments" and table["meta"]["dlq_topic"] == "error-payments"
    assert table["meta"]["owner"] == "Payments Team" and table["loaded_at_field"] == "collected_at"
