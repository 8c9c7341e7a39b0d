"""`charter validate FILE`: the server's verdicts, offline, over a JSON array or NDJSON file."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec

from collector.annotate import Source, now_rfc3339
from collector.contracts import Registry
from collector.decode import BodyError, split_events
from collector.dedupe import Deduper
from collector.pipeline import Context, process


class _Verdict(msgspec.Struct, omit_defaults=True):
    index: int
    valid: bool
    error: dict[str, object] | None = None


def validate_file(path: Path, registry: Registry, as_json: bool) -> int:
    """Print a verdict per event; return the exit code (0 all valid, 1 any invalid, 2 unusable)."""
    body = path.read_bytes()
    ndjson = path.suffix in (".ndjson", ".jsonl") or not body.lstrip().startswith(b"[")
    items = split_events(body, "application/x-ndjson" if ndjson else "application/json", max_events=2**31)
    if isinstance(items, BodyError):
        click.echo(f"error: {path}: {items.message}", err=True)
        return 2
    outcome = process(items, registry, Context(now_rfc3339(), Source(), dedupe=Deduper(max_keys=len(items) + 1)))
    rejected = {r.index: r for r in outcome.rejections}
    for i in range(len(items)):
        r = rejected.get(i)
        if as_json:
            error = None if r is None else {"type": r.type.value, "resolution": r.type.resolution,
                                            "failures": msgspec.to_builtins(r.failures)}  # fmt: skip
            click.echo(msgspec.json.encode(_Verdict(i, r is None, error)).decode())
        elif r is not None:
            for f in r.failures:
                click.echo(f"event {i + 1}: {r.type.value}: {f.path}: {f.keyword}: {f.message}")  # counted from 1
    if not as_json:
        click.echo(f"{len(items) - len(rejected)} valid, {len(rejected)} invalid", err=True)
    return 1 if rejected else 0
