"""The PostgreSQL DDL runs on a real server, and every table takes a row built from a real envelope."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from codegen.exports import ddl
from codegen.exports.command import export_group
from codegen.exports.warehouse import Table, row, tables
from collector.contracts import Registry
from tests.conftest import SCHEMAS
from tests.exports.conftest import envelopes
from tests.exports.postgres import Postgres, insert_sql


@pytest.fixture(scope="module")
def loaded(postgres: Postgres, registry: Registry) -> Postgres:
    sql = ddl.render(registry, "postgres")["postgres.sql"]
    done = postgres.psql(sql)
    assert done.returncode == 0, f"DDL failed:\n{done.stderr}"
    return postgres


def _insert(t: Table, envelope: dict[str, Any]) -> str:
    return insert_sql(f'"{t.schema}"."{t.name}"', row(t, envelope))


def test_postgres_ddl_creates_every_table_with_comments_and_sort_index(loaded: Postgres, registry: Registry) -> None:
    expected = sorted(f"{t.schema}.{t.name}" for t in tables(registry))
    done = loaded.psql(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;"
    )
    assert done.stdout.split() == expected
    comment = loaded.psql("SELECT col_description('sales.payments'::regclass, 1);").stdout.strip()
    assert comment.startswith("Event id")
    index = loaded.psql("SELECT indexdef FROM pg_indexes WHERE indexname = 'payments_ts_idx';").stdout
    assert "ON sales.payments USING btree (ts)" in index


def test_every_table_takes_a_row_from_a_real_good_envelope_and_keeps_each_value(
    loaded: Postgres, registry: Registry
) -> None:
    good = envelopes(registry)
    for t in tables(registry):
        envelope = good[t.line.reference]
        done = loaded.psql(_insert(t, envelope))
        assert done.returncode == 0, f"{t.schema}.{t.name}: {done.stderr}"
        stored = loaded.psql(
            f'SELECT to_jsonb(t) FROM "{t.schema}"."{t.name}" t WHERE event_id = \'{envelope["id"]}\';'
        )
        got = json.loads(stored.stdout)
        for name, value in row(t, envelope).items():
            assert _same(t.column(name).kind, got[name], value), (
                f"{t.name}.{name}: stored {got[name]!r}, sent {value!r}"
            )
        assert got["metafield_insert_time"] is not None  # the seed's insert time, filled by the warehouse


def test_hotel_column_named_class_is_quoted_and_holds_the_enum_value(loaded: Postgres) -> None:
    done = loaded.psql('SELECT "class" FROM com_riverhotels_web.hotel_v1;')
    assert done.stdout.strip() == "Luxury"


def test_required_field_is_not_null_in_postgres(loaded: Postgres, registry: Registry) -> None:
    t = next(t for t in tables(registry) if t.name == "payments")
    envelope = envelopes(registry)[t.line.reference]
    envelope = {
        **envelope,
        "id": "evt-missing-amount",
        "data": {k: v for k, v in envelope["data"].items() if k != "amount"},
    }
    done = loaded.psql(_insert(t, envelope))
    assert done.returncode != 0
    assert 'null value in column "amount"' in done.stderr


def _same(kind: str, stored: Any, sent: Any) -> bool:
    if sent is None or stored is None:
        return sent is stored
    if kind == "timestamp":
        return datetime.datetime.fromisoformat(stored) == datetime.datetime.fromisoformat(sent)
    if kind == "uuid":
        return str(stored).lower() == str(sent).lower()
    return bool(stored == sent)


def test_rows_exported_from_a_real_serves_files_load_into_every_postgres_table(
    loaded: Postgres, registry: Registry, served_run: tuple[list[dict[str, Any]], list[Path]], tmp_path: Path
) -> None:
    files = served_run[1]
    args = ["rows", *map(str, files), "--process-id", "pg-load", "--schemas", str(SCHEMAS), "--out", str(tmp_path)]
    result = CliRunner().invoke(export_group, args)
    assert result.exit_code == 0, result.output
    loaded.psql("CREATE SCHEMA served;")
    for t in tables(registry):
        target = f'served."{t.schema}__{t.name}"'
        sql = f'CREATE TABLE {target} (LIKE "{t.schema}"."{t.name}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS);\n'
        lines = (tmp_path / f"{t.schema}.{t.name}.jsonl").read_text().splitlines()
        sql += "".join(insert_sql(target, json.loads(line)) for line in lines)
        done = loaded.psql(sql)
        assert done.returncode == 0, f"{t.schema}.{t.name}: {done.stderr}"
        count = loaded.psql(f"SELECT count(*) FROM {target} WHERE metafield_process_id = 'pg-load';").stdout
        assert int(count) == len(lines) >= 1
