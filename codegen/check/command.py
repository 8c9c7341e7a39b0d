"""`charter check`: the CI gate for contracts. Attached to the `charter` group in collector/cli.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from codegen.check.gitref import GitError
from codegen.check.report import FORMATS, render
from codegen.check.run import run_check

EXIT_OK, EXIT_VIOLATIONS = 0, 1


@click.command("check")
@click.option(
    "--schemas",
    envvar="CHARTER_SCHEMAS",
    show_envvar=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("schemas"),
    show_default=True,
    help="Contracts directory.",
)
@click.option(
    "--against",
    metavar="GIT_REF",
    envvar="CHARTER_CHECK_AGAINST",
    show_envvar=True,
    help="Also check against the contracts published at this git ref (e.g. origin/main).",
)
@click.option(
    "--format",
    "fmt",
    envvar="CHARTER_CHECK_FORMAT",
    show_envvar=True,
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text (a terminal), json, github (annotations) or markdown (a pull-request comment).",
)
@click.option(
    "--suggest-version",
    is_flag=True,
    envvar="CHARTER_CHECK_SUGGEST_VERSION",
    show_envvar=True,
    help="Print the version each changed contract should carry.",
)
@click.option(
    "--allow-mode-change",
    is_flag=True,
    envvar="CHARTER_CHECK_ALLOW_MODE_CHANGE",
    show_envvar=True,
    help="Accept a change of x-contract.compatibility within a major (reported as a warning, not an error).",
)
def check_command(schemas: Path, against: str | None, fmt: str, suggest_version: bool, allow_mode_change: bool) -> None:
    """Lint contracts and prove each version bump is right (PATCH docs, MINOR compatible, MAJOR breaking).

    Exit 0 when clean, 1 on violations, 2 on a usage error (bad flag, unknown git ref,
    schemas directory missing or empty).
    """
    try:
        result = run_check(schemas, against, allow_mode_change)
    except GitError as exc:
        raise click.BadParameter(str(exc), param_hint="'--against'") from None
    if not result.versions and against is None:
        raise click.UsageError(f"no contracts found under {schemas}")
    title = f"charter check: {schemas}" + (f" against {against}" if against else "")
    if allow_mode_change:
        title += " (--allow-mode-change)"
    click.echo(render(result, fmt, suggest_version, title), nl=False)
    sys.exit(EXIT_OK if result.ok else EXIT_VIOLATIONS)
