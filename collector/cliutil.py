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


def kafka_security_options(func: F) -> F:
    """`--kafka-security-protocol`, `--kafka-sasl-*`, `--kafka-ssl-*`, `--kafka-option` (also CHARTER_KAFKA_*)."""
    path = click.Path(exists=True, dir_okay=False, path_type=Path)
    protocols = click.Choice(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
    mechanisms = click.Choice(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"])
    options: list[tuple[str, dict[str, Any]]] = [
        ("--kafka-security-protocol", {"type": protocols, "default": "PLAINTEXT",
                                       "help": "How to reach Kafka: SASL_SSL for most managed clusters."}),
        ("--kafka-sasl-mechanism", {"type": mechanisms, "help": "SASL mechanism (with SASL_SSL or SASL_PLAINTEXT)."}),
        ("--kafka-sasl-username", {"help": "SASL user (the client id for OAUTHBEARER)."}),
        ("--kafka-sasl-password", {"help": "SASL password (the client secret for OAUTHBEARER); prefer the env var: "
                                           "flags show in `ps`."}),
        ("--kafka-ssl-cafile", {"type": path, "help": "CA bundle (PEM) to trust instead of the system's."}),
        ("--kafka-ssl-certfile", {"type": path, "help": "Client certificate (PEM), for mutual TLS."}),
        ("--kafka-ssl-keyfile", {"type": path, "help": "Client key (PEM), if not in the certfile."}),
        ("--kafka-option", {"multiple": True, "metavar": "KEY=VALUE", "help": "Another producer property, "
                            "Java-style (linger.ms=5); repeatable; in the env var, separated by spaces."}),
    ]  # fmt: skip
    for name, kw in reversed(options):
        dest = "kafka_options" if name == "--kafka-option" else name[2:].replace("-", "_")
        env = "CHARTER_" + name[2:].replace("-", "_").upper()
        func = click.option(name, dest, envvar=env, show_envvar=True, show_default=True, **kw)(func)
    return func


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
