"""Envelopes a real `charter serve --sink file` wrote, and a loader that puts them into DuckDB tables.

The loader is what an ELT job does with the file sink's output: one row per good envelope,
flattened by `warehouse.row`, plus the seed's metafields (the process id and the source it read).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from codegen.exports.ddl import column_type
from codegen.exports.warehouse import Table, row
from tests.conftest import charter_serve
from tests.exports.conftest import SAMPLES

DUPLICATE_ID = "msg-sent-twice"  # a client id the tests send twice, as a retrying client does
MESSAGES = "com.datingapp.interactions/messages/1"
PROCESS_ID = "charter-tests-load"


def serve_and_collect(cwd: Path, references: list[str]) -> tuple[list[dict[str, Any]], list[Path]]:
    """Send one sample event per contract major (and one of them twice with the same client id)
    to a real `charter serve --sink file`; return the good envelopes it wrote, and the files."""
    events = [{"schema": ref, "id": f"evt-{i}", "data": SAMPLES[ref]} for i, ref in enumerate(references)]
    twice = {"schema": MESSAGES, "id": DUPLICATE_ID, "data": SAMPLES[MESSAGES]}
    with charter_serve(cwd, "--sink", "file", "--data-dir", str(cwd / "data")) as url:
        for body in [events, twice, twice]:
            answer = httpx.post(f"{url}/v1/events", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
    files = sorted((cwd / "data").glob("good-*.jsonl"))
    envelopes = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(envelopes) == len(events) + 2
    return envelopes, files


def table_of(tables: list[Table], envelope: dict[str, Any]) -> Table:
    major = envelope["version"].split(".")[0]
    reference = f"{envelope['namespace']}/{envelope['name']}/{major}"
    return next(t for t in tables if t.line.reference == reference)


def duckdb_insert(con: Any, t: Table, envelope: dict[str, Any], source_id: str) -> None:
    """Insert one envelope's row, JSON columns as JSON text, the metafields filled as a loader would."""
    values = row(t, envelope)
    for name, value in values.items():
        if t.column(name).kind == "json" and value is not None:
            values[name] = json.dumps(value)
    values |= {"metafield_process_id": PROCESS_ID, "metafield_source_id": source_id}
    cols = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join("?" for _ in values)
    con.execute(f'INSERT INTO "{t.schema}"."{t.name}" ({cols}) VALUES ({marks})', list(values.values()))


def duckdb_load_rows(con: Any, t: Table, path: Path) -> None:
    """Bulk-load a `charter export rows` file by column name, each column read as its table's type."""
    columns = {c.name: column_type("duckdb", c) for c in t.columns if not c.default_now}
    spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
    reader = f"read_json(?, format = 'newline_delimited', columns = {spec})"
    con.execute(f'INSERT INTO "{t.schema}"."{t.name}" BY NAME SELECT * FROM {reader}', [str(path)])
