"""What every `charter` subcommand shares: the --schemas option and loading contracts or exiting 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from collector.contracts import ContractLoadError, Registry, load_registry

EXIT_USAGE = 2
F = TypeVar("F", bound=Callable[..., Any])


def schemas_option(func: F) -> F:
    option: Callable[[F], F] = click.option(
        "--schemas", envvar="CHARTER_SCHEMAS", show_envvar=True, show_default=True,
        type=click.Path(path_type=Path), default=Path("schemas"), help="Contracts directory.",
    )  # fmt: skip
    return option(func)


def load_or_exit(schemas: Path) -> Registry:
    """The contracts under `schemas`, or exit 2 with the loader's message (or none found)."""
    try:
        registry = load_registry(schemas)
    except ContractLoadError as exc:
        click.echo(f"error: cannot load contracts: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if not len(registry):
        click.echo(f"error: no contracts found under {schemas}", err=True)
        sys.exit(EXIT_USAGE)
    return registry
