"""Build contracts and schema trees inline, and run `charter check` on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from codegen.check.command import check_command

OWNER = {"name": "Data Engineering Team", "email": "data-eng@museum.org"}
REF = "org.example.shop/order"


def contract(
    properties: dict[str, Any], *, required: tuple[str, ...] = (), closed: bool = True, **extra: Any
) -> dict[str, Any]:
    """A contract body whose fields all have descriptions (so only what a test changes differs)."""
    meta = {"owner": OWNER, **extra.pop("meta", {})}
    body: dict[str, Any] = {"description": "An order.", "type": "object", "x-contract": meta, **extra}
    body["properties"] = {name: {"description": f"The {name}.", **schema} for name, schema in properties.items()}
    if required:
        body["required"] = list(required)
    if closed:
        body["additionalProperties"] = False
    return body


def write(root: Path, version: str, body: dict[str, Any] | str, ref: str = REF) -> Path:
    path = root / ref / (version if version.endswith((".json", ".yaml", ".yml")) else f"{version}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if isinstance(body, str) else json.dumps(body, indent=2) + "\n")
    return path


def check(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(check_command, ["--schemas", str(root), *args], env=env)


def report(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Exit code and the json report."""
    result = check(root, "--format", "json", *args)
    return result.exit_code, json.loads(result.output)


def codes(doc: dict[str, Any], level: str = "error") -> list[str]:
    return [f["code"] for f in doc["findings"] if f["level"] == level]
