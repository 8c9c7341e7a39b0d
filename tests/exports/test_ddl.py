"""Warehouse DDL: types, keys, quoting and metadata columns per dialect, from small inline contracts."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.exports import ExportError, ddl
from collector.contracts import Contract, Registry
from tests.conftest import OWNER, make_contract
from tests.exports.conftest import need_module


def contract(properties: dict[str, Any], ref: str = "com.example.test/thing/1.0.0", **x: Any) -> Contract:
    required = [name for name, sub in properties.items() if sub.pop("required", False)]
    return make_contract(properties, ref=ref, required=required, **{"x-contract": {**OWNER, **x}})


def sql(dialect: str, *contracts: Contract) -> str:
    return ddl.render(Registry(list(contracts)), dialect)[f"{dialect}.sql"]


def column_line(text: str, name: str) -> str:
    """The declaration of one column, without its trailing comma."""
    return next(line.strip().rstrip(",") for line in text.splitlines() if line.strip().startswith(name + " "))


@pytest.mark.parametrize(
    ("schema", "dialect", "declared"),
    [
        pytest.param({"type": "string"}, "postgres", '"f" TEXT', id="string-postgres"),
        pytest.param({"type": "string", "maxLength": 40}, "postgres", '"f" TEXT', id="maxlength-postgres-text"),
        pytest.param({"type": "string", "maxLength": 40}, "snowflake", "f VARCHAR(40)", id="maxlength-snowflake"),
        pytest.param({"type": "string", "maxLength": 40}, "bigquery", "`f` STRING", id="maxlength-bigquery"),
        pytest.param({"type": "integer"}, "postgres", '"f" BIGINT', id="integer-postgres"),
        pytest.param({"type": "integer"}, "snowflake", "f NUMBER", id="integer-snowflake"),
        pytest.param({"type": "integer"}, "bigquery", "`f` INT64", id="integer-bigquery"),
        pytest.param({"type": "number"}, "postgres", '"f" DOUBLE PRECISION', id="number-postgres"),
        pytest.param({"type": ["integer", "number"]}, "bigquery", "`f` FLOAT64", id="integer-or-number"),
        pytest.param({"type": "boolean"}, "bigquery", "`f` BOOL", id="boolean-bigquery"),
        pytest.param({"type": "string", "format": "date-time"}, "postgres", '"f" TIMESTAMPTZ', id="datetime-pg"),
        pytest.param({"type": "string", "format": "date-time"}, "snowflake", "f TIMESTAMP_TZ", id="datetime-sf"),
        pytest.param({"type": "string", "format": "date-time"}, "bigquery", "`f` TIMESTAMP", id="datetime-bq"),
        pytest.param({"type": "string", "format": "date"}, "snowflake", "f DATE", id="date"),
        pytest.param({"type": "string", "format": "uuid"}, "postgres", '"f" UUID', id="uuid-postgres"),
        pytest.param({"type": "string", "format": "uuid"}, "bigquery", "`f` STRING", id="uuid-bigquery"),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "integer"}}}, "postgres", '"f" JSONB', id="object"
        ),
        pytest.param({"type": "array", "items": {"type": "string"}}, "snowflake", "f VARIANT", id="array"),
        pytest.param({"type": ["string", "integer"]}, "bigquery", "`f` JSON", id="union-is-json"),
        pytest.param({"enum": ["a", "b"]}, "postgres", '"f" TEXT', id="string-enum"),
        pytest.param({"enum": [1, 2]}, "postgres", '"f" BIGINT', id="integer-enum"),
        pytest.param({"type": "integer", "x-pii": "redact"}, "postgres", '"f" TEXT', id="pii-integer-is-text"),
        pytest.param({"type": "string", "format": "date-time", "x-pii": "hash"}, "postgres", '"f" TEXT', id="pii-ts"),
        pytest.param({"type": "string", "maxLength": 4, "x-pii": "redact"}, "snowflake", "f VARCHAR", id="pii-no-len"),
        pytest.param({"type": "object"}, "duckdb", '"f" JSON', id="object-duckdb-is-json-not-jsonb"),
        pytest.param({"type": "number"}, "duckdb", '"f" DOUBLE', id="number-duckdb"),
        pytest.param({"type": "string", "format": "uuid"}, "duckdb", '"f" UUID', id="uuid-duckdb"),
        pytest.param({"type": "array"}, "redshift", '"f" SUPER ENCODE ZSTD', id="array-redshift-is-super"),
        pytest.param({"type": ["string", "integer"]}, "redshift", '"f" SUPER ENCODE ZSTD', id="union-redshift-super"),
        pytest.param(
            {"type": "string", "maxLength": 40},
            "redshift",
            '"f" VARCHAR(160) ENCODE ZSTD',
            id="maxlength-redshift-in-utf8-bytes",
        ),
        pytest.param({"type": "string"}, "redshift", '"f" VARCHAR(65535) ENCODE ZSTD', id="string-redshift-max"),
        pytest.param(
            {"enum": ["opened", "unread", "archived"]},
            "redshift",
            '"f" VARCHAR(8) ENCODE ZSTD',
            id="enum-redshift-longest-value",
        ),
        pytest.param({"type": "integer"}, "redshift", '"f" BIGINT ENCODE AZ64', id="integer-redshift-az64"),
        pytest.param(
            {"type": "string", "format": "date-time"},
            "redshift",
            '"f" TIMESTAMPTZ ENCODE AZ64',
            id="datetime-redshift-az64",
        ),
        pytest.param({"type": "boolean"}, "redshift", '"f" BOOLEAN ENCODE RAW', id="boolean-redshift-raw"),
        pytest.param({"type": "number"}, "redshift", '"f" DOUBLE PRECISION ENCODE ZSTD', id="number-redshift"),
        pytest.param({"type": "string", "format": "uuid"}, "redshift", '"f" CHAR(36) ENCODE ZSTD', id="uuid-redshift"),
    ],
)
def test_field_type_maps_to_dialect_column(schema: dict[str, Any], dialect: str, declared: str) -> None:
    line = column_line(sql(dialect, contract({"f": schema})), declared.split(" ")[0])
    assert line == declared or line.startswith(declared + " ")


def test_required_non_nullable_field_is_not_null_and_nullable_or_optional_is_not() -> None:
    text = sql("postgres", contract({
        "a": {"type": "integer", "required": True},
        "b": {"type": ["integer", "null"], "required": True},
        "c": {"type": "integer"},
    }))  # fmt: skip
    assert column_line(text, '"a"') == '"a" BIGINT NOT NULL'
    assert column_line(text, '"b"') == '"b" BIGINT'
    assert column_line(text, '"c"') == '"c" BIGINT'


def test_table_defaults_to_namespace_schema_and_name_with_major() -> None:
    text = sql("postgres", contract({"a": {"type": "integer"}}, ref="com.example-co.web/page_view/2.1.0"))
    assert 'CREATE TABLE "com_example_co_web"."page_view_v2" (' in text


def test_envelope_columns_come_first_and_the_seeds_metafields_last_with_no_primary_key() -> None:
    text = sql("postgres", contract({"a": {"type": "integer"}}))
    body = text.split("(\n", 1)[1].split("\n);", 1)[0]
    names = [line.split()[0].strip('"') for line in body.splitlines()]
    assert names == ["event_id", "schema", "version", "collected_at", "sent_at", "fingerprint", "source_ip",
                     "user_agent", "collector_host", "flags", "a", "metafield_insert_time", "metafield_process_id",
                     "metafield_source_id"]  # fmt: skip
    assert "PRIMARY KEY" not in text  # a landing table takes every delivery; staging keeps one per id
    assert '"metafield_insert_time" TIMESTAMPTZ NOT NULL DEFAULT now()' in body


@pytest.mark.parametrize("dialect", ddl.DIALECTS)
def test_no_dialect_declares_a_primary_key_a_redelivered_event_would_break(dialect: str) -> None:
    assert "PRIMARY KEY" not in sql(dialect, contract({"a": {"type": "integer"}}))


def test_warehouse_keys_become_each_dialects_own_clauses() -> None:
    c = contract(
        {"user_id": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}},
        warehouse={"schema": "interactions", "table": "messages", "dist_key": "user_id", "sort_key": "created_at"},
    )
    assert 'CREATE INDEX "messages_created_at_idx" ON "interactions"."messages" ("created_at");' in sql("postgres", c)
    assert "\nCLUSTER BY (created_at)\n" in sql("snowflake", c)
    bq = sql("bigquery", c)
    assert "\nPARTITION BY DATE(`created_at`)\nCLUSTER BY `user_id`\n" in bq
    assert "CREATE TABLE `interactions`.`messages` (" in bq
    rs = sql("redshift", c)
    assert '\n)\nDISTSTYLE KEY\nDISTKEY ("user_id")\nSORTKEY ("created_at");\n' in rs
    assert column_line(rs, '"created_at"') == '"created_at" TIMESTAMPTZ ENCODE RAW'  # the sort key stays RAW
    assert "-- sort_key created_at: DuckDB prunes by zone maps; no index" in sql("duckdb", c)


def test_redshift_without_keys_lets_redshift_choose() -> None:
    text = sql("redshift", contract({"n": {"type": "integer"}}))
    assert "\n)\nDISTSTYLE AUTO;\n" in text and "SORTKEY" not in text


def test_redshift_refuses_a_super_column_as_key() -> None:
    with pytest.raises(ExportError, match="warehouse key 'o' is a SUPER column; choose a scalar"):
        sql("redshift", contract({"o": {"type": "object"}}, warehouse={"dist_key": "o"}))


def test_bigquery_clusters_by_a_sort_key_that_is_not_a_timestamp() -> None:
    c = contract({"n": {"type": "integer"}}, warehouse={"sort_key": "n"})
    text = sql("bigquery", c)
    assert "PARTITION BY" not in text and "\nCLUSTER BY `n`\n" in text


def test_reserved_and_mixed_case_names_are_quoted_per_dialect() -> None:
    c = contract({"class": {"type": "string"}, "order": {"type": "integer"}, "userId": {"type": "string"}})
    pg, sf, bq = sql("postgres", c), sql("snowflake", c), sql("bigquery", c)
    assert '"class" TEXT' in pg and '"order" BIGINT' in pg and '"userId" TEXT' in pg
    assert "\n    class VARCHAR" in sf and '\n    "order" NUMBER' in sf and '\n    "userId" VARCHAR' in sf
    assert "`class` STRING" in bq and "`order` INT64" in bq


def test_comments_are_escaped_for_each_dialect() -> None:
    c = contract({"a": {"type": "integer", "description": 'It\'s a "quoted" back\\slash.'}})
    assert "IS 'It''s a \"quoted\" back\\slash.'" in sql("postgres", c)
    assert "COMMENT 'It\\'s a \"quoted\" back\\\\slash.'" in sql("snowflake", c)
    assert 'OPTIONS(description="It\'s a \\"quoted\\" back\\\\slash.")' in sql("bigquery", c)


def test_column_is_nullable_when_a_version_of_the_major_lacks_it() -> None:
    v1 = contract({"a": {"type": "integer", "required": True}}, ref="com.example.test/thing/1.0.0")
    v11 = contract({"a": {"type": "integer", "required": True}, "b": {"type": "integer", "required": True}},
                   ref="com.example.test/thing/1.1.0")  # fmt: skip
    text = sql("postgres", v1, v11)
    assert column_line(text, '"a"') == '"a" BIGINT NOT NULL' and column_line(text, '"b"') == '"b" BIGINT'


def test_two_majors_on_one_table_are_refused_with_the_fix() -> None:
    v1 = contract({"a": {"type": "integer"}}, ref="com.example.test/thing/1.0.0", warehouse={"table": "things"})
    v2 = contract({"a": {"type": "string"}}, ref="com.example.test/thing/2.0.0", warehouse={"table": "things"})
    with pytest.raises(ExportError, match=r"both land in table com_example_test\.things; .* thing_v2"):
        sql("postgres", v1, v2)


def test_field_named_like_a_metadata_column_is_refused() -> None:
    with pytest.raises(ExportError, match="field 'version' has the name of an envelope metadata column"):
        sql("postgres", contract({"version": {"type": "string"}}))


def test_postgres_refuses_a_name_it_would_truncate() -> None:
    with pytest.raises(ExportError, match="63-byte identifier limit"):
        sql("postgres", contract({"x" * 64: {"type": "string"}}))


@pytest.mark.parametrize("dialect", ddl.DIALECTS)
def test_ddl_parses_in_its_dialect_with_every_column_name_intact(dialect: str) -> None:
    sqlglot = need_module("sqlglot")
    names = ["class", "order", "userId", "plain", "kebab-case", "with space"]
    tricky = 'It\'s "quoted", a back\\slash,\na new line and ünïcödé.'
    c = contract({name: {"type": "string", "description": tricky} for name in names})
    statements = sqlglot.parse(sql(dialect, c), read=dialect)
    create = next(s for s in statements if s.key == "create" and s.args.get("kind") == "TABLE")
    declared = [col.name for col in create.find_all(sqlglot.exp.ColumnDef)]
    assert declared[10 : 10 + len(names)] == names


def test_redshift_encodings_can_be_chosen_per_column_in_the_contract() -> None:
    c = contract(
        {"status": {"type": "string", "enum": ["paid", "failed"]}, "n": {"type": "integer"}},
        warehouse={"sort_key": "n", "encode": {"status": "bytedict", "n": "DELTA"}},
    )
    rs = sql("redshift", c)
    assert column_line(rs, '"status"') == '"status" VARCHAR(6) ENCODE BYTEDICT'
    assert column_line(rs, '"n"') == '"n" BIGINT ENCODE DELTA'  # the contract's choice wins over RAW for the sort key
    assert column_line(rs, '"collected_at"').endswith("ENCODE AZ64")  # columns it does not name keep the default


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        pytest.param({"nope": "ZSTD"}, "encode names 'nope', not a column of", id="unknown-column"),
        pytest.param({"n": "GZIP"}, "encode.n: 'GZIP' is not a Redshift encoding", id="unknown-encoding"),
    ],
)
def test_a_wrong_redshift_encoding_is_refused_with_the_file_and_the_fix(encode: dict[str, str], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        sql("redshift", contract({"n": {"type": "integer"}}, warehouse={"encode": encode}))
