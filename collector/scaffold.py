"""`charter new NAMESPACE/NAME`: a first contract with what `charter check` asks of every contract.

The file is `<schemas>/<namespace>/<name>/1.0.0.json`: draft 2020-12, a title and a
description, `x-contract` with the owner (name and email), status `draft`, the topic and
compatibility, and one described, required field to start from. It loads as is, so the next
steps are `charter check` and, once the fields are right, regenerating the SDKs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from collector.cliutil import EXIT_USAGE, schemas_option

FIRST_VERSION = "1.0.0"
TYPES = ("string", "integer", "number", "boolean")
_CONVENTIONAL_NAMESPACE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$")  # what `charter check` expects
_CONVENTIONAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def contract(namespace: str, name: str, owner: str, email: str, description: str, topic: str,
             field: tuple[str, str]) -> dict[str, Any]:  # fmt: skip
    """The body of a new contract's first version."""
    field_name, field_type = field
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": name.replace("_", " ").capitalize(),
        "description": description,
        "type": "object",
        "x-contract": {
            "owner": {"name": owner, "email": email},
            "status": "draft",
            "topic": topic,
            "compatibility": "BACKWARD",
        },
        "required": [field_name],
        "additionalProperties": False,
        "properties": {field_name: {"type": field_type, "description": f"The {field_name.replace('_', ' ')}."}},
    }


def _ref(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, str]:
    namespace, _, name = value.partition("/")
    if not _CONVENTIONAL_NAMESPACE.match(namespace) or not _CONVENTIONAL_NAME.match(name):
        raise click.BadParameter(
            f"{value!r} must be NAMESPACE/NAME: a lower-case reverse-DNS namespace and a snake_case name, "
            "e.g. com.acme.shop/refund"
        )
    return namespace, name


def _field(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, str]:
    name, _, kind = value.partition(":")
    kind = kind or "string"
    if not _CONVENTIONAL_NAME.match(name) or kind not in TYPES:
        raise click.BadParameter(f"{value!r} must be NAME[:TYPE], a snake_case name and one of {', '.join(TYPES)}")
    return name, kind


def _email(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not _EMAIL.match(value):
        raise click.BadParameter(f"{value!r} is not an email address, e.g. commerce@acme.example")
    return value


@click.command("new")
@click.argument("ref", metavar="NAMESPACE/NAME", callback=_ref)
@click.option("--owner", prompt="Owning team", help="The team that answers for the contract.")
@click.option("--email", prompt="Owner's email", callback=_email, help="How to reach the owner.")
@click.option("--description", prompt="What one event means", help="The contract's description.")
@click.option("--topic", default=None, help="Kafka topic for good events [default: events.<namespace>.<name>.v1].")
@click.option("--field", default="id:string", show_default=True, callback=_field, help="First field, NAME[:TYPE].")
@schemas_option
def new_command(ref: tuple[str, str], owner: str, email: str, description: str, topic: str | None,
                field: tuple[str, str], schemas: Path) -> None:  # fmt: skip
    """Write the first version of a new contract, ready for `charter check`.

    Exit 0 when written, 2 on a bad argument or when the contract exists already.
    """
    namespace, name = ref
    where = schemas / namespace / name
    if where.exists():
        click.echo(f"error: {where} exists; add a version there instead (a published version file is immutable)",
                   err=True)  # fmt: skip
        sys.exit(EXIT_USAGE)
    body = contract(namespace, name, owner, email, description, topic or f"events.{namespace}.{name}.v1", field)
    where.mkdir(parents=True)
    path = where / f"{FIRST_VERSION}.json"
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    sdks = "`charter codegen python --out sdks/python`, `charter codegen typescript --out sdks/typescript`"
    click.echo(f"wrote {path}; add its fields, run `charter check --schemas {schemas}`, then regenerate {sdks}")
