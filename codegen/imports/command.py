"""`charter import iglu|jsonschema`: click commands the `charter` group attaches.

Each source file prints one progress line; a summary follows. Exit 0 when every file was
imported, unchanged or skipped; 1 when any was refused or conflicts with a published
version (0 with `--keep-going`); 2 when the input cannot be used at all.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from codegen.imports.convert import from_jsonschema
from codegen.imports.iglu import import_iglu, schema_root, sources
from codegen.imports.place import Kind, Outcome, Target, place
from collector.contracts import NAME, NAMESPACE, ContractLoadError, Version, load_registry, read_document

EXIT_REFUSED, EXIT_USAGE = 1, 2
_FAILED: tuple[Kind, ...] = ("conflict", "refused")


def _out(func: Any) -> Any:
    return click.option(
        "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("schemas"), show_default=True,
        help="Contracts directory to write into (<namespace>/<name>/<version>.json).",
    )(func)  # fmt: skip


@click.group("import")
def import_group() -> None:
    """Import schemas you already have as contracts (each with an owner stub to fill in)."""


@import_group.command("iglu")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_out
@click.option("--keep-going", is_flag=True, help="Exit 0 even if some schemas were refused.")
def iglu_command(directory: Path, out: Path, keep_going: bool) -> None:
    """Import an Iglu repository (schemas/<vendor>/<name>/jsonschema/<M-R-A>) as <vendor>/<name>/<M.R.A>."""
    if not sources(schema_root(directory)):
        click.echo(f"error: {directory}: no files (expected schemas/<vendor>/<name>/jsonschema/<M-R-A>)", err=True)
        sys.exit(EXIT_USAGE)
    _finish(_report(import_iglu(directory, out)), out, keep_going)


@import_group.command("jsonschema")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "ref", required=True, metavar="NS/NAME/M.R.A", help="The contract it becomes.")
@_out
def jsonschema_command(file: Path, ref: str, out: Path) -> None:
    """Import one JSON Schema file (JSON or YAML) as the contract NS/NAME/M.R.A, keeping its $schema."""
    target = _target(ref)
    body = _read(file)
    _finish(_report([place(out, target, from_jsonschema(body), str(file))]), out, keep_going=False)


def _target(ref: str) -> Target:
    """The contract `--as` names, checked with the loader's own patterns before anything is written."""
    parts = ref.split("/")
    try:
        if len(parts) != 3:
            raise ValueError(f"{ref!r} is not <namespace>/<name>/<MAJOR.MINOR.PATCH>, e.g. com.acme.shop/payment/1.0.0")
        if not NAMESPACE.match(parts[0]):
            raise ValueError(f"namespace {parts[0]!r} must be dot-separated, e.g. com.acme.shop")
        if not NAME.match(parts[1]):
            raise ValueError(f"name {parts[1]!r} must start with a letter, then letters, digits, _ or -")
        Version.parse(parts[2])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as") from None
    return Target(*parts)


def _read(file: Path) -> dict[str, Any]:
    """The file as the loader reads contracts: YAML for `.yaml`/`.yml`, JSON otherwise."""
    try:
        return read_document(file)
    except ContractLoadError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _report(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """Print a line per outcome as it happens; return them all for the summary."""
    done: list[Outcome] = []
    for o in outcomes:
        what = o.ref or o.source
        detail = f"  ({o.source})" if o.kind == "imported" else f": {o.reason}"
        click.echo(f"{o.kind:<9} {what}{detail}", err=o.kind in _FAILED)
        done.append(o)
    return done


def _finish(outcomes: list[Outcome], out: Path, keep_going: bool) -> None:
    kinds = Counter(o.kind for o in outcomes)
    click.echo(f"{kinds['imported']} imported, {kinds['unchanged']} unchanged, {kinds['skipped']} skipped, "
               f"{kinds['conflict']} conflicting, {kinds['refused']} refused")  # fmt: skip
    summarised: tuple[Kind, ...] = ("skipped", *_FAILED)
    for kind in summarised:
        causes = Counter(o.cause for o in outcomes if o.kind == kind)
        if causes:
            click.echo(f"  {kind}: " + ", ".join(f"{n} {cause}" for cause, n in sorted(causes.items())))
    loads = _loads(out) if kinds["imported"] else True
    failed = any(kinds[k] for k in _FAILED) or not loads
    sys.exit(EXIT_REFUSED if failed and not keep_going else 0)


def _loads(out: Path) -> bool:
    """The whole contracts directory, as `charter serve` would load it."""
    try:
        registry = load_registry(out)
    except ContractLoadError as exc:
        click.echo(f"error: {out} does not load as a whole: {exc}", err=True)
        return False
    click.echo(f"{out}: {len(registry)} contracts load")
    return True
