"""`charter export rows`: the file sink's good envelopes as the rows of each table, metafields filled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from codegen.exports import ddl
from codegen.exports.command import export_group
from codegen.exports.warehouse import tables
from collector.contracts import Registry
from tests.conftest import SCHEMAS
from tests.exports.conftest import need_module
from tests.exports.loading import DUPLICATE_ID, duckdb_load_rows


def export_rows(out: Path, *files: Path | str) -> Result:
    args = ["rows", *map(str, files), "--process-id", "load-7", "--schemas", str(SCHEMAS), "--out", str(out)]
    return CliRunner().invoke(export_group, args)


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_file_per_table_one_row_per_envelope_with_the_loaders_metafields(
    tmp_path: Path, served_run: tuple[list[dict[str, Any]], list[Path]]
) -> None:
    envelopes, files = served_run
    result = export_rows(tmp_path, *files)
    assert result.exit_code == 0, result.output
    messages = read(tmp_path / "interactions.messages.jsonl")
    assert [r["event_id"] for r in messages].count(DUPLICATE_ID) == 2  # every delivery is a row
    first = messages[0]
    assert first["metafield_process_id"] == "load-7" and first["metafield_source_id"] == files[0].name
    assert "metafield_insert_time" not in first  # the warehouse's clock, at insert
    assert first["user_id"] == "u-1234" and first["source_ip"] == "127.0.0.1"
    assert sum(len(read(p)) for p in tmp_path.glob("*.jsonl")) == len(envelopes)


def test_rows_bulk_load_into_duckdb_by_column_name(
    tmp_path: Path, registry: Registry, served_run: tuple[list[dict[str, Any]], list[Path]]
) -> None:
    con = need_module("duckdb").connect(":memory:")
    con.execute(ddl.render(registry, "duckdb")["duckdb.sql"])
    assert export_rows(tmp_path, *served_run[1]).exit_code == 0
    for t in tables(registry):
        duckdb_load_rows(con, t, tmp_path / f"{t.schema}.{t.name}.jsonl")
    got = con.execute('SELECT count(*), count(DISTINCT event_id) FROM "interactions"."messages"').fetchone()
    assert got == (3, 2)
    (items,) = con.execute('SELECT items FROM "com_acme_shop"."order_v1"').fetchone()
    assert json.loads(items)[0]["productname"] == "Anvil"  # a JSON column keeps its document


def test_a_bad_envelope_file_is_refused_with_file_line_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.jsonl"
    bad.write_text(json.dumps({"id": "x", "error": {"type": "invalid_payload"}, "payload": {}}) + "\n")
    result = export_rows(tmp_path / "out", bad)
    assert result.exit_code == 1
    assert f"{bad}:1: not a good envelope; pass the good-*.jsonl files, not bad-*" in result.output


def test_an_envelope_of_an_unknown_contract_names_it(tmp_path: Path) -> None:
    good = tmp_path / "good-1.jsonl"
    envelope = {"id": "x", "schema": "com.nope/thing/1.0.0", "namespace": "com.nope", "name": "thing",
                "version": "1.0.0", "data": {}}  # fmt: skip
    good.write_text("\n" + json.dumps(envelope) + "\n")
    result = export_rows(tmp_path / "out", good)
    assert result.exit_code == 1
    assert f"{good}:2: 'com.nope/thing/1.0.0' is not among the contracts (set --schemas DIR)" in result.output
