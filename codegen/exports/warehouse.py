"""The warehouse table of each contract major: the model both the DDL and the dbt sources render.

One table per contract major (`codegen.model.Line`), because a major is where the collector
promises compatible data: every version of the major lands in the same table. So its data
columns are the union of the top-level fields of those versions (the newest definition wins),
a column is NOT NULL only if every version requires it and none allows null, and an enum
accepts the values of any version.

Before the data columns come the envelope's metadata columns, which tell where a row came
from: the event id, the exact contract version, when it was sent and collected, its
fingerprint and its source. After them come the seed contract template's three metafields,
which the loader fills (they are in no envelope): `metafield_insert_time` (the warehouse's
clock at insert), `metafield_process_id` (the ELT run that inserted the row) and
`metafield_source_id` (where it read the row: the Kafka topic, a file, a bucket).

A table is an append-only landing table: a redelivered event (Kafka is at-least-once, and a
client may send the same id twice) is a second row, which the dbt staging model drops. So no
table declares a primary key (Redshift, Snowflake and BigQuery would not enforce it, and their
planners trust it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codegen.exports import ExportError
from codegen.exports.fields import Field, top_level
from codegen.model import Line, lines
from collector.contracts import Registry

SIMPLE = re.compile(r"^[a-z_][a-z0-9_]*$")
# Reserved in PostgreSQL, Snowflake or BigQuery: such names are quoted wherever a dialect lets
# unquoted names through (Snowflake DDL, dbt tests).
RESERVED = frozenset(
    [
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "assert_rows_modified", "asymmetric", "at",
        "authorization", "between", "binary", "both", "by", "case", "cast", "check", "collate", "collation",
        "column", "connect", "connection", "constraint", "contains", "create", "cross", "cube", "current",
        "current_catalog", "current_date", "current_role", "current_schema", "current_time", "current_timestamp",
        "current_user", "database", "default", "deferrable", "define", "delete", "desc", "distinct", "do", "drop",
        "else", "end", "enum", "escape", "except", "exclude", "exists", "extract", "false", "fetch", "following",
        "for", "foreign", "freeze", "from", "full", "grant", "group", "grouping", "groups", "gscluster", "hash",
        "having", "if", "ignore", "ilike", "in", "increment", "initially", "inner", "insert", "intersect",
        "interval", "into", "is", "isnull", "issue", "join", "lateral", "leading", "left", "like", "limit",
        "localtime", "localtimestamp", "lookup", "merge", "minus", "natural", "new", "no", "not", "notnull", "null",
        "nulls", "of", "offset", "on", "only", "or", "order", "organization", "outer", "over", "overlaps",
        "partition", "placing", "preceding", "primary", "proto", "qualify", "range", "recursive", "references",
        "regexp", "respect", "returning", "revoke", "right", "rlike", "rollup", "row", "rows", "sample", "schema",
        "select", "session_user", "set", "similar", "some", "start", "struct", "symmetric", "system_user", "table",
        "tablesample", "then", "to", "trailing", "treat", "trigger", "true", "try_cast", "unbounded", "union",
        "unique", "unnest", "update", "user", "using", "values", "variadic", "verbose", "view", "when", "whenever",
        "where", "window", "with", "within",
    ]
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str  # text | integer | number | boolean | timestamp | date | uuid | json
    nullable: bool
    description: str
    source: tuple[str, ...]  # where the value is in the good envelope: ("data", "amount")
    max_length: int | None = None
    enum: tuple[Any, ...] | None = None
    pii: str | None = None
    classification: str | None = None
    default_now: bool = False  # filled by the warehouse when the row is loaded

    @property
    def loader(self) -> bool:
        """Filled by the loader or the warehouse, not read from the envelope."""
        return not self.source

    @property
    def quoted(self) -> bool:
        """Whether a dialect that accepts bare names still needs this one quoted."""
        return needs_quotes(self.name)


def needs_quotes(name: str) -> bool:
    return not SIMPLE.match(name) or name in RESERVED


METADATA = (
    Column("event_id", "text", False, "Event id: the client's `id`, else a UUIDv7 made by the collector.", ("id",),
           max_length=128),
    Column("schema", "text", False, "Exact contract version the event was validated against, "
           "`<namespace>/<name>/<version>`.", ("schema",)),
    Column("version", "text", False, "Contract version (`MAJOR.MINOR.PATCH`) of this row.", ("version",),
           max_length=64),
    Column("collected_at", "timestamp", False, "When the collector received the event (collector clock, UTC).",
           ("collected_at",)),
    Column("sent_at", "timestamp", True, "When the client sent the event (client clock), if it said.", ("sent_at",)),
    Column("fingerprint", "text", False, "Hash of the contract and the canonical data: retries and duplicates "
           "share it.", ("fingerprint",), max_length=32),
    Column("source_ip", "text", True, "IP address the event came from.", ("source", "ip"), max_length=45),
    Column("user_agent", "text", True, "User-Agent of the client that sent the event.", ("source", "user_agent")),
    Column("collector_host", "text", False, "Host name of the collector that accepted the event.",
           ("collector", "host"), max_length=255),
    Column("flags", "json", True, "Names of the contract's `flag` rules this event broke, if any.", ("flags",)),
)  # fmt: skip
# The seed template's metafields, last, as it shows them; longer than its varchar(32): a run id is often a
# UUID (36), and Kafka topic names reach 249 characters.
METAFIELDS = (
    Column("metafield_insert_time", "timestamp", False, "Time that the row was inserted into the warehouse table.",
           (), default_now=True),
    Column("metafield_process_id", "text", True, "The ELT process that inserted the row.", (), max_length=64),
    Column("metafield_source_id", "text", True, "The name of the source of the data (a Kafka topic, an S3 bucket "
           "or an API endpoint).", (), max_length=249),
)  # fmt: skip
_METADATA_NAMES = {c.name for c in METADATA + METAFIELDS}


# Redshift's column compression encodings (CREATE TABLE … ENCODE)
REDSHIFT_ENCODINGS = frozenset(
    {"RAW", "AZ64", "BYTEDICT", "DELTA", "DELTA32K", "LZO", "MOSTLY8", "MOSTLY16", "MOSTLY32", "RUNLENGTH",
     "TEXT255", "TEXT32K", "ZSTD"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Table:
    line: Line
    schema: str
    name: str
    description: str
    columns: tuple[Column, ...]
    dist_key: str | None
    sort_key: str | None
    encode: dict[str, str]  # x-contract.warehouse.encode: column → Redshift ENCODE, checked here

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def tables(registry: Registry) -> list[Table]:
    """One table per contract major; two majors that would share a table are refused."""
    out = [table(line) for line in lines(registry)]
    seen: dict[tuple[str, str], Table] = {}
    for t in out:
        other = seen.setdefault((t.schema, t.name), t)
        if other is not t:
            raise ExportError(
                f"{t.line.reference} and {other.line.reference} both land in table {t.schema}.{t.name}; "
                f"give each major its own x-contract.warehouse.table (e.g. {t.line.name}_v{t.line.major})"
            )
    return out


def table(line: Line) -> Table:
    c = line.contract
    wh = c.meta.warehouse
    schema = (wh.schema if wh else None) or re.sub(r"[^a-z0-9_]", "_", c.namespace)
    name = (wh.table if wh else None) or f"{c.name}_v{line.major}"
    columns = METADATA + tuple(_data_columns(line)) + METAFIELDS
    names = {col.name for col in columns}
    for key in ("dist_key", "sort_key"):
        value = getattr(wh, key) if wh else None
        if value is not None and value not in names:
            raise ExportError(
                f"{c.file}: x-contract.warehouse.{key} {value!r} is not a top-level field or metadata column "
                f"of {line.reference}"
            )
    encode = {column: value.upper() for column, value in (wh.encode if wh else {}).items()}
    for column, value in encode.items():
        if column not in names:
            raise ExportError(
                f"{c.file}: x-contract.warehouse.encode names {column!r}, not a column of {line.reference}"
            )
        if value not in REDSHIFT_ENCODINGS:
            known = ", ".join(sorted(REDSHIFT_ENCODINGS))
            raise ExportError(
                f"{c.file}: x-contract.warehouse.encode.{column}: {value!r} is not a Redshift encoding ({known})"
            )
    title = c.schema.get("title") or c.name
    owner = c.meta.owner.name + (f" <{c.meta.owner.email}>" if c.meta.owner.email else "")
    description = (
        f"{title}: {c.schema.get('description', '').strip()} Contract {line.reference} "
        f"(versions {', '.join(v.version_str for v in line.versions)}), topic {c.topic}, owner {owner}."
    )
    dist_key, sort_key = (wh.dist_key, wh.sort_key) if wh else (None, None)
    return Table(line, schema, name, description, columns, dist_key, sort_key, encode)


def _data_columns(line: Line) -> list[Column]:
    merged: dict[str, list[Field]] = {}
    for contract in reversed(line.versions):  # newest first: its order and definitions win
        for f in top_level(contract):
            merged.setdefault(f.name, []).append(f)
    columns = []
    for name, versions in merged.items():
        if name in _METADATA_NAMES:
            raise ExportError(
                f"{line.contract.file}: field {name!r} has the name of an envelope metadata column; "
                f"rename it in a new major (metadata: {', '.join(sorted(_METADATA_NAMES))})"
            )
        always = len(versions) == len(line.versions) and all(f.required and not f.nullable for f in versions)
        columns.append(_column(versions, nullable=not always))
    return columns


def _union(enums: list[tuple[Any, ...] | None]) -> tuple[Any, ...] | None:
    """The values of every version's enum, in order, once each; None (no check) for values a
    column check cannot hold (arrays, objects)."""
    values = [x for e in enums for x in e or ()]
    if any(isinstance(x, dict | list) for x in values):
        return None
    return tuple(dict.fromkeys(values))


def _column(versions: list[Field], nullable: bool) -> Column:
    f = versions[0]
    kind, max_length = _kind(f), dict(f.constraints).get("maxLength")
    enums = [v.enum for v in versions]
    enum = None if any(e is None for e in enums) else _union(enums)
    protected = f.pii not in (None, "none")
    if protected and kind != "json":
        # hashed, encrypted or redacted values are strings of their own length, whatever the field was
        kind, max_length, enum = "text", None, None
    if kind != "text":
        max_length = None
    description = f.description + (f" (x-pii: {f.pii})" if protected else "")
    return Column(f.name, kind, nullable, description, ("data", f.name), max_length, enum, f.pii, f.classification)


def _kind(f: Field) -> str:
    if f.kind == "string":
        return {"date-time": "timestamp", "date": "date", "uuid": "uuid"}.get(f.format or "", "text")
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(f.kind, "json")


def row(table: Table, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The column values of one good envelope (JSON columns hold the decoded JSON value); the
    metafields are the loader's to add."""
    out: dict[str, Any] = {}
    for col in table.columns:
        if col.loader:
            continue
        value: Any = envelope
        for step in col.source:
            value = value.get(step) if isinstance(value, Mapping) else None
        out[col.name] = value
    return out
