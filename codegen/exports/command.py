"""`charter export dbt|ddl|asyncapi` and `charter docs`: click commands the `charter` group attaches.

Exit 0 when the files are written, 1 when the contracts load but cannot be exported (the
message names the contract and the fix), 2 when the contracts cannot be loaded at all.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from codegen.check.gitref import GitError
from codegen.exports import ExportError, asyncapi, dbt, ddl, migrate, rows
from collector.cliutil import load_or_exit, schemas_option
from collector.contracts import Registry

EXIT_EXPORT, EXIT_USAGE = 1, 2
F = TypeVar("F", bound=Callable[..., Any])


def _options(func: F) -> F:
    out = click.option(
        "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory to write into."
    )
    return schemas_option(out(func))


def _generate(schemas: Path, out: Path, render: Callable[[Registry], dict[str, str]]) -> None:
    registry = load_or_exit(schemas)
    try:
        files = render(registry)
    except ExportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_EXPORT)
    write(out, files)


def write(out: Path, files: dict[str, str]) -> None:
    """Write each file (UTF-8, `\\n` line ends, whatever the platform) and name it on stdout."""
    for name, text in sorted(files.items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        click.echo(f"wrote {path}")


@click.group("export")
def export_group() -> None:
    """Export warehouse DDL, dbt sources and an AsyncAPI document from the contracts."""


@export_group.command("dbt")
@_options
def dbt_command(schemas: Path, out: Path) -> None:
    """dbt sources.yml: one source per warehouse schema, one table per contract major, with tests."""
    _generate(schemas, out, dbt.render)


@export_group.command("ddl")
@click.option("--dialect", type=click.Choice(ddl.DIALECTS), default="postgres", show_default=True, help="SQL dialect.")
@click.option(
    "--from",
    "from_ref",
    metavar="GIT_REF",
    help="Write <dialect>-migration.sql instead: the ALTER TABLEs from the tables of the contracts at this git ref.",
)
@_options
def ddl_command(dialect: str, from_ref: str | None, schemas: Path, out: Path) -> None:
    """CREATE TABLE per contract major, with the envelope's metadata columns, into <dialect>.sql.

    With --from REF: the migration from the tables of the contracts published at REF (e.g.
    origin/main, a release tag) to the contracts now: new tables, ADD COLUMN, DROP NOT NULL.
    """
    if from_ref is None:
        _generate(schemas, out, lambda registry: ddl.render(registry, dialect))
        return
    try:
        with migrate.published(schemas, from_ref) as before:
            _generate(schemas, out, lambda registry: migrate.render(before, registry, dialect, from_ref))
    except GitError as exc:
        raise click.BadParameter(str(exc), param_hint="'--from'") from None
    except ExportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_EXPORT)


@export_group.command("rows")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--process-id", help="metafield_process_id of every row  [default: a new random id per run]")
@_options
def rows_command(files: tuple[Path, ...], process_id: str | None, schemas: Path, out: Path) -> None:
    """Good envelopes (FILES: the file sink's good-*.jsonl) as table rows, <schema>.<table>.jsonl, for a bulk load."""
    run = process_id or uuid.uuid4().hex  # 32 characters, the seed's varchar(32)
    _generate(schemas, out, lambda registry: rows.render(registry, files, run))


@export_group.command("asyncapi")
@_options
def asyncapi_command(schemas: Path, out: Path) -> None:
    """AsyncAPI 3.0 asyncapi.yaml: every topic, its messages and the dead-letter topics."""
    _generate(schemas, out, asyncapi.render)


@click.command("docs")
@_options
def docs_command(schemas: Path, out: Path) -> None:
    """Static HTML catalog of the contracts (index.html, style.css, search.js), with search."""
    from codegen.exports import docs  # jinja2 comes with charter[codegen]; `serve` must start without it

    _generate(schemas, out, docs.render)
