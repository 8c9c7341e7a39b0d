"""`charter export rows`: good envelopes (the file sink's JSONL, or a topic dumped to JSONL) as the
rows of the tables `export ddl` creates, one JSONL file per table, ready for a bulk load.

Each row has the table's columns by name (`warehouse.row`: the envelope flattened, JSON columns
as JSON values) and the seed's metafields a loader fills: `metafield_process_id` (given, or the
command's own run id) and `metafield_source_id` (the file the envelope was read from);
`metafield_insert_time` is left to the warehouse's default. Every warehouse bulk-loads JSON
lines by column name: DuckDB `read_json`, Redshift `COPY … FORMAT JSON 'auto'`, Snowflake
`MATCH_BY_COLUMN_NAME`, BigQuery `NEWLINE_DELIMITED_JSON`, PostgreSQL `json_populate_record`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codegen.exports import ExportError
from codegen.exports.warehouse import Table, row, tables
from collector.contracts import Registry


def render(registry: Registry, files: Iterable[Path], process_id: str) -> dict[str, str]:
    """`{"<schema>.<table>.jsonl": rows}` for every envelope in `files`."""
    by_line = {t.line.reference: t for t in tables(registry)}
    out: dict[str, list[str]] = {}
    for path in files:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            envelope = _envelope(path, number, text)
            t = _table(by_line, envelope, f"{path}:{number}")
            values = row(t, envelope) | {"metafield_process_id": process_id, "metafield_source_id": path.name}
            out.setdefault(f"{t.schema}.{t.name}.jsonl", []).append(json.dumps(values, ensure_ascii=False))
    return {name: "\n".join(lines) + "\n" for name, lines in out.items()}


def _envelope(path: Path, number: int, text: str) -> dict[str, Any]:
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}:{number}: not a JSON line ({exc.msg}); pass the good-*.jsonl files") from None
    if not isinstance(envelope, dict) or "error" in envelope or "data" not in envelope:
        raise ExportError(f"{path}:{number}: not a good envelope; pass the good-*.jsonl files, not bad-*")
    return envelope


def _table(by_line: dict[str, Table], envelope: dict[str, Any], where: str) -> Table:
    version = str(envelope.get("version", ""))
    reference = f"{envelope.get('namespace')}/{envelope.get('name')}/{version.split('.')[0]}"
    t = by_line.get(reference)
    if t is None:
        raise ExportError(f"{where}: {envelope.get('schema')!r} is not among the contracts (set --schemas DIR)")
    return t
