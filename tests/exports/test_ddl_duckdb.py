"""The DuckDB DDL runs in DuckDB, and takes every envelope a real `charter serve --sink file` wrote."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from codegen.exports import ddl
from codegen.exports.warehouse import Table, tables
from collector.contracts import Registry
from tests.exports.conftest import need_module
from tests.exports.loading import DUPLICATE_ID, PROCESS_ID, duckdb_insert, table_of


def connect(registry: Registry) -> Any:
    duckdb = need_module("duckdb")
    con = duckdb.connect(":memory:")
    con.execute(ddl.render(registry, "duckdb")["duckdb.sql"])
    return con


def test_duckdb_ddl_creates_every_table_where_the_postgres_ddl_fails(registry: Registry) -> None:
    duckdb = need_module("duckdb")
    con = connect(registry)
    found = con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    assert [x for (x,) in found] == sorted(f"{t.schema}.{t.name}" for t in tables(registry))
    with pytest.raises(duckdb.Error):  # what issue 13 reported: JSONB is PostgreSQL's own type
        duckdb.connect(":memory:").execute(ddl.render(registry, "postgres")["postgres.sql"])


def test_every_envelope_the_collector_wrote_loads_and_keeps_each_value(
    registry: Registry, served: list[dict[str, Any]]
) -> None:
    con = connect(registry)
    all_tables = tables(registry)
    for envelope in served:
        duckdb_insert(con, table_of(all_tables, envelope), envelope, "data/good.jsonl")
    for envelope in served:
        t = table_of(all_tables, envelope)
        cur = con.execute(f'SELECT * FROM "{t.schema}"."{t.name}" WHERE event_id = ?', [envelope["id"]])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, values, strict=True)) for values in cur.fetchall()]
        assert all(r["metafield_insert_time"] is not None and r["metafield_process_id"] == PROCESS_ID for r in rows)
        assert all(r["metafield_source_id"] == "data/good.jsonl" for r in rows)
        mismatches = [_mismatch(t, r, envelope) for r in rows]
        assert None in mismatches, f"{t.name}: no row keeps every value: {mismatches}"  # a resent id has 2 rows


def _mismatch(t: Table, stored: dict[str, Any], envelope: dict[str, Any]) -> str | None:
    for col in t.columns:
        if col.loader:
            continue
        sent: Any = envelope
        for step in col.source:
            sent = sent.get(step) if isinstance(sent, dict) else None
        if not _same(col.kind, stored[col.name], sent):
            return f"{col.name}: stored {stored[col.name]!r}, sent {sent!r}"
    return None


def test_a_client_id_sent_twice_is_two_rows_in_the_landing_table(
    registry: Registry, served: list[dict[str, Any]]
) -> None:
    con = connect(registry)
    all_tables = tables(registry)
    for envelope in served:
        duckdb_insert(con, table_of(all_tables, envelope), envelope, "data/good.jsonl")
    (count,) = con.execute(
        'SELECT count(*) FROM "interactions"."messages" WHERE event_id = ?', [DUPLICATE_ID]
    ).fetchone()
    assert count == 2  # the staging model keeps one (test_dbt_build.py)


def test_seed_messages_table_has_the_seed_metafields_last(registry: Registry) -> None:
    con = connect(registry)
    cols = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'messages' ORDER BY column_index"
    ).fetchall()
    assert cols[-3:] == [("metafield_insert_time", "TIMESTAMP WITH TIME ZONE"), ("metafield_process_id", "VARCHAR"),
                         ("metafield_source_id", "VARCHAR")]  # fmt: skip


def _same(kind: str, stored: Any, sent: Any) -> bool:
    if sent is None or stored is None:
        return sent is stored
    if kind == "timestamp":
        return bool(stored == datetime.datetime.fromisoformat(sent))
    if kind == "date":
        return bool(stored == datetime.date.fromisoformat(sent))
    if kind == "uuid":
        return str(stored).lower() == str(sent).lower()
    if kind == "json":
        return bool(json.loads(stored) == sent)
    return bool(stored == sent)
