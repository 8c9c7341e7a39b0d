"""`charter` console script: serve, validate. Every flag is also a CHARTER_* env var."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from collector import startup
from collector.cliutil import EXIT_USAGE, load_or_exit
from collector.serve_options import SCHEMAS, serve_options
from collector.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="charter")
def main() -> None:
    """Charter: a contract-powered event collector."""


@main.command()
@serve_options
def serve(**options: Any) -> None:
    """Run the collector (uvicorn)."""
    if options["kafka_compression"] == "none":
        options["kafka_compression"] = None
    options["cors_origins"] = tuple(o.strip() for o in options["cors_origins"].split(",") if o.strip())
    options["record_headers"] = startup.record_headers(options["record_headers"])
    options["allowed_hosts"] = tuple(h.strip() for h in options["allowed_hosts"].split(",") if h.strip())
    options["otlp_endpoint"] = startup.otlp_endpoint(options["otlp_endpoint"])
    options["otlp_interval_ms"] = startup.otlp_interval()
    settings = Settings(**options)
    registry = load_or_exit(settings.schemas)
    startup.check_keys(settings, registry)
    startup.check_auth(settings)
    startup.check_dedupe(settings, registry)
    startup.check_kafka(settings)
    startup.check_data_dir(settings)
    startup.run(settings, registry)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SCHEMAS
@click.option("--json", "as_json", is_flag=True, help="One JSON line per event.")
def validate(file: Path, schemas: Path, as_json: bool) -> None:
    """Validate a JSON array or NDJSON file of events offline, with the server's verdicts.

    Exit 0 if every event is valid, 1 if any is invalid, 2 on usage or contract errors.
    """
    from collector.offline import validate_file

    registry = load_or_exit(schemas)
    sys.exit(validate_file(file, registry, as_json))


@main.group()
def codegen() -> None:
    """Generate a typed tracking SDK from the contracts."""


CODEGEN_EXTRA = "pip install 'charter[codegen]'"


def _needs_extra(command: click.Command, module: str) -> click.Command:
    """Make `command` exit 2 with the install line when `module`, which the `codegen` extra
    brings, is missing: a serve-only install still lists the command and shows its --help."""
    import functools
    import importlib.util

    callback = command.callback
    assert callback is not None

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if importlib.util.find_spec(module) is None:
            path = click.get_current_context().command_path
            click.echo(f"error: `{path}` needs the codegen extra ({module} is missing): {CODEGEN_EXTRA}", err=True)
            sys.exit(EXIT_USAGE)
        return callback(*args, **kwargs)

    command.callback = guarded
    return command


def _attach() -> None:
    from codegen.check.command import check_command
    from codegen.exports.command import docs_command, export_group
    from codegen.imports.command import import_group
    from codegen.python_sdk import python_command
    from codegen.typescript_sdk import typescript_command
    from collector.keys_cli import decrypt, keys
    from collector.scaffold import new_command

    main.add_command(check_command)
    main.add_command(new_command)
    main.add_command(keys)
    main.add_command(decrypt)
    main.add_command(export_group)
    main.add_command(import_group)
    main.add_command(_needs_extra(docs_command, "jinja2"))
    codegen.add_command(_needs_extra(python_command, "datamodel_code_generator"))
    codegen.add_command(typescript_command)


_attach()

if __name__ == "__main__":
    main()
